import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../cli/base.js'
import { readToken } from '../../cli/flags.js'
import { UsageError } from '../../errors.js'
import { inspectToken, mask, parseAt, renderReport, type InspectReport } from '../../token/inspect.js'

export default class TokenInspect extends BaseCommand<typeof TokenInspect> {
  static override summary = 'Show what a network token contains and what peers derive from it'
  static override description =
    'Decodes and validates a network token (argument, else EDGEVPNTOKEN) and prints its fields, with secrets masked unless --show-secrets, and the current gossip topic and DHT rendezvous with their next rotation.'
  static override examples = ['<%= config.bin %> token inspect "$TOKEN"', 'EDGEVPNTOKEN=... <%= config.bin %> token inspect --json']
  static override args = {
    token: Args.string({ description: 'Network token (base64); defaults to EDGEVPNTOKEN', required: false }),
  }
  static override flags = {
    'show-secrets': Flags.boolean({ description: 'Print keys and the token in full', default: false }),
    at: Flags.string({ description: 'Derive values at this time (unix seconds or ISO 8601) instead of now', helpValue: 'TIME' }),
  }

  async run(): Promise<void> {
    const given = this.args.token ?? process.env.EDGEVPNTOKEN
    if (given === undefined || given.trim() === '') {
      throw new UsageError('no network token to inspect', 'pass it as an argument or set EDGEVPNTOKEN')
    }
    const token = readToken(given)
    const at = parseAt(this.flags.at)
    const show = this.flags['show-secrets'] ? (v: string) => v : mask
    const report = await inspectToken(token, at, show)
    if (this.flags.json) {
      this.printJson<InspectReport>(report)
      return
    }
    process.stdout.write(renderReport(report))
  }
}
