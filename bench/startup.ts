/**
 * Start-up time of commands that do not join a network, next to Go EdgeVPN's
 * `edgevpn -g -b` (print a new token and exit), in one run.
 *
 * Each round runs every command once, in turn (so load on the machine hits
 * all of them alike), timed from spawn to exit. Prints min/median/max per
 * command, the CPU time (user+sys) median, the ratio of each median to
 * Go's median of the same run, and each command's ratio to Go round by round.
 *
 * Usage: node --import tsx bench/startup.ts [rounds]   (default 15; needs `npm run build`)
 * BENCH_BASELINE=/path/to/other/bin/run.js adds the same commands of another
 * build (an older commit, say) to every round, for a before/after in one run.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { goPeerBinary } from '../test/helpers/go-peer.js'

const rounds = Number(process.argv[2] ?? 15)
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..')
const bin = resolve(root, 'bin/run.js')
const go = goPeerBinary('v0.35.3')
if (!existsSync(resolve(root, 'dist/commands'))) {
  console.error('dist/ is missing: run npm run build first')
  process.exit(1)
}

interface Case {
  name: string
  file: string
  args: string[]
}

/** A fixed token (generated once by `generate-token`); inspect only decodes it. */
const TOKEN = Buffer.from(
  'otp:\n  dht:\n    interval: 9000\n    key: 6NmcNuwcR4UKv0a3JXqWm7ihW8hF0nE5X0Y3FNc2bTG\n    length: 43\n  crypto:\n    interval: 9000\n    key: xNfTeqBTLdwMLYe44BGQ8mAAaLqzAzZeA4Ba2u0fxt9\n    length: 43\nroom: oM0iOEmsoQgA8ZjJqKVmHeSBzUzT5pvaE0FWkmoGvQE\nrendezvous: Ndp4mU8d0nbNLpXo3rYJn8D2bC8WgPEZyUcnpXFu1bC\nmdns: qkfStc1Hx4q3k5yS2GN3BtA80GQYRKcnAsbWN3JoGOB\nmax_message_size: 20971520\n',
).toString('base64')

const commands = (cli: string, tag = ''): Case[] => [
  { name: `generate-token${tag}`, file: process.execPath, args: [cli, 'generate-token'] },
  { name: `token inspect${tag}`, file: process.execPath, args: [cli, 'token', 'inspect', TOKEN] },
  { name: `create-config${tag}`, file: process.execPath, args: [cli, 'create-config'] },
  { name: `ledger get --help${tag}`, file: process.execPath, args: [cli, 'ledger', 'get', '--help'] },
  { name: `--help${tag}`, file: process.execPath, args: [cli, '--help'] },
  { name: `--version${tag}`, file: process.execPath, args: [cli, '--version'] },
]
const baseline = process.env.BENCH_BASELINE
const cases: Case[] = [
  ...commands(bin),
  ...(baseline ? commands(resolve(baseline), ' (base)') : []),
  { name: 'node -e ""', file: process.execPath, args: ['-e', ''] },
  ...(go ? [{ name: 'Go edgevpn -g -b', file: go, args: ['-g', '-b'] }] : []),
]

/** Wall and CPU milliseconds of one run (CPU from /usr/bin/time when present). */
function once(c: Case): Promise<{ wall: number; cpu: number }> {
  const timed = existsSync('/usr/bin/time')
  const [file, args] = timed ? ['/usr/bin/time', ['-f', '%U %S', c.file, ...c.args]] : [c.file, c.args]
  const t0 = performance.now()
  return new Promise((done, fail) => {
    const child = spawn(file, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', fail)
    child.on('close', (code) => {
      const wall = performance.now() - t0
      if (code !== 0) return fail(new Error(`${c.name} exited ${code}: ${err}`))
      const m = /([\d.]+) ([\d.]+)\s*$/.exec(err)
      done({ wall, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN })
    })
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const wall = new Map(cases.map((c) => [c.name, [] as number[]]))
const cpu = new Map(cases.map((c) => [c.name, [] as number[]]))
for (const c of cases) await once(c) // warm the file cache
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    const t = await once(c)
    wall.get(c.name)!.push(t.wall)
    cpu.get(c.name)!.push(t.cpu)
  }
}

const goMedian = go ? median(wall.get('Go edgevpn -g -b')!) : NaN
const f = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(0))
console.log(`${rounds} rounds, node ${process.version}${go ? '' : ' (Go edgevpn v0.35.3 not installed: no ratio)'}`)
console.log(['command'.padEnd(24), 'min', 'median', 'max', 'cpu med', 'x Go'].map((h, i) => (i ? h.padStart(8) : h)).join(''))
for (const c of cases) {
  const xs = wall.get(c.name)!
  const m = median(xs)
  const row = [f(Math.min(...xs)), f(m), f(Math.max(...xs)), f(median(cpu.get(c.name)!)), go ? (m / goMedian).toFixed(1) : '-']
  console.log(c.name.padEnd(24) + row.map((v) => v.padStart(8)).join(''))
}
console.log('(milliseconds, spawn to exit; cpu = user+sys)')
if (go) {
  // Each command against Go in the same round, so a round slowed by the machine shows in both.
  const goRounds = wall.get('Go edgevpn -g -b')!
  console.log('x Go per round')
  for (const c of cases.slice(0, -1))
    console.log(
      c.name.padEnd(24) +
        wall
          .get(c.name)!
          .map((w, r) => (w / goRounds[r]).toFixed(1).padStart(6))
          .join(''),
    )
}
