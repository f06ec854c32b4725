/**
 * Reaching a Kairos cluster across NATs, kairosctl vs. Go EdgeVPN, in one run (root; the simulated
 * internet of test/helpers/wan-lab.ts: five public nodes, an edge site and a home site behind NAT).
 *
 * Two Go v0.35.3 edge nodes behind the edge NAT, started as Kairos starts them, settle (relay
 * reservations, /p2p-circuit addresses on the DHT); one publishes the cluster as provider-kairos
 * does (master-kubeconfig, ip-master and the master's uuid/role/ip keys in the `kairos` bucket,
 * through its API), and both hold it. Then each round of a rung measures, from new hosts at the
 * home site, in alternating order:
 *   - kairosctl: `get-kubeconfig --network-token T --bootstrap-peer <public nodes> --no-mdns
 *     --timeout 120`, spawn to exit (exit 0 and the expected kubeconfig on stdout);
 *   - Go (the anchor of that round): a fresh edgevpn node in Kairos' environment, spawn until its
 *     API serves master-kubeconfig and ip-master (polled every 100 ms); then it is stopped.
 * Rung N: both sites behind NAT (relay, then hole punch). Rung P: a third edge node with a public
 * address joins before its rounds (rung P of test/e2e/wan.test.ts). Prints per rung min / median /
 * max of both, the ratio of the medians and each round's ratio.
 *
 * Usage: node --import tsx bench/wan.ts [rounds]   (default 3; needs `npm run build`)
 * BENCH_RUNGS picks rungs (default "N,P"); kairosctl runs with KAIROSCTL_NO_PUBLIC_DHT=1.
 * BENCH_KAIROSCTL_LOG=FILE runs it with KAIROSCTL_DEBUG=1 and appends its stderr to FILE, each
 * chunk stamped with the milliseconds since spawn.
 */
import '../src/polyfill.js'
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { appendFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { demoKubeconfig } from '../src/kairos/demo.js'
import { encodeKubeconfig } from '../src/kairos/kubeconfig.js'
import { advertisementValue, DEFAULT_NETWORK_ID, encodeDataText, encodeValue, keys } from '../src/kairos/layout.js'
import { apiGet, apiPut, generateGoToken, startGoPeer, type GoPeer } from '../test/helpers/go-peer.js'
import { createWanLab, type WanLab } from '../test/helpers/wan-lab.js'
import { waitFor } from '../test/helpers/wait.js'
import { median, range, requireLab, version } from './vpn-lab.js'

const rounds = Number(process.argv[2] ?? 3)
const rungNames = (process.env.BENCH_RUNGS ?? 'N,P').split(',').map((r) => r.trim().toUpperCase())
const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url))
requireLab()
if (!existsSync(fileURLToPath(new URL('../dist/commands/get-kubeconfig.js', import.meta.url)))) {
  console.error('dist/ is missing: run npm run build first')
  process.exit(1)
}
if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('nftables (`nft`) is not installed: the NAT routers need it')
  process.exit(1)
}

const NET = DEFAULT_NETWORK_ID
const masterIp = '10.1.0.1'
const kubeconfig = demoKubeconfig()
/** What get-kubeconfig prints: the document pointed at the master, as the Go kairosctl prints it. */
const expected = kubeconfig.replaceAll('127.0.0.1', masterIp) + '\n'
const masterUuid = randomUUID()
/** What a Kairos master publishes (provider-kairos' Set calls), values as its Go client sends them. */
const published: [string, unknown][] = [
  [keys.advertisement(masterUuid), advertisementValue(new Date())],
  [keys.role(masterUuid), 'master'],
  [keys.ip(masterUuid), masterIp],
  [keys.masterIp, masterIp],
  [keys.kubeconfig, encodeKubeconfig(kubeconfig)],
]
/** The two keys get-kubeconfig needs, as a Go node's API returns them. */
const wanted = [keys.kubeconfig, keys.masterIp].map((k) => [k, encodeDataText(published.find(([key]) => key === k)![1])] as const)

async function holdsCluster(node: GoPeer): Promise<boolean> {
  for (const [key, text] of wanted) if ((await apiGet(node.api, NET, key, { timeoutMs: 3_000 })) !== text) return false
  return true
}

async function publish(node: GoPeer): Promise<void> {
  for (const [key, value] of published) await apiPut(node.api, NET, key, encodeValue(value))
}

