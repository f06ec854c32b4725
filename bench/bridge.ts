/**
 * VPN data plane, kairosctl bridge vs Go EdgeVPN, in one run (root; network namespaces; see
 * bench/vpn-lab.ts for the topology and the bridge's environment variables).
 *
 * Several rounds on one bridge (BENCH_ROUNDS, default 3). Each round measures iperf3 TCP
 * (BENCH_SECONDS, default 10) for bridge -> A, A -> bridge and B -> A (the Go anchor of that
 * round), with ping RTT taken while iperf3 runs; the last row, raw veth A -> B (the ceiling), is
 * measured once. Per row it prints min / median / max of the throughput, of its ratio to the Go
 * anchor of the same round, and of the RTT under load; and the bridge's RSS idle and at its peak.
 * BENCH_ROWS picks rows by number (e.g. "1,3").
 * Usage: node --import tsx bench/bridge.ts
 */
import { median, range, startLab, version } from './vpn-lab.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const pick = (process.env.BENCH_ROWS ?? '1,2,3,4').split(',').map(Number)

const lab = await startLab()
try {
  const { a, b, bridge } = lab.ns
  const rows = [
    { name: 'bridge -> Go', from: bridge, serverNs: a, to: '10.1.0.1' },
    { name: 'Go -> bridge', from: a, serverNs: bridge, to: '10.1.0.254' },
    { name: 'Go -> Go (anchor)', from: b, serverNs: a, to: '10.1.0.1' },
    { name: 'raw veth (ceiling)', from: b, serverNs: a, to: lab.net.nodes[0].ip, once: true },
  ].filter((_, i) => pick.includes(i + 1))
  const idleRss = lab.bridgeRss()
  const idleRtt = await lab.ping(bridge, '10.1.0.1', 10)
  let roundPeak = idleRss
  const sampler = setInterval(() => (roundPeak = Math.max(roundPeak, lab.bridgeRss())), 500)
  const results = rows.map(() => [] as { mbit: number; retransmits: number; rtt: number }[])
  const roundPeaks: number[] = []
  for (let round = 1; round <= rounds; round++) {
    roundPeak = lab.bridgeRss()
    for (const [i, row] of rows.entries()) {
      if (row.once && round > 1) continue
      const pings = Math.max(1, Math.floor((seconds - 2) / 0.2))
      // Ping starts a second after iperf3, once the transfer is under way.
      const [r, rtt] = await Promise.all([lab.iperf(row.from, row.serverNs, row.to, seconds), new Promise((res) => setTimeout(res, 1000)).then(() => lab.ping(row.from, row.to, pings))])
      results[i].push({ ...r, rtt })
      console.error(`round ${round}: ${row.name} ${r.mbit.toFixed(1)} Mbit/s, RTT under load ${rtt.toFixed(2)} ms`)
    }
    roundPeaks.push(roundPeak)
  }
  clearInterval(sampler)
  const anchorRow = rows.findIndex((r) => r.name.startsWith('Go -> Go'))
  console.log(`VPN data plane against Go ${version}: ${rounds} rounds on one bridge, iperf3 TCP ${seconds} s, ping every 0.2 s during it; bridge sends ${process.env.BENCH_VPN_STREAMS ?? 'reuse'}`)
  console.log(`${'row'.padEnd(20)} ${'Mbit/s min / median / max'.padEnd(28)} ${'x Go->Go same round'.padEnd(22)} ${'RTT loaded ms'.padEnd(20)} retransmits`)
  for (const [i, row] of rows.entries()) {
    const rs = results[i]
    const ratios = anchorRow < 0 ? [] : rs.map((r, k) => r.mbit / results[anchorRow][k].mbit)
    const ratio = ratios.length && !row.once ? range(ratios, 2) : '-'
    console.log(
      `${row.name.padEnd(20)} ${range(rs.map((r) => r.mbit)).padEnd(28)} ${ratio.padEnd(22)} ${range(
        rs.map((r) => r.rtt),
        2,
      ).padEnd(20)} ${rs.map((r) => r.retransmits).join(' ')}`,
    )
  }
  console.log(`ping bridge -> Go idle: ${idleRtt.toFixed(2)} ms`)
  console.log(
    `bridge RSS: idle ${idleRss.toFixed(1)} MiB; peak per round ${roundPeaks.map((p) => p.toFixed(1)).join(' / ')} MiB (median ${median(roundPeaks).toFixed(1)}, ${(Math.max(...roundPeaks) / idleRss).toFixed(2)}x idle at most)`,
  )
} finally {
  await lab.close()
}
