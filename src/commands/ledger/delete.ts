import { Args, Flags } from '@oclif/core'
import { LedgerCommand, type WriteState } from '../../cli/ledger-command.js'
import { UserError } from '../../errors.js'

/** What `ledger delete --json` prints. */
export interface LedgerDeleteJson {
  bucket: string
  /** null when the whole bucket was deleted. */
  key: string | null
  state: WriteState
}

export default class LedgerDelete extends LedgerCommand<typeof LedgerDelete> {
  static override summary = 'Delete a ledger key, or a whole bucket'
  static override examples = ['<%= config.bin %> ledger delete mybucket greeting --network-token "$TOKEN"', '<%= config.bin %> ledger delete mybucket --network-token "$TOKEN"']
  static override args = {
    bucket: Args.string({ description: 'Bucket', required: true }),
    key: Args.string({ description: 'Key (omit to delete every key of the bucket)' }),
  }
  static override flags = {
    ...LedgerCommand.flags,
    wait: Flags.boolean({ description: 'Wait until another peer confirms the change', default: true, allowNo: true }),
  }

  async run(): Promise<void> {
    const { bucket, key } = this.args
    const what = key === undefined ? `bucket ${bucket}` : `${bucket}/${key}`
    await this.withLedger(async (access) => {
      const data = await access.data()
      if (key === undefined ? !data[bucket] : data[bucket]?.[key] === undefined) {
        throw new UserError(`${what} is not in the ledger`, { hint: `see 'kairosctl ledger ls${key === undefined ? '' : ' ' + bucket}'` })
      }
      this.progress(`announcing the deletion of ${what}…`)
      await access.delete(bucket, key, { confirm: this.flags.wait, timeoutMs: this.flags.timeout * 1000 })
      this.clearProgress()
      if (this.flags.json) return this.printJson<LedgerDeleteJson>({ bucket, key: key ?? null, state: this.flags.wait ? 'confirmed' : 'announced' })
      process.stdout.write(`deleted ${what} (${this.flags.wait ? 'confirmed by' : 'announced to'} the ${access.describe()})\n`)
    })
  }
}
