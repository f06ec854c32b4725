/**
 * The API of a running `kairosctl bridge --no-tun` (the built CLI; `npm test`
 * builds first) on a unix socket: the file at the socket path is replaced only
 * when it is a stale socket, and no request body can take the bridge down —
 * bodies over the token's max_message_size are refused with 413 as they
 * arrive, and the bridge keeps serving. Its /metrics answers in Prometheus's
 * text format.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { generateToken, tokenYaml } from '../../src/token/token.js'
import { assertOneErrorLine, root, run } from '../helpers/cli.js'
import { stopProcessGroup } from '../helpers/netns.js'
import { rawExchange, TOO_LARGE } from '../helpers/raw-http.js'
import { StopWaiting, waitFor } from '../helpers/wait.js'

const MAX = 64 * 1024
const token = Buffer.from(tokenYaml(generateToken({ interval: 9000n, maxMessageSize: MAX }))).toString('base64')
const bridgeArgs = (api: string): string[] => ['bridge', '--network-token', token, '--no-tun', '--no-dht', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', api]

test('the bridge refuses to replace a file at its socket path, replaces a stale socket, and survives any request body; /metrics', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kctl-bridgeapi-'))
  t.after(() => rm(dir, { recursive: true, force: true }))

  // A typo'd path pointing at a file: refused, the file untouched.
  const file = join(dir, 'config.yaml')
  await writeFile(file, 'p2p: {}\n')
  const refused = await run([...bridgeArgs(`unix://${file}`), '--identity', join(dir, 'identity')])
  assert.equal(refused.code, 2, refused.stderr)
  assertOneErrorLine(refused, `refusing to serve the API on ${file}: it exists and is not a socket (a regular file)`, 'file at the socket path')
  assert.equal(await readFile(file, 'utf8'), 'p2p: {}\n')

  // A stale socket (its owner was killed) is replaced.
  const sock = join(dir, 'api.sock')
  const owner = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await waitFor(() => stat(sock).then((s) => s.isSocket()), { timeoutMs: 10_000, what: 'the stale socket' })
  owner.kill('SIGKILL')
  await waitFor(() => owner.exitCode !== null || owner.signalCode !== null, { what: 'the socket owner to die' })

  let out = ''
  const bridge: ChildProcess = spawn(process.execPath, [resolve(root, 'bin/run.js'), ...bridgeArgs(`unix://${sock}`), '--identity', join(dir, 'identity')], {
    env: { ...process.env, NO_COLOR: '1', NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  bridge.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')))
  bridge.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')))
  t.after(() => stopProcessGroup(bridge))
  const api = `unix://${sock}`
  const summary = (): Promise<string> => rawExchange(api, 'GET /api/summary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  await waitFor(
    async () => {
      if (bridge.exitCode !== null) throw new StopWaiting(`the bridge exited: ${out}`)
      return /^HTTP\/1\.1 200 /.test(await summary())
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'the bridge API on the replaced socket' },
  )

  // Announced as 1 GiB: refused before a byte of it is read. The client is still sending when the
  // answer comes: it must get to read the answer every time (the server half-closes and reads on
  // for a moment rather than resetting the connection), so the exchange is repeated.
  for (let i = 0; i < 50; i++) {
    assert.match(await rawExchange(api, `PUT /api/ledger/b/k/v HTTP/1.1\r\nHost: x\r\nContent-Length: ${1 << 30}\r\n\r\n`, 'x'.repeat(1024)), TOO_LARGE, `exchange ${i + 1}`)
  }
  // Streamed without a length: refused once past max_message_size, though the body goes on.
  const chunk = 'y'.repeat(16 * 1024)
  const streamed = await rawExchange(api, 'POST /api/dns HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', `4000\r\n${chunk}\r\n`.repeat(MAX / chunk.length + 2), { until: /\n\}\n$/ })
  assert.match(streamed, TOO_LARGE)
  // Within the limit, still served; the bridge is alive and its API answers.
  const record = JSON.stringify({ Regex: 'ok\\.test', Records: { A: '10.1.0.9' } })
  assert.match(
    await rawExchange(api, `POST /api/dns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${record.length}\r\nConnection: close\r\n\r\n`, record),
    /^HTTP\/1\.1 200 [\s\S]*\{"State":"Announcing"\}\n$/,
  )
  assert.equal(bridge.exitCode, null, out)
  assert.match(await summary(), /^HTTP\/1\.1 200 /)
  assert.doesNotMatch(out, /\n\s+at |RangeError|ERR_STRING_TOO_LONG/)

  // Prometheus metrics of the running bridge (no TUN: ledger and connections only).
  const metrics = await rawExchange(api, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.match(metrics, /^HTTP\/1\.1 200 [\s\S]*content-type: text\/plain; version=0\.0\.4; charset=utf-8\r\n/i)
  assert.match(metrics, /\nkairosctl_ledger_height [1-9]\d*\n/)
  assert.match(metrics, /\nkairosctl_ledger_blocks_received_total 0\n/)
  assert.match(metrics, /\nkairosctl_connections\{direction="outbound",type="direct"\} 0\n/)
  assert.match(metrics, /\nkairosctl_transport_connections\{transport="tcp"\} 0\n/)
  assert.match(metrics, /\nkairosctl_connections_limited 0\n/)
  assert.doesNotMatch(metrics, /kairosctl_vpn_/)
  assert.doesNotMatch(metrics, /kairosctl_(dht|discovery)_/, '--no-dht: no DHT families')
})
