import { BaseCommand } from '../cli/base.js'
import { cloudConfig, cloudConfigReport, type CreateConfigJson } from '../cli/token-output.js'
import { intervalArg, tokenFromInput, tokenShapeFlags } from '../cli/token-flags.js'

export default class CreateConfig extends BaseCommand<typeof CreateConfig> {
  static override summary = 'Print a cloud-config with a new network token'
  static override description = 'Prints a minimal Kairos cloud-config whose p2p.network_token is a freshly generated token. Without INTERVAL the token never rotates, as with the Go kairosctl.'
  static override examples = ['<%= config.bin %> create-config > config.yaml', '<%= config.bin %> create-config 9000']
  static override args = { interval: intervalArg }
  static override flags = { ...tokenShapeFlags }

  async run(): Promise<void> {
    const token = tokenFromInput(this.args.interval, this.flags['key-length'], this.flags['max-message-size'])
    if (this.flags.json) return this.printJson<CreateConfigJson>(cloudConfigReport(token))
    process.stdout.write(cloudConfig(token.base64))
  }
}
