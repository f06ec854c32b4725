/**
 * The VPN bench lab shared by bench/bridge.ts and bench/soak.ts (root; network namespaces):
 * Go v0.35.3 VPN nodes A (10.1.0.1) and B (10.1.0.2) and our bridge (10.1.0.254), each in a
 * namespace of its own on one switch, with iperf3, ping and RSS sampling.
 *
 * Environment: BENCH_GO_VERSION (default v0.35.3); BENCH_BRIDGE_NODE_ARGS passes Node flags to the
 * bridge (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"; the bridge is stopped with SIGTERM, so the
 * profile is written); BENCH_BRIDGE_LOG=FILE appends the bridge's output to FILE;
 * BENCH_VPN_STREAMS=per-packet makes the bridge send as Go does (a stream per packet).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { apiMachines, generateGoToken, goPeerBinary, startGoPeer } from '../test/helpers/go-peer.js'
import { createNetwork, stopProcessGroup, type TestNetwork } from '../test/helpers/netns.js'
import { waitUntil } from '../test/helpers/wait.js'

export const version = process.env.BENCH_GO_VERSION ?? 'v0.35.3'
const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url))

export interface Iperf {
  mbit: number
  retransmits: number
}

export interface Lab {
  net: TestNetwork
  /** Namespaces of Go node A, Go node B and the bridge. */
  ns: { a: string; b: string; bridge: string }
  bridgePid: number
  /** iperf3 TCP from `from` to the server at `to` in `serverNs`; `reverse` makes the server send. */
  iperf(from: string, serverNs: string, to: string, seconds: number, reverse?: boolean): Promise<Iperf>
  /** Mean ping RTT in ms over `count` pings 0.2 s apart (NaN when none came back). */
  ping(from: string, to: string, count: number): Promise<number>
  /** The bridge's resident set now, in MiB. */
  bridgeRss(): number
  close(): Promise<void>
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
export const range = (xs: number[], digits = 1): string => `${Math.min(...xs).toFixed(digits)} / ${median(xs).toFixed(digits)} / ${Math.max(...xs).toFixed(digits)}`

function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

export function requireLab(): void {
  if (process.getuid?.() !== 0 || !goPeerBinary(version)) {
    console.error(`needs root and edgevpn ${version} (scripts/install-go-peers.sh)`)
    process.exit(1)
  }
}

/** Starts the two Go nodes and the bridge, and waits until all three reach each other over the VPN. */
export async function startLab(): Promise<Lab> {
  requireLab()
  const net = await createNetwork({ count: 3 })
  const dir = mkdtempSync(join(tmpdir(), 'kctl-bench-'))
  const stops: (() => Promise<void>)[] = []
  const close = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    await net.teardown()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const [na, nb, nc] = net.nodes
    const token = generateGoToken({ version })
    const a = await startGoPeer({ version, token, netns: na.ns, mdns: true, vpnAddress: '10.1.0.1/24', ownership: 'enforce' })
    stops.push(() => a.stop())
    const b = await startGoPeer({ version, token, netns: nb.ns, mdns: true, vpnAddress: '10.1.0.2/24', ownership: 'enforce' })
    stops.push(() => b.stop())
    const nodeArgs = (process.env.BENCH_BRIDGE_NODE_ARGS ?? '').split(' ').filter(Boolean)
    const log = process.env.BENCH_BRIDGE_LOG ? openSync(process.env.BENCH_BRIDGE_LOG, 'a') : 'ignore'
    const args = [...nodeArgs, BIN, 'bridge', '--network-token', token, '--no-dht', '--identity', join(dir, 'id'), '--api', `unix://${join(dir, 'api.sock')}`, '--ownership-ttl', '120']
    if (process.env.BENCH_VPN_STREAMS) args.push('--vpn-streams', process.env.BENCH_VPN_STREAMS)
    const bridge: ChildProcess = net.spawn(nc.ns, process.execPath, args, { env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', log, log] })
    stops.push(() => stopProcessGroup(bridge, 10_000))
    await waitUntil(async () => (await apiMachines(a.api)).some((m) => m.Address === '10.1.0.254'), { timeoutMs: 60_000, intervalMs: 500, what: 'bridge announced' })
    await waitUntil(() => net.ping(nc.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'bridge -> A' })
    await waitUntil(() => net.ping(na.ns, '10.1.0.254', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'A -> bridge' })
    await waitUntil(() => net.ping(nb.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'B -> A' })

    return {
      net,
      ns: { a: na.ns, b: nb.ns, bridge: nc.ns },
      bridgePid: bridge.pid!,
      async iperf(from, serverNs, to, seconds, reverse = false) {
        const server = net.spawn(serverNs, 'iperf3', ['-s', '-1'])
        try {
          await new Promise((r) => setTimeout(r, 300))
          const args = ['-c', to, '-t', String(seconds), '-J', '--connect-timeout', '5000', ...(reverse ? ['-R'] : [])]
          const r = await net.exec(from, 'iperf3', args, { timeoutMs: (seconds + 30) * 1000, allowFailure: true })
          const end = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } } }).end
          return { mbit: end.sum_received.bits_per_second / 1e6, retransmits: end.sum_sent.retransmits ?? NaN }
        } catch {
          return { mbit: 0, retransmits: NaN }
        } finally {
          server.kill()
        }
      },
      async ping(from, to, count) {
        const r = await net.exec(from, 'ping', ['-c', String(count), '-i', '0.2', '-q', to], { timeoutMs: (count * 0.2 + 15) * 1000, allowFailure: true })
        return Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1] ?? NaN)
      },
      bridgeRss: () => rssMiB(bridge.pid!),
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
