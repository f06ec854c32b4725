/**
 * Runs the built CLI (node bin/run.js; `npm test` builds first) in a clean
 * environment, and checks the one-line error contract.
 */
import './hygiene.js'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const bin = resolve(root, 'bin/run.js')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** The CLI with NO_COLOR and nothing of the caller's token, API, peers or debug setting (`env` can set them). */
export function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', NODE_NO_WARNINGS: '1' }
    for (const k of ['EDGEVPNTOKEN', 'EDGEVPN_API', 'EDGEVPNBOOTSTRAPPEERS', 'KAIROSCTL_DEBUG']) delete childEnv[k]
    Object.assign(childEnv, env)
    execFile(process.execPath, [bin, ...args], { cwd: root, env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      done({ code, stdout, stderr })
    })
  })
}

/** One line on stderr, starting with `error: <prefix>`, no stack trace. */
export function assertOneErrorLine(r: Run, prefix: string, label: string): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `${label}: expected one stderr line, got:\n${r.stderr}`)
  assert.ok(lines[0].startsWith(`error: ${prefix}`), `${label}: ${lines[0]}`)
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|UserError|TokenError/, label)
}
