import { Args, Flags } from '@oclif/core'
import { ApiClient } from '../api/client.js'
import { BaseCommand } from '../cli/base.js'
import { joinFromFlags, networkFlags, pickNetworkSource } from '../cli/network.js'
import { UsageError, UserError } from '../errors.js'
import type { PingReply, PingRoute, PingSummary, PingTarget } from '../peer/ping.js'

/** What `ping --json` prints: the target and the summary of the pings. */
export interface PingJson extends PingSummary {
  target: PingTarget
}

export default class Ping extends BaseCommand<typeof Ping> {
  static override summary = 'Ping a node of the network over libp2p'
  static override description =
    'TARGET is a VPN IP or a hostname from the machines bucket, or a peer ID. Joins the network with the token (or, with --api, has a running kairosctl bridge do it), finds the target through the ledger, says how it is reached (direct or relayed, and the remote address), and prints the round trip of each libp2p ping. Through --api the lines come once the last ping is answered.'
  static override examples = [
    '<%= config.bin %> ping 10.1.0.2 --network-token "$TOKEN"',
    '<%= config.bin %> ping node-2 -c 10 --network-token "$TOKEN"',
    '<%= config.bin %> ping 12D3KooW... --json --network-token "$TOKEN"',
    '<%= config.bin %> ping node-2 --api http://127.0.0.1:8080',
  ]
  static override args = { target: Args.string({ description: 'VPN IP, hostname or peer ID', required: true }) }
  static override flags = {
    ...networkFlags,
    api: Flags.string({ description: 'Ping from a running kairosctl bridge through its API instead of joining the network (http://HOST:PORT or unix:///path)', env: 'EDGEVPN_API' }),
    count: Flags.integer({ char: 'c', description: 'Number of pings', default: 4, min: 1, max: 10000 }),
    interval: Flags.integer({ description: 'Milliseconds between pings', default: 1000, min: 0, max: 3_600_000 }),
  }

  override async init(): Promise<void> {
    await super.init()
    pickNetworkSource(this.flags, this.argv)
  }

  async run(): Promise<void> {
    const f = this.flags
    const say = (line: string): void => {
      if (!f.json) process.stdout.write(line + '\n')
    }
    const { describeTarget } = await import('../peer/ping.js')
    const showRoute = (target: PingTarget, r: PingRoute): void => say(`PING ${describeTarget(target)}: ${r.direct ? 'direct' : 'relayed'} via ${r.remoteAddr}`)
    const showReply = (r: PingReply): void => say(r.rttMs === null ? `seq=${r.seq} failed: ${r.error}` : `seq=${r.seq} time=${r.rttMs} ms`)
    const finish = (target: PingTarget, summary: PingSummary): void => {
      if (summary.received === 0) throw new UserError(`no ping reply from ${describeTarget(target)} (${summary.sent} sent)`, { hint: 'the peer is connected but does not answer /ipfs/ping/1.0.0' })
      if (f.json) return this.printJson<PingJson>({ target, ...summary })
      const loss = Math.round((100 * (summary.sent - summary.received)) / Math.max(summary.sent, 1))
      say(`${summary.sent} sent, ${summary.received} received, ${loss}% lost` + (summary.received ? `; rtt min/avg/max ${summary.minMs}/${summary.avgMs}/${summary.maxMs} ms` : ''))
    }

    if (f.api) {
      this.progress(`asking ${f.api} to ping ${this.args.target}…`)
      const { target, ...summary } = await new ApiClient(f.api).ping(this.args.target, { count: f.count, intervalMs: f.interval, timeoutSeconds: f.timeout })
      this.clearProgress()
      showRoute(target, summary.route)
      summary.replies.forEach(showReply)
      return finish(target, summary)
    }

    if (!f['network-token']) throw new UsageError('ping needs a network', 'pass --network-token (or set EDGEVPNTOKEN) to join it, or --api URL of a running kairosctl bridge')
    const access = await joinFromFlags(f, (line) => this.progress(line))
    this.clearProgress()
    const abort = new AbortController()
    const stop = (): void => abort.abort()
    process.once('SIGINT', stop)
    try {
      const { pingPeer, resolvePingTarget } = await import('../peer/ping.js')
      const target = resolvePingTarget(this.args.target, await access.data())
      this.progress(`connecting to ${describeTarget(target)}…`)
      const summary = await pingPeer(access.peer, target, {
        count: f.count,
        intervalMs: f.interval,
        timeoutMs: f.timeout * 1000,
        signal: abort.signal,
        onRoute: (r) => {
          this.clearProgress()
          showRoute(target, r)
        },
        onReply: showReply,
      })
      finish(target, summary)
    } finally {
      process.off('SIGINT', stop)
      await access.close().catch(() => {})
    }
  }
}
