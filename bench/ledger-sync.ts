/**
 * Cold time to a synced ledger, kairosctl vs. Go EdgeVPN, in one run.
 *
 * A small Go network (two v0.35.3 nodes on loopback, Go's default 10 s ledger
 * synchronisation) holds a key. Then, alternately, 10 times each:
 *   - kairosctl: `kairosctl ledger get bench key --network-token … --bootstrap-peer …`,
 *     timed from spawn to exit (Node start-up included), with its peak RSS;
 *   - Go: a fresh `edgevpn api` node with the same bootstrap peer, timed from
 *     spawn until its API returns the key, with its RSS at that moment.
 * Prints p50/p90 and the ratios. Usage: node --import tsx bench/ledger-sync.ts [runs]
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { apiGet, apiPut, generateGoToken, goPeerBinary, startGoPeer, waitForKey, type GoPeer } from '../test/helpers/go-peer.js'

const runs = Number(process.argv[2] ?? 10)
const version = process.env.BENCH_GO_VERSION ?? 'v0.35.3'
if (!goPeerBinary(version)) {
  console.error(`edgevpn ${version} is not installed: run scripts/install-go-peers.sh`)
  process.exit(1)
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))]

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

async function ours(token: string, bootstrap: string): Promise<{ ms: number; rssKb: number }> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(
      '/usr/bin/time',
      [
        '-f',
        '%M',
        process.execPath,
        'bin/run.js',
        'ledger',
        'get',
        'bench',
        'key',
        '--network-token',
        token,
        '--bootstrap-peer',
        bootstrap,
        '--no-dht',
        '--no-mdns',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--timeout',
        '60',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('exit', (code) => {
      const ms = performance.now() - t0
      if (code !== 0 || out.trim() !== 'value1') return reject(new Error(`kairosctl failed (${code}): ${out} ${err}`))
      resolve({ ms, rssKb: Number(err.trim().split('\n').at(-1)) })
    })
  })
}

async function go(token: string, bootstrap: string): Promise<{ ms: number; rssKb: number }> {
  const t0 = performance.now()
  const peer = await startGoPeer({ version, token, bootstrapPeers: [bootstrap], healthchecks: false, ledgerInterval: 10 })
  try {
    await waitForKey(peer.api, 'bench', 'key', '"value1"', { timeoutMs: 60_000, intervalMs: 25 })
    return { ms: performance.now() - t0, rssKb: rssKb(peer.pid!) }
  } finally {
    await peer.stop()
  }
}

const token = generateGoToken({ version })
const nodes: GoPeer[] = []
try {
  nodes.push(await startGoPeer({ version, token, ledgerInterval: 10 }))
  nodes.push(await startGoPeer({ version, token, ledgerInterval: 10, bootstrapPeers: [nodes[0].p2pAddrs[0]] }))
  await apiPut(nodes[0].api, 'bench', 'key', 'value1')
  await waitForKey(nodes[1].api, 'bench', 'key', '"value1"', { timeoutMs: 60_000 })
  console.error(`network ready: ${await apiGet(nodes[1].api, 'bench', 'key')}`)
  const bootstrap = nodes[0].p2pAddrs[0]
  const a: { ms: number; rssKb: number }[] = []
  const b: { ms: number; rssKb: number }[] = []
  for (let i = 0; i < runs; i++) {
    a.push(await ours(token, bootstrap))
    b.push(await go(token, bootstrap))
    console.error(`run ${i + 1}: kairosctl ${a.at(-1)!.ms.toFixed(0)} ms, go ${b.at(-1)!.ms.toFixed(0)} ms`)
  }
  const row = (name: string, xs: { ms: number; rssKb: number }[]) =>
    `${name.padEnd(10)} p50 ${pct(
      xs.map((x) => x.ms),
      0.5,
    )
      .toFixed(0)
      .padStart(6)} ms  p90 ${pct(
      xs.map((x) => x.ms),
      0.9,
    )
      .toFixed(0)
      .padStart(6)} ms  RSS p50 ${(
      pct(
        xs.map((x) => x.rssKb),
        0.5,
      ) / 1024
    ).toFixed(1)} MiB`
  console.log(`cold ledger sync against a Go ${version} network (${runs} runs each)`)
  console.log(row('kairosctl', a))
  console.log(row(`go ${version}`, b))
  console.log(
    `ratio kairosctl/go: time ${(
      pct(
        a.map((x) => x.ms),
        0.5,
      ) /
      pct(
        b.map((x) => x.ms),
        0.5,
      )
    ).toFixed(2)}x, RSS ${(
      pct(
        a.map((x) => x.rssKb),
        0.5,
      ) /
      pct(
        b.map((x) => x.rssKb),
        0.5,
      )
    ).toFixed(2)}x`,
  )
} finally {
  for (const n of nodes) await n.stop()
}
