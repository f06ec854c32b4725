import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.js'
import { parseInterval } from '../cli/flags.js'
import { generatedTokenReport, generatedTokenText, type GeneratedTokenJson } from '../cli/token-output.js'
import { DEFAULT_KEY_LENGTH, DEFAULT_MAX_MESSAGE_SIZE, generateToken, type NetworkToken } from '../token/token.js'

/** Flags shared by generate-token and create-config. */
export const tokenShapeFlags = {
  'key-length': Flags.integer({
    description: 'Length of each random key (room, rendezvous, mdns, the two OTP keys)',
    default: DEFAULT_KEY_LENGTH,
    min: 1,
    max: 4096,
  }),
  'max-message-size': Flags.integer({
    description: 'Largest gossip message the network accepts, in bytes',
    default: DEFAULT_MAX_MESSAGE_SIZE,
    min: 1,
    max: 2 ** 31 - 1,
  }),
}

export const intervalArg = Args.string({
  name: 'INTERVAL',
  description: 'OTP rotation interval in seconds (default: never rotates, like the Go kairosctl)',
  required: false,
})

/** A fresh token from the parsed flags and INTERVAL argument. */
export function tokenFromInput(interval: string | undefined, keyLength: number, maxMessageSize: number): NetworkToken {
  return generateToken({ interval: parseInterval(interval), keyLength, maxMessageSize })
}

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
