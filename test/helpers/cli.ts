/**
 * Runs the built CLI (node bin/run.js; `npm test` builds first) in a clean
 * environment, and checks the one-line error contract.
 */
import './hygiene.js'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const bin = resolve(root, 'bin/run.js')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', NODE_NO_WARNINGS: '1' }
  for (const k of ['EDGEVPNTOKEN', 'EDGEVPN_API', 'EDGEVPNBOOTSTRAPPEERS', 'KAIROSCTL_DEBUG']) delete childEnv[k]
  return Object.assign(childEnv, env)
}

/** The CLI with NO_COLOR and nothing of the caller's token, API, peers or debug setting (`env` can set them). */
export function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, env: cliEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      done({ code, stdout, stderr })
    })
  })
}

/** A long-running CLI process (e.g. `bridge`) in the same clean environment; the caller stops it. */
export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  child.unref()
  return child
}

/** One line on stderr, starting with `error: <prefix>`, no stack trace. */
export function assertOneErrorLine(r: Run, prefix: string, label: string): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `${label}: expected one stderr line, got:\n${r.stderr}`)
  assert.ok(lines[0].startsWith(`error: ${prefix}`), `${label}: ${lines[0]}`)
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|UserError|TokenError/, label)
}

/** Runs `jobs` two at a time (the machine is shared). */
export async function runAll<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = []
  let next = 0
  await Promise.all(
    [0, 1].map(async () => {
      while (next < jobs.length) {
        const i = next++
        out[i] = await jobs[i]()
      }
    }),
  )
  return out
}

/** A failing run: non-zero exit, one stderr line, and with --json an `{"error": …}` object on stdout. */
export function assertError(r: Run, json: boolean, label: string): void {
  assert.notEqual(r.code, 0, `${label}: exit code`)
  assertOneErrorLine(r, '', label)
  if (json) {
    const body = JSON.parse(r.stdout) as { error: string; exitCode: number }
    assert.equal(typeof body.error, 'string', label)
    assert.equal(body.exitCode, r.code, label)
  } else assert.equal(r.stdout, '', `${label}: stdout`)
}
