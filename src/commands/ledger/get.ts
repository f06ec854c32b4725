import { Args, Flags } from '@oclif/core'
import { LedgerCommand } from '../../cli/ledger-command.js'
import { parseData, showData } from '../../cli/ledger-values.js'
import { UserError } from '../../errors.js'

export default class LedgerGet extends LedgerCommand<typeof LedgerGet> {
  static override summary = 'Print the value of a ledger key'
  static override examples = [
    '<%= config.bin %> ledger get machines 10.1.0.1 --network-token "$TOKEN"',
    '<%= config.bin %> ledger get kairos ip-master --api unix:///run/edgevpn-kairos.sock --raw',
  ]
  static override args = {
    bucket: Args.string({ description: 'Bucket', required: true }),
    key: Args.string({ description: 'Key', required: true }),
  }
  static override flags = {
    ...LedgerCommand.flags,
    raw: Flags.boolean({ description: 'Print the stored JSON text as is' }),
  }

  async run(): Promise<void> {
    const { bucket, key } = this.args
    await this.withLedger(async (access) => {
      const value = await access.get(bucket, key)
      if (value === undefined) {
        throw new UserError(`key ${key} is not in bucket ${bucket}`, { hint: `list the bucket with 'kairosctl ledger ls ${bucket}'` })
      }
      if (this.flags.json) return this.printJson({ bucket, key, value: parseData(value), raw: value })
      process.stdout.write((this.flags.raw ? value : showData(value)) + '\n')
    })
  }
}