const lab: WanLab = await createWanLab()
const edges: GoPeer[] = []
const failures: string[] = []
const s = (ms: number) => (ms / 1000).toFixed(1)
try {
  await lab.assertSealed()
  const token = generateGoToken({ version })
  const started = performance.now()
  for (let i = 0; i < 2; i++) {
    const host = await lab.addSiteHost(lab.edge)
    edges.push(await startGoPeer({ version, token, kairos: true, netns: host.ns, bootstrapPeers: lab.bootstrapPeers }))
  }
  await lab.waitForRelayAddresses(edges.map((e) => e.peerId))
  const settled = performance.now() - started
  // Written on one edge node; two nodes behind one NAT need not have met (no hairpin NAT), so
  // the other gets it written too if it has not synced it within 20 s.
  await publish(edges[0])
  const synced = await waitFor(() => holdsCluster(edges[1]), { timeoutMs: 20_000, intervalMs: 250, what: 'the cluster on the second edge node' }).catch(() => false)
  if (!synced) await publish(edges[1])
  for (const e of edges) await waitFor(() => holdsCluster(e), { timeoutMs: 30_000, intervalMs: 250, what: `the cluster on edge node ${e.peerId}` })
  console.error(`edge nodes settled after ${s(settled)} s; the second one ${synced ? 'synced the cluster' : 'had the cluster written too'}`)

  const bootstrap = lab.bootstrapTcp.flatMap((a) => ['--bootstrap-peer', a])
  let runs = 0
  const kairosctl = async (): Promise<number> => {
    const host = await lab.addSiteHost(lab.home)
    const debug = process.env.BENCH_KAIROSCTL_LOG
    const t0 = performance.now()
    const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, BIN, 'get-kubeconfig', '--network-token', token, ...bootstrap, '--no-mdns', '--timeout', '120'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', KAIROSCTL_NO_PUBLIC_DHT: '1', ...(debug ? { KAIROSCTL_DEBUG: '1' } : {}) },
    })
    const killer = setTimeout(() => child.kill('SIGKILL'), 150_000)
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
    // Each stderr chunk stamped with the milliseconds since spawn (for the debug log).
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8').replace(/^(?=.)/gm, `${(performance.now() - t0).toFixed(0).padStart(6)} `)))
    const code = await new Promise<number | null>((done) => child.on('close', done))
    const ms = performance.now() - t0
    clearTimeout(killer)
    if (debug) appendFileSync(debug, `--- kairosctl run ${++runs}: exit ${code} after ${s(ms)} s\n${err}`)
    if (code !== 0 || out !== expected) throw new Error(`kairosctl exited ${code}${code === 0 ? ' with another output' : ''} after ${s(ms)} s: ${err.trim().slice(-1500)}`)
    return ms
  }
  const go = async (): Promise<number> => {
    const host = await lab.addSiteHost(lab.home)
    const t0 = performance.now()
    const peer = await startGoPeer({ version, token, kairos: true, netns: host.ns, bootstrapPeers: lab.bootstrapPeers })
    try {
      await waitFor(() => holdsCluster(peer), { timeoutMs: 150_000, intervalMs: 100, what: 'the kubeconfig at a fresh Go node' })
      return performance.now() - t0
    } finally {
      await peer.stop()
    }
  }

  const rungs = [
    { name: 'N', what: 'both sites behind NAT', setup: async () => {} },
    {
      name: 'P',
      what: 'one edge node public',
      setup: async () => {
        const pub = await lab.addPublicHost()
        const node = await startGoPeer({ version, token, kairos: true, netns: pub.ns, bootstrapPeers: lab.bootstrapPeers })
        edges.push(node)
        await waitFor(() => holdsCluster(node), { timeoutMs: 120_000, intervalMs: 250, what: 'the cluster on the public edge node' })
      },
    },
  ].filter((r) => rungNames.includes(r.name))
  const results: { name: string; what: string; ours: number[]; go: number[]; order: string[] }[] = []
  for (const rung of rungs) {
    await rung.setup()
    const res = { name: rung.name, what: rung.what, ours: [] as number[], go: [] as number[], order: [] as string[] }
    results.push(res)
    for (let round = 0; round < rounds; round++) {
      const oursFirst = round % 2 === 0
      const measure = async (who: 'kairosctl' | 'Go'): Promise<number> => {
        try {
          return await (who === 'kairosctl' ? kairosctl() : go())
        } catch (err) {
          failures.push(`rung ${rung.name} round ${round + 1}, ${who}: ${(err as Error).message}`)
          return NaN
        }
      }
      const first = await measure(oursFirst ? 'kairosctl' : 'Go')
      const second = await measure(oursFirst ? 'Go' : 'kairosctl')
      res.ours.push(oursFirst ? first : second)
      res.go.push(oursFirst ? second : first)
      res.order.push(oursFirst ? 'k' : 'g')
      console.error(`rung ${rung.name} round ${round + 1} (${oursFirst ? 'kairosctl first' : 'Go first'}): kairosctl ${s(res.ours[round])} s, Go ${s(res.go[round])} s`)
    }
  }

  const ok = (xs: number[]) => xs.filter((x) => !Number.isNaN(x))
  const secs = (xs: number[]) => (ok(xs).length ? range(ok(xs).map((x) => x / 1000)) : '-')
  console.log(`WAN reach against Go ${version}: ${rounds} rounds per rung, node ${process.version}; two Go edge nodes behind NAT settled after ${s(settled)} s`)
  console.log(`${'rung'.padEnd(26)} ${'kairosctl s min / med / max'.padEnd(28)} ${'Go s min / med / max'.padEnd(22)} ${'x Go (medians)'.padEnd(15)} x Go per round (k/g: who went first)`)
  for (const r of results) {
    const both = r.ours.map((o, i) => [o, r.go[i]]).filter(([o, g]) => !Number.isNaN(o) && !Number.isNaN(g))
    const ratio = both.length ? (median(ok(r.ours)) / median(ok(r.go))).toFixed(2) : '-'
    const perRound = r.ours.map((o, i) => `${Number.isNaN(o) || Number.isNaN(r.go[i]) ? '-' : (o / r.go[i]).toFixed(2)}${r.order[i]}`).join(' ')
    console.log(`${`${r.name} (${r.what})`.padEnd(26)} ${secs(r.ours).padEnd(28)} ${secs(r.go).padEnd(22)} ${ratio.padEnd(15)} ${perRound}`)
  }
  console.log('(seconds; kairosctl: spawn to exit with the kubeconfig; Go: spawn until its API serves master-kubeconfig and ip-master)')
  for (const f of failures) console.log(`failed: ${f}`)
} finally {
  await Promise.all(edges.map((e) => e.stop().catch(() => {})))
  await lab.teardown()
}
if (failures.length) process.exitCode = 1
