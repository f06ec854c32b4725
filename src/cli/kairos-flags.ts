import { Flags } from '@oclif/core'
import { DEFAULT_NETWORK_ID } from '../kairos/layout.js'

/** The Kairos network id: the ledger bucket that holds the cluster's state. */
export const networkIdFlag = Flags.string({
  description: 'Kairos network id (the ledger bucket of the cluster)',
  env: 'EDGEVPN_NETWORK_ID',
  default: DEFAULT_NETWORK_ID,
})
