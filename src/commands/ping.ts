import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.js'
import { networkFlags, openLedger } from '../cli/network.js'
import { UsageError, UserError } from '../errors.js'
import type { PeerLedgerAccess } from '../peer/access.js'
import { describeTarget, pingPeer, resolvePingTarget, type PingReply, type PingRoute } from '../peer/ping.js'

const { api: _api, ...joinFlags } = networkFlags

export default class Ping extends BaseCommand<typeof Ping> {
  static override summary = 'Ping a node of the network over libp2p'
  static override description =
    'TARGET is a VPN IP or a hostname from the machines bucket, or a peer ID. Joins the network with the token, finds the target through the ledger, says how it is reached (direct or relayed, and the remote address), and prints the round trip of each libp2p ping.'
  static override examples = [
    '<%= config.bin %> ping 10.1.0.2 --network-token "$TOKEN"',
    '<%= config.bin %> ping node-2 -c 10 --network-token "$TOKEN"',
    '<%= config.bin %> ping 12D3KooW... --json --network-token "$TOKEN"',
  ]
  static override args = { target: Args.string({ description: 'VPN IP, hostname or peer ID', required: true }) }
  static override flags = {
    ...joinFlags,
    count: Flags.integer({ char: 'c', description: 'Number of pings', default: 4, min: 1, max: 10000 }),
    interval: Flags.integer({ description: 'Milliseconds between pings', default: 1000, min: 0 }),
  }

  async run(): Promise<void> {
    const f = this.flags
    if (!f['network-token']) throw new UsageError('ping joins the network', 'pass --network-token (or set EDGEVPNTOKEN)')
    const access = (await openLedger(f, (line) => this.progress(line))) as PeerLedgerAccess
    this.clearProgress()
    const abort = new AbortController()
    const stop = (): void => abort.abort()
    process.once('SIGINT', stop)
    try {
      const target = resolvePingTarget(this.args.target, await access.data())
      const say = (line: string): void => {
        if (!f.json) process.stdout.write(line + '\n')
      }
      this.progress(`connecting to ${describeTarget(target)}…`)
      const summary = await pingPeer(access.peer, target, {
        count: f.count,
        intervalMs: f.interval,
        timeoutMs: f.timeout * 1000,
        signal: abort.signal,
        onRoute: (r: PingRoute) => {
          this.clearProgress()
          say(`PING ${describeTarget(target)}: ${r.direct ? 'direct' : 'relayed'} via ${r.remoteAddr}`)
        },
        onReply: (r: PingReply) => say(r.rttMs === null ? `seq=${r.seq} failed: ${r.error}` : `seq=${r.seq} time=${r.rttMs} ms`),
      })
      if (summary.received === 0) throw new UserError(`no ping reply from ${describeTarget(target)} (${summary.sent} sent)`, { hint: 'the peer is connected but does not answer /ipfs/ping/1.0.0' })
      if (f.json) return this.printJson({ target, ...summary })
      const loss = Math.round((100 * (summary.sent - summary.received)) / Math.max(summary.sent, 1))
      say(`${summary.sent} sent, ${summary.received} received, ${loss}% lost` + (summary.received ? `; rtt min/avg/max ${summary.minMs}/${summary.avgMs}/${summary.maxMs} ms` : ''))
    } finally {
      process.off('SIGINT', stop)
      await access.close().catch(() => {})
    }
  }
}
