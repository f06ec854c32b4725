/**
 * Token interoperability with the Go EdgeVPN binary (v0.35.3):
 * - tokens printed by `edgevpn -g -b` parse with our parser;
 * - tokens printed by our `generate-token` start a Go node cleanly.
 * The Go node listens on loopback only, with DHT, mDNS, NAT mapping, AutoNAT,
 * AutoRelay and hole punching off, so it never talks beyond 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { MAX_INT64, parseToken } from '../../src/token/token.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const peersDir = process.env.KAIROSCTL_GO_PEERS || join(homedir(), '.cache', 'kairosctl', 'go-peers')
const edgevpn = join(peersDir, 'v0.35.3', 'edgevpn')
const missing = existsSync(edgevpn) ? false : `Go EdgeVPN v0.35.3 not installed at ${edgevpn} (npm run go-peers)`

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer()
    srv.once('error', fail)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => done(typeof addr === 'object' && addr ? addr.port : 0))
    })
  })
}

const cleanups: (() => void)[] = []
after(() => {
  for (const c of cleanups.splice(0)) c()
})

function kairosctl(args: string[]): string {
  return execFileSync(process.execPath, [join(root, 'bin/run.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_NO_WARNINGS: '1', NO_COLOR: '1' },
    timeout: 60_000,
  })
}

interface Started {
  child: ChildProcess
  log: () => string
  stop: () => void
}

function startGoNode(token: string, apiPort: number): Started {
  const home = mkdtempSync(join(tmpdir(), 'kctl-interop-'))
  let log = ''
  const child = spawn(
    edgevpn,
    [
      'api',
      '--listen',
      `127.0.0.1:${apiPort}`,
      '--listen-maddrs',
      '/ip4/127.0.0.1/tcp/0',
      '--dht=false',
      '--mdns=false',
      '--autorelay=false',
      '--natmap=false',
      '--natservice=false',
      '--holepunch=false',
      '--log-level',
      'debug',
    ],
    {
      cwd: home,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        EDGEVPNTOKEN: token,
        EDGEVPNDHT: 'false',
        EDGEVPNMDNS: 'false',
        EDGEVPNNATMAP: 'false',
        EDGEVPNNATSERVICE: 'false',
        EDGEVPNAUTORELAY: 'false',
        EDGEVPNHOLEPUNCH: 'false',
      },
    },
  )
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()))
  let stopped = false
  const stop = (): void => {
    if (stopped) return
    stopped = true
    try {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
    rmSync(home, { recursive: true, force: true })
  }
  cleanups.push(stop)
  return { child, log: () => log, stop }
}

async function waitForSummary(node: Started, apiPort: number, timeoutMs = 20_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (node.child.exitCode !== null) throw new Error(`Go node exited with ${node.child.exitCode}:\n${node.log()}`)
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/summary`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return await res.json()
      last = `HTTP ${res.status}`
    } catch (err) {
      last = String(err)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`Go node API did not answer within ${timeoutMs} ms (${last}):\n${node.log()}`)
}

describe('token interop with Go EdgeVPN v0.35.3', { skip: missing }, () => {
  it('tokens from `edgevpn -g -b` parse with our parser', () => {
    for (let i = 0; i < 5; i++) {
      const out = execFileSync(edgevpn, ['-g', '-b'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: tmpdir() } })
      const t = parseToken(out)
      assert.equal(t.otp.crypto.interval, 360n) // edgevpn's --key-otp-interval default
      assert.equal(t.otp.dht.length, 43)
      assert.equal(t.room.length, 43)
      assert.equal(t.maxMessageSize, 20971520)
      assert.equal(t.base64, out.trim())
    }
  })

  for (const [name, args, interval] of [
    ['default (MaxInt64)', [], MAX_INT64],
    ['INTERVAL 9000', ['9000'], 9000n],
  ] as const) {
    it(`a token from our generate-token ${name} starts a Go node cleanly`, { timeout: 60_000 }, async () => {
      const token = kairosctl(['generate-token', ...args]).trim()
      assert.equal(parseToken(token).otp.crypto.interval, interval)
      const port = await freePort()
      const node = startGoNode(token, port)
      try {
        const summary = await waitForSummary(node, port)
        assert.equal(typeof summary, 'object')
        // Give the hub a moment to derive its first topic from the token.
        await new Promise((r) => setTimeout(r, 1500))
        assert.equal(node.child.exitCode, null, `Go node exited:\n${node.log()}`)
        assert.doesNotMatch(node.log(), /parsing yaml|illegal base64|cannot unmarshal|panic|invalid token/i, node.log())
      } finally {
        node.stop()
      }
    })
  }
})
