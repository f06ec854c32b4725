/**
 * Sustained load through the bridge (root; see bench/vpn-lab.ts): iperf3 TCP between the bridge
 * and Go node A for BENCH_SOAK_SECONDS (default 600), alternating direction every
 * BENCH_SOAK_SLICE seconds (default 30), with the bridge's RSS sampled every second. Then the
 * Go -> Go anchor for one slice each way. Prints throughput and RSS per minute, and the two checks:
 * RSS at the end within 10 % of RSS after the first minute, and throughput of the last minute
 * within 20 % of the first (exit 1 when either fails). A garbage-collected heap makes single RSS
 * samples jump by tens of MiB from one second to the next, so the RSS of a minute is the median of
 * its 60 samples (the single samples are printed too).
 * Usage: node --import tsx bench/soak.ts
 */
import { writeFileSync } from 'node:fs'
import { median, startLab } from './vpn-lab.js'

const total = Number(process.env.BENCH_SOAK_SECONDS ?? 600)
const slice = Number(process.env.BENCH_SOAK_SLICE ?? 30)
const perMinute = Math.max(1, Math.round(60 / slice))

const lab = await startLab()
let failed: boolean
try {
  const { a, b, bridge } = lab.ns
  const idle = lab.bridgeRss()
  const rss: number[] = []
  const sampler = setInterval(() => rss.push(lab.bridgeRss()), 1000)
  const slices: { out: boolean; mbit: number }[] = []
  for (let i = 0; i < Math.floor(total / slice); i++) {
    // Even slices: the bridge sends (bridge -> A); odd slices: A sends to the bridge (iperf3 -R).
    const out = i % 2 === 0
    const r = await lab.iperf(bridge, a, '10.1.0.1', slice, !out)
    slices.push({ out, mbit: r.mbit })
    console.error(`${((i + 1) * slice).toString().padStart(4)} s: ${out ? 'bridge -> Go' : 'Go -> bridge'} ${r.mbit.toFixed(1)} Mbit/s, RSS ${lab.bridgeRss().toFixed(1)} MiB`)
  }
  clearInterval(sampler)
  const anchorOut = await lab.iperf(b, a, '10.1.0.1', slice)
  const anchorIn = await lab.iperf(b, a, '10.1.0.1', slice, true)
  const minutes: number[] = []
  for (let m = 0; m + perMinute <= slices.length; m += perMinute) minutes.push(slices.slice(m, m + perMinute).reduce((s, x) => s + x.mbit, 0) / perMinute)
  const rssMinutes: number[] = []
  for (let m = 0; m + 60 <= rss.length; m += 60) rssMinutes.push(median(rss.slice(m, m + 60)))
  const rssAfterMinute = rssMinutes[0]
  const rssEnd = rssMinutes[rssMinutes.length - 1]
  const rssDrift = rssEnd / rssAfterMinute - 1
  const tputDrift = minutes[minutes.length - 1] / minutes[0] - 1
  const dir = (out: boolean) => slices.filter((s) => s.out === out).map((s) => s.mbit)
  console.log(`soak: ${total} s of iperf3 TCP through the bridge, direction alternating every ${slice} s`)
  console.log(`throughput per minute (both directions averaged), Mbit/s: ${minutes.map((x) => x.toFixed(1)).join(' ')}`)
  console.log(
    `bridge -> Go median ${median(dir(true)).toFixed(1)}, Go -> bridge median ${median(dir(false)).toFixed(1)} Mbit/s; Go -> Go after the soak ${anchorOut.mbit.toFixed(1)} / reverse ${anchorIn.mbit.toFixed(1)} Mbit/s`,
  )
  console.log(`bridge RSS per minute (median of its samples), MiB: ${rssMinutes.map((x) => x.toFixed(1)).join(' ')}`)
  console.log(`bridge RSS: idle ${idle.toFixed(1)}, peak ${Math.max(...rss).toFixed(1)}; single samples at 60 s ${rss[59]?.toFixed(1)} and at the end ${rss[rss.length - 1].toFixed(1)} MiB`)
  const rssOk = Math.abs(rssDrift) <= 0.1
  const tputOk = Math.abs(tputDrift) <= 0.2
  console.log(
    `RSS end vs first minute ${(rssDrift * 100).toFixed(1)} % (limit 10 %): ${rssOk ? 'ok' : 'FAIL'}; throughput last vs first minute ${(tputDrift * 100).toFixed(1)} % (limit 20 %): ${tputOk ? 'ok' : 'FAIL'}`,
  )
  failed = !rssOk || !tputOk
  if (process.env.BENCH_SOAK_RSS_FILE) writeFileSync(process.env.BENCH_SOAK_RSS_FILE, rss.map((x, i) => `${i + 1} ${x.toFixed(1)}`).join('\n') + '\n')
} finally {
  await lab.close()
}
process.exit(failed ? 1 : 0)
