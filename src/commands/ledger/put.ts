import { Args, Flags } from '@oclif/core'
import { LedgerCommand, type WriteState } from '../../cli/ledger-command.js'
import { encodeValue } from '../../kairos/layout.js'

/** What `ledger put --json` prints. */
export interface LedgerPutJson {
  bucket: string
  key: string
  /** The value as given (before --encode). */
  value: string
  encoded: boolean
  state: WriteState
  /** How the ledger was reached, as LedgerAccess.describe() says it. */
  via: string
}

export default class LedgerPut extends LedgerCommand<typeof LedgerPut> {
  static override summary = 'Store a string value under a ledger key'
  static override description =
    "The value is stored as EdgeVPN's API stores it (a JSON string). With --encode it is stored as EdgeVPN's Go client Put stores a string (base64 of its JSON, inside a JSON string), which is how Kairos writes and reads its values. Through --network-token the change is announced until another peer is seen holding it, or --timeout passes."
  static override examples = [
    '<%= config.bin %> ledger put mybucket greeting hello --network-token "$TOKEN"',
    '<%= config.bin %> ledger put kairos ip-master 10.1.0.1 --encode --network-token "$TOKEN"',
  ]
  static override args = {
    bucket: Args.string({ description: 'Bucket', required: true }),
    key: Args.string({ description: 'Key', required: true }),
    value: Args.string({ description: 'Value', required: true }),
  }
  static override flags = {
    ...LedgerCommand.flags,
    encode: Flags.boolean({ description: "Store the value as EdgeVPN's Go client does (base64 of JSON), for Go readers and Kairos" }),
    wait: Flags.boolean({ description: 'Wait until another peer confirms the change', default: true, allowNo: true }),
  }

  async run(): Promise<void> {
    const { bucket, key, value } = this.args
    await this.withLedger(async (access) => {
      this.progress(`announcing ${bucket}/${key}…`)
      await access.put(bucket, key, this.flags.encode ? encodeValue(value) : value, { confirm: this.flags.wait, timeoutMs: this.flags.timeout * 1000 })
      this.clearProgress()
      if (this.flags.json) return this.printJson<LedgerPutJson>({ bucket, key, value, encoded: this.flags.encode, state: this.flags.wait ? 'confirmed' : 'announced', via: access.describe() })
      process.stdout.write(`stored ${bucket}/${key} (${this.flags.wait ? 'confirmed by' : 'announced to'} the ${access.describe()})\n`)
    })
  }
}
