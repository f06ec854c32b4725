import { Args, Flags } from '@oclif/core'
import { LedgerCommand } from '../../cli/ledger-command.js'
import { readValue, showValue, type ReadValue } from '../../ledger/readable.js'
import { UserError } from '../../errors.js'

/** What `ledger get --json` prints: the key and its value as read. */
export interface LedgerGetJson extends ReadValue {
  bucket: string
  key: string
}

export default class LedgerGet extends LedgerCommand<typeof LedgerGet> {
  static override summary = 'Print the value of a ledger key'
  static override description =
    "A value stored the way EdgeVPN's Go client stores it (base64 of JSON, as Kairos writes) is printed decoded, with a note on stderr; a string is printed as its content, anything else as indented JSON. --raw prints the stored text exactly; --json gives both (value and raw)."
  static override examples = ['<%= config.bin %> ledger get machines 10.1.0.1 --network-token "$TOKEN"', '<%= config.bin %> ledger get kairos ip-master --api unix:///run/edgevpn-kairos.sock --raw']
  static override args = {
    bucket: Args.string({ description: 'Bucket', required: true }),
    key: Args.string({ description: 'Key', required: true }),
  }
  static override flags = {
    ...LedgerCommand.flags,
    raw: Flags.boolean({ description: 'Print the stored JSON text exactly, without decoding' }),
  }

  async run(): Promise<void> {
    const { bucket, key } = this.args
    await this.withLedger(async (access) => {
      const stored = await access.get(bucket, key)
      if (stored === undefined) {
        throw new UserError(`key ${key} is not in bucket ${bucket}`, { hint: `list the bucket with 'kairosctl ledger ls ${bucket}'` })
      }
      const v = readValue(stored, this.flags.raw)
      if (this.flags.json) return this.printJson<LedgerGetJson>({ bucket, key, ...v })
      if (this.flags.raw) return void process.stdout.write(stored + '\n')
      if (v.decoded) process.stderr.write("note: decoded from base64 of JSON, as EdgeVPN's Go client stores values (--raw prints the stored text)\n")
      process.stdout.write(showValue(v) + '\n')
    })
  }
}
