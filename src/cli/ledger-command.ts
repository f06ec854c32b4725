import type { Command } from '@oclif/core'
import type { LedgerAccess } from '../ledger-access/types.js'
import { BaseCommand } from './base.js'
import { networkFlags, openLedger, pickNetworkSource, type NetworkFlagValues } from './network.js'

/** What a write's --json result says: a peer confirmed it (--wait, the default), or it was only announced (--no-wait). */
export type WriteState = 'confirmed' | 'announced'

/** A command that reaches the ledger by token or API, and always lets go of it. */
export abstract class LedgerCommand<T extends typeof Command> extends BaseCommand<T> {
  static override flags = { ...networkFlags }

  override async init(): Promise<void> {
    await super.init()
    pickNetworkSource(this.flags as NetworkFlagValues, this.argv)
  }

  protected async withLedger<R>(fn: (access: LedgerAccess) => Promise<R>): Promise<R> {
    const access = await openLedger(this.flags as NetworkFlagValues, (line) => this.progress(line))
    this.clearProgress()
    try {
      return await fn(access)
    } finally {
      await access.close().catch(() => {})
    }
  }
}
