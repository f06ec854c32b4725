import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.js'
import { intervalArg, tokenFromInput, tokenShapeFlags } from '../cli/token-flags.js'
import { generatedTokenReport, generatedTokenText, type GeneratedTokenJson } from '../cli/token-output.js'

export default class GenerateToken extends BaseCommand<typeof GenerateToken> {
  static override summary = 'Generate a new network token'
  static override description =
    'Prints a base64 EdgeVPN network token to put in the p2p.network_token of a Kairos cloud-config. Without INTERVAL the token never rotates (interval 9223372036854775807), as with the Go kairosctl.'
  static override examples = ['<%= config.bin %> generate-token', '<%= config.bin %> generate-token 9000', '<%= config.bin %> generate-token --yaml']
  static override args = { interval: intervalArg }
  static override flags = {
    ...tokenShapeFlags,
    yaml: Flags.boolean({ description: 'Print the decoded YAML instead of the base64 token', default: false }),
  }

  async run(): Promise<void> {
    const token = tokenFromInput(this.args.interval, this.flags['key-length'], this.flags['max-message-size'])
    if (this.flags.json) return this.printJson<GeneratedTokenJson>(generatedTokenReport(token, this.flags['key-length']))
    process.stdout.write(generatedTokenText(token, this.flags.yaml))
  }
}
