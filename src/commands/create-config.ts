import { BaseCommand } from '../cli/base.js'
import { intervalArg, tokenFromInput, tokenShapeFlags } from './generate-token.js'

/** The cloud-config the Go kairosctl prints: a header, a blank line, then yaml.v3 output (4-space indent). */
export function cloudConfig(tokenBase64: string): string {
  return `#cloud-config\n\np2p:\n    network_token: ${tokenBase64}\n`
}

/** What `create-config --json` prints. */
export interface CreateConfigJson {
  /** The cloud-config text. */
  config: string
  token: string
  /** The OTP interval in seconds (decimal text: it can be MaxInt64). */
  interval: string
}

export default class CreateConfig extends BaseCommand<typeof CreateConfig> {
  static override summary = 'Print a cloud-config with a new network token'
  static override description =
    'Prints a minimal Kairos cloud-config whose p2p.network_token is a freshly generated token. Without INTERVAL the token never rotates, as with the Go kairosctl.'
  static override examples = ['<%= config.bin %> create-config > config.yaml', '<%= config.bin %> create-config 9000']
  static override args = { interval: intervalArg }
  static override flags = { ...tokenShapeFlags }

  async run(): Promise<void> {
    const token = tokenFromInput(this.args.interval, this.flags['key-length'], this.flags['max-message-size'])
    const config = cloudConfig(token.base64)
    if (this.flags.json) {
      this.printJson<CreateConfigJson>({ config, token: token.base64, interval: token.otp.crypto.interval.toString() })
      return
    }
    process.stdout.write(config)
  }
}
