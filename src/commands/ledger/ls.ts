import { Args, Flags } from '@oclif/core'
import { LedgerCommand } from '../../cli/ledger-command.js'
import { cellValue } from '../../cli/ledger-values.js'
import type { EntryInfo } from '../../ledger-access/types.js'
import { readValue, type ReadValue } from '../../ledger/readable.js'
import { table } from '../../cli/table.js'
import { UserError } from '../../errors.js'

/** What `ledger ls --json` prints without a bucket: bucket → number of keys. */
export type LedgerLsBucketsJson = Record<string, number>

/** What `ledger ls BUCKET --json` prints: key → value as read. */
export type LedgerLsKeysJson = Record<string, unknown>

/** An entry of what `ledger ls BUCKET --verbose --json` prints (when the source knows ownership). */
export interface LedgerLsEntryJson extends Omit<EntryInfo, 'value' | 'version' | 'updatedAt'>, ReadValue {
  /** Decimal text (uint64). */
  version: string | undefined
  /** ISO 8601. */
  updatedAt: string | undefined
}

export default class LedgerLs extends LedgerCommand<typeof LedgerLs> {
  static override summary = 'List the ledger buckets, or the keys of one bucket'
  static override description =
    'Values stored the way EdgeVPN\'s Go client stores them (base64 of JSON, as Kairos writes) are shown decoded and marked "(decoded)"; --raw shows the stored text. On a terminal long values are cut to fit a table cell (--no-truncate to see them whole); piped output is never cut.'
  static override examples = [
    '<%= config.bin %> ledger ls --network-token "$TOKEN"',
    '<%= config.bin %> ledger ls kairos --network-token "$TOKEN" --verbose',
    '<%= config.bin %> ledger ls machines --api http://127.0.0.1:8080 --json',
  ]
  static override args = { bucket: Args.string({ description: 'Bucket to list' }) }
  static override flags = {
    ...LedgerCommand.flags,
    verbose: Flags.boolean({ char: 'v', description: 'Show owner, version and update time of signed entries; with --network-token, also log each step of joining on stderr' }),
    raw: Flags.boolean({ description: 'Show the stored JSON text of each value, without decoding' }),
    truncate: Flags.boolean({ description: 'Cut long values to fit a table cell [default: on a terminal]', allowNo: true }),
  }

  async run(): Promise<void> {
    const { bucket } = this.args
    const cut = (this.flags.truncate ?? process.stdout.isTTY === true) ? (n: number) => n : () => Infinity
    const read = (text: string) => readValue(text, this.flags.raw)
    await this.withLedger(async (access) => {
      const data = await access.data()
      if (bucket === undefined) {
        const names = Object.keys(data).sort()
        if (this.flags.json) return this.printJson<LedgerLsBucketsJson>(Object.fromEntries(names.map((b) => [b, Object.keys(data[b]).length])))
        if (names.length === 0) return void process.stdout.write(`the ledger is empty (reached through ${access.describe()})\n`)
        return void process.stdout.write(
          table(
            ['BUCKET', 'KEYS'],
            names.map((b) => [b, String(Object.keys(data[b]).length)]),
          ),
        )
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
          return this.printJson<LedgerLsEntryJson[]>(entries.map((e) => ({ ...e, ...read(e.value), version: e.version?.toString(), updatedAt: e.updatedAt?.toISOString() })))
        }
        return void process.stdout.write(
          table(
            ['KEY', 'VALUE', 'OWNER', 'VERSION', 'UPDATED'],
            entries.map((e) => [e.key, cellValue(read(e.value), cut(40)), e.signed ? e.owner! : '(unsigned)', e.version?.toString() ?? '', e.updatedAt?.toISOString() ?? '']),
          ),
        )
      }
      if (this.flags.json) return this.printJson<LedgerLsKeysJson>(Object.fromEntries(names.map((k) => [k, read(keys[k]).value])))
      process.stdout.write(
        table(
          ['KEY', 'VALUE'],
          names.map((k) => [k, cellValue(read(keys[k]), cut(60))]),
        ),
      )
    })
  }
}
