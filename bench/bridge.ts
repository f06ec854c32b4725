/**
 * VPN data plane, kairosctl bridge vs Go EdgeVPN, in one run (root; network namespaces).
 *
 * Three namespaces on one bridge: Go v0.35.3 VPN nodes A (10.1.0.1) and B (10.1.0.2), and our
 * bridge (10.1.0.254). Measures iperf3 TCP throughput (10 s) and ping RTT for
 * bridge -> A, A -> bridge, B -> A (the Go anchor) and raw veth A -> B (the ceiling),
 * and the bridge's RSS idle and under load. Usage: node --import tsx bench/bridge.ts
 * Environment: BENCH_BRIDGE_NODE_ARGS passes Node flags to the bridge (e.g. "--cpu-prof
 * --cpu-prof-dir=/tmp/prof"; the bridge is stopped with SIGTERM so the profile is written),
 * BENCH_SECONDS sets the iperf3 duration (default 10), BENCH_ROWS picks rows by number (e.g. "1,2"),
 * BENCH_BRIDGE_LOG=FILE appends the bridge's output to FILE,
 * BENCH_VPN_STREAMS=per-packet makes the bridge send as Go does (a stream per packet) for comparison.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { apiMachines, generateGoToken, goPeerBinary, startGoPeer } from '../test/helpers/go-peer.js'
import { createNetwork, stopProcessGroup } from '../test/helpers/netns.js'
import { waitUntil } from '../test/helpers/wait.js'

const version = process.env.BENCH_GO_VERSION ?? 'v0.35.3'
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const pick = (process.env.BENCH_ROWS ?? '1,2,3,4').split(',').map(Number)
if (process.getuid?.() !== 0 || !goPeerBinary(version)) {
  console.error(`needs root and edgevpn ${version} (scripts/install-go-peers.sh)`)
  process.exit(1)
}
const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

const net = await createNetwork({ count: 3 })
const dir = mkdtempSync(join(tmpdir(), 'kctl-bench-'))
const children: ChildProcess[] = []
try {
  const [na, nb, nc] = net.nodes
  const token = generateGoToken({ version })
  const a = await startGoPeer({ version, token, netns: na.ns, mdns: true, vpnAddress: '10.1.0.1/24', ownership: 'enforce' })
  const b = await startGoPeer({ version, token, netns: nb.ns, mdns: true, vpnAddress: '10.1.0.2/24', ownership: 'enforce' })
  // BENCH_BRIDGE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the bridge.
  const nodeArgs = (process.env.BENCH_BRIDGE_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const bridge = net.spawn(nc.ns, process.execPath, [...nodeArgs, BIN, 'bridge', '--network-token', token, '--no-dht', '--identity', join(dir, 'id'), '--api', `unix://${join(dir, 'api.sock')}`, '--ownership-ttl', '120', ...(process.env.BENCH_VPN_STREAMS ? ['--vpn-streams', process.env.BENCH_VPN_STREAMS] : [])], { env: { ...process.env, NODE_NO_WARNINGS: '1' }, ...(process.env.BENCH_BRIDGE_LOG ? { stdio: ['ignore', openSync(process.env.BENCH_BRIDGE_LOG, 'a'), openSync(process.env.BENCH_BRIDGE_LOG, 'a')] } : {}) })
  children.push(bridge)
  await waitUntil(async () => (await apiMachines(a.api)).some((m) => m.Address === '10.1.0.254'), { timeoutMs: 60_000, intervalMs: 500, what: 'bridge announced' })
  await waitUntil(() => net.ping(nc.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'bridge -> A' })
  await waitUntil(() => net.ping(na.ns, '10.1.0.254', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'A -> bridge' })
  await waitUntil(() => net.ping(nb.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'B -> A' })
  const idle = rssMiB(bridge.pid!)

  const iperf = async (from: string, serverNs: string, to: string): Promise<[number, number]> => {
    const server = net.spawn(serverNs, 'iperf3', ['-s', '-1'])
    await new Promise((r) => setTimeout(r, 500))
    const r = await net.exec(from, 'iperf3', ['-c', to, '-t', String(seconds), '-J', '--connect-timeout', '5000'], { timeoutMs: (seconds + 30) * 1000, allowFailure: true })
    server.kill()
    try {
      const end = JSON.parse(r.stdout).end
      return [end.sum_received.bits_per_second / 1e6, end.sum_sent.retransmits ?? NaN]
    } catch {
      return [0, NaN]
    }
  }
  const ping = async (from: string, to: string): Promise<number> => {
    const r = await net.exec(from, 'ping', ['-c', '20', '-i', '0.2', '-q', to], { timeoutMs: 30_000, allowFailure: true })
    return Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1] ?? NaN)
  }
  let loadRss = 0
  const sampler = setInterval(() => (loadRss = Math.max(loadRss, rssMiB(bridge.pid!))), 500)
  const rows = [
    ['bridge -> Go', nc.ns, na.ns, '10.1.0.1'],
    ['Go -> bridge', na.ns, nc.ns, '10.1.0.254'],
    ['Go -> Go (anchor)', nb.ns, na.ns, '10.1.0.1'],
    ['raw veth (ceiling)', nb.ns, na.ns, na.ip],
  ] as const
  const results: [string, number, number, number][] = []
  for (const [i, [name, from, serverNs, to]] of rows.entries()) {
    if (pick.includes(i + 1)) results.push([name, ...(await iperf(from, serverNs, to)), await ping(from, to)])
  }
  clearInterval(sampler)
  const anchor = results.find(([name]) => name.startsWith('Go -> Go'))?.[1] ?? NaN
  console.log(`VPN data plane against Go ${version} (iperf3 TCP ${seconds} s, ping 20 x 0.2 s; bridge sends ${process.env.BENCH_VPN_STREAMS ?? 'reuse'})`)
  for (const [name, mbit, retransmits, rtt] of results) {
    console.log(`${name.padEnd(20)} ${mbit.toFixed(1).padStart(8)} Mbit/s  ${Number.isNaN(anchor) ? '(no anchor row)' : `${(mbit / anchor).toFixed(2)}x Go->Go`}  ${String(retransmits).padStart(5)} retransmits  RTT ${rtt.toFixed(2)} ms`)
  }
  console.log(`bridge RSS: idle ${idle.toFixed(1)} MiB, under load (peak) ${loadRss.toFixed(1)} MiB`)
  await stopProcessGroup(bridge, 10_000)
  await a.stop()
  await b.stop()
} finally {
  await net.teardown()
  rmSync(dir, { recursive: true, force: true })
}
