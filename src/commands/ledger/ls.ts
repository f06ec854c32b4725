import { Args, Flags } from '@oclif/core'
import { LedgerCommand } from '../../cli/ledger-command.js'
import { parseData, showData } from '../../cli/ledger-values.js'
import { clip, table } from '../../cli/table.js'
import { UserError } from '../../errors.js'

export default class LedgerLs extends LedgerCommand<typeof LedgerLs> {
  static override summary = 'List the ledger buckets, or the keys of one bucket'
  static override examples = [
    '<%= config.bin %> ledger ls --network-token "$TOKEN"',
    '<%= config.bin %> ledger ls kairos --network-token "$TOKEN" --verbose',
    '<%= config.bin %> ledger ls machines --api http://127.0.0.1:8080 --json',
  ]
  static override args = { bucket: Args.string({ description: 'Bucket to list' }) }
  static override flags = {
    ...LedgerCommand.flags,
    verbose: Flags.boolean({ char: 'v', description: 'Show owner, version and update time of signed entries' }),
  }

  async run(): Promise<void> {
    const { bucket } = this.args
    await this.withLedger(async (access) => {
      const data = await access.data()
      if (bucket === undefined) {
        const names = Object.keys(data).sort()
        if (this.flags.json) return this.printJson(Object.fromEntries(names.map((b) => [b, Object.keys(data[b]).length])))
        if (names.length === 0) return void process.stdout.write(`the ledger is empty (reached through ${access.describe()})\n`)
        return void process.stdout.write(table(['BUCKET', 'KEYS'], names.map((b) => [b, String(Object.keys(data[b]).length)])))
      }
      const keys = data[bucket]
      if (!keys) {
        const known = Object.keys(data).sort()
        throw new UserError(`bucket ${bucket} is not in the ledger`, {
          hint: known.length ? `buckets: ${known.join(', ')}` : 'the ledger is empty',
        })
      }
      const names = Object.keys(keys).sort()
      if (this.flags.verbose && access.entries) {
        const entries = await access.entries(bucket)
        if (this.flags.json) {
          return this.printJson(entries.map((e) => ({ ...e, value: parseData(e.value), version: e.version?.toString(), updatedAt: e.updatedAt?.toISOString() })))
        }
        return void process.stdout.write(
          table(
            ['KEY', 'VALUE', 'OWNER', 'VERSION', 'UPDATED'],
            entries.map((e) => [e.key, clip(showData(e.value, false), 40), e.signed ? e.owner! : '(unsigned)', e.version?.toString() ?? '', e.updatedAt?.toISOString() ?? '']),
          ),
        )
      }
      if (this.flags.json) return this.printJson(Object.fromEntries(names.map((k) => [k, parseData(keys[k])])))
      process.stdout.write(table(['KEY', 'VALUE'], names.map((k) => [k, clip(showData(keys[k], false))])))
    })
  }
}
