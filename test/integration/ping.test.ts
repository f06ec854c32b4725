/**
 * `kairosctl ping` through the built CLI (node bin/run.js; `npm test` builds
 * first) against a real in-process peer on loopback: the target found by VPN
 * IP, hostname and peer ID, --json, and one-line errors for targets that are
 * unknown, ambiguous or unreachable; then the same through the API of an
 * in-process bridge without TUN (--api), which pings with its own host.
 * Target resolution rules: unit tests below.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { healthcheckTime } from '../../src/ledger/go-time.js'
import { EdgePeer } from '../../src/peer/peer.js'
import { resolvePingTarget } from '../../src/peer/ping.js'
import { generateToken } from '../../src/token/token.js'
import { runBridge } from '../../src/vpn/bridge.js'
import { assertOneErrorLine, run } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

const A = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const B = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const machine = (id: string, ip: string, host: string): string => JSON.stringify({ PeerID: id, Hostname: host, OS: 'linux', Arch: 'amd64', Address: ip, Version: 'v0.35.3' })

describe('resolvePingTarget', () => {
  const data = { machines: { '10.1.0.1': machine(A, '10.1.0.1', 'node-a'), '10.1.0.2': machine(B, '10.1.0.2', 'twin'), '10.1.0.3': machine(A, '10.1.0.3', 'twin'), '10.1.0.4': '"not a machine"' } }
  test('by VPN IP, hostname (any case) and peer ID', () => {
    assert.deepEqual(resolvePingTarget('10.1.0.1', data), { input: '10.1.0.1', peerId: A, by: 'vpn-ip', address: '10.1.0.1', hostname: 'node-a' })
    assert.deepEqual(resolvePingTarget('NODE-A', data), { input: 'NODE-A', peerId: A, by: 'hostname', address: '10.1.0.1', hostname: 'node-a' })
    assert.equal(resolvePingTarget(B, data).by, 'peer-id')
    assert.equal(resolvePingTarget(B, data).address, '10.1.0.2')
    const other = '12D3KooWRBhwfeP2Y9CDkFRBeZ1nfEV9ZtSnfbrqvnKP5PPqTq8Q'
    assert.deepEqual(resolvePingTarget(other, data), { input: other, peerId: other, by: 'peer-id' }, 'a peer ID need not be in machines')
  })
  test('unknown, ambiguous and empty targets', () => {
    assert.throws(() => resolvePingTarget('10.1.0.9', data), { message: 'no machine has the VPN address 10.1.0.9', hint: 'known: 10.1.0.1, 10.1.0.2, 10.1.0.3' })
    assert.throws(() => resolvePingTarget('10.1.0.4', data), /no machine has the VPN address 10.1.0.4/)
    assert.throws(() => resolvePingTarget('twin', data), { message: 'hostname twin is taken by 2 machines', exitCode: 2 })
    assert.throws(() => resolvePingTarget('nope', data), { message: 'nope is not a VPN IP, hostname or peer ID of this network', hint: 'hostnames: node-a, twin', exitCode: 1 })
    assert.throws(() => resolvePingTarget(' ', data), { exitCode: 2 })
    assert.throws(() => resolvePingTarget('x', {}), { hint: 'the machines bucket is empty; a peer ID works for any peer' })
  })
})

/** A live peer announcing the machine node-a at 10.1.0.7: what the ping tests ping. */
async function startTarget(t: { after(fn: () => unknown): void }) {
  const token = generateToken()
  const a = await EdgePeer.start({ token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce', syncIntervalMs: 500 })
  t.after(() => a.stop())
  a.ledger.put('machines', '10.1.0.7', { PeerID: a.id, Hostname: 'node-a', OS: 'linux', Arch: 'amd64', Address: '10.1.0.7', Version: 'test' })
  a.ledger.put('healthcheck', a.id, healthcheckTime())
  const addr = a.host.getMultiaddrs()[0].toString()
  return { token, a, addr }
}

test('kairosctl ping against an in-process peer', async (t) => {
  const { token, a, addr } = await startTarget(t)
  const join = ['--network-token', token.base64, '--no-mdns', '--no-dht', '--timeout', '20', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap-peer', addr]

  const text = await run(['ping', '10.1.0.7', '-c', '2', '--interval', '100', ...join])
  assert.equal(text.code, 0, text.stderr)
  const lines = text.stdout.trim().split('\n')
  assert.equal(lines[0], `PING node-a (10.1.0.7, ${a.id}): direct via ${addr}`)
  assert.match(lines[1], /^seq=1 time=\d+(\.\d+)? ms$/)
  assert.match(lines[2], /^seq=2 time=\d+(\.\d+)? ms$/)
  assert.match(lines[3], /^2 sent, 2 received, 0% lost; rtt min\/avg\/max [\d.]+\/[\d.]+\/[\d.]+ ms$/)

  const json = await run(['ping', 'node-a', '-c', '1', '--json', ...join])
  assert.equal(json.code, 0, json.stderr)
  const r = JSON.parse(json.stdout)
  assert.deepEqual(r.target, { input: 'node-a', peerId: a.id, by: 'hostname', address: '10.1.0.7', hostname: 'node-a' })
  assert.equal(r.route.direct, true)
  assert.deepEqual([r.sent, r.received, typeof r.replies[0].rttMs], [1, 1, 'number'])

  const unknown = await run(['ping', '10.1.0.99', ...join])
  assert.equal(unknown.code, 1)
  assertOneErrorLine(unknown, 'no machine has the VPN address 10.1.0.99: known: 10.1.0.7', 'unknown VPN IP')
  const unknownJson = await run(['ping', 'ghost', '--json', ...join])
  assert.equal(unknownJson.code, 1)
  assert.match(JSON.parse(unknownJson.stdout).error, /^ghost is not a VPN IP, hostname or peer ID of this network: hostnames: node-a$/)

  // A peer ID nobody on the network has: no address to dial.
  const gone = await run(['ping', '12D3KooWRBhwfeP2Y9CDkFRBeZ1nfEV9ZtSnfbrqvnKP5PPqTq8Q', '--timeout', '3', ...join.filter((x) => x !== '20' && x !== '--timeout')])
  assert.equal(gone.code, 1)
  assertOneErrorLine(gone, 'cannot reach 12D3KooWRBhwfeP2Y9CDkFRBeZ1nfEV9ZtSnfbrqvnKP5PPqTq8Q: no address is known for it: ', 'unreachable peer')

  const noToken = await run(['ping', '10.1.0.7'])
  assert.equal(noToken.code, 2)
  assertOneErrorLine(noToken, 'ping needs a network: pass --network-token', 'no token')
})

test('kairosctl ping --api: a bridge (no TUN) pings with its own host', async (t) => {
  const { token, a, addr } = await startTarget(t)
  const dir = await mkdtemp(join(tmpdir(), 'kctl-ping-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const running = await runBridge({
    peer: { token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, bootstrapPeers: [addr], ownership: 'enforce', syncIntervalMs: 500 },
    address: '10.1.0.254/24',
    api: `unix://${join(dir, 'api.sock')}`,
  })
  t.after(() => running.stop())
  const api = ['--api', running.api!.address]
  await waitFor(() => running.peer.ledger.getKey('machines', '10.1.0.7') !== undefined, { timeoutMs: 20_000, what: "node-a's machines entry on the bridge" })

  const text = await run(['ping', 'node-a', '-c', '2', '--interval', '100', ...api])
  assert.equal(text.code, 0, text.stderr)
  const lines = text.stdout.trim().split('\n')
  assert.equal(lines[0], `PING node-a (10.1.0.7, ${a.id}): direct via ${addr}`)
  assert.match(lines[1], /^seq=1 time=\d+(\.\d+)? ms$/)
  assert.match(lines[2], /^seq=2 time=\d+(\.\d+)? ms$/)
  assert.match(lines[3], /^2 sent, 2 received, 0% lost; rtt min\/avg\/max [\d.]+\/[\d.]+\/[\d.]+ ms$/)

  // The same JSON as with --network-token, the token in the environment losing to --api on the command line.
  const json = await run(['ping', '10.1.0.7', '-c', '1', '--json', ...api], { EDGEVPNTOKEN: token.base64 })
  assert.equal(json.code, 0, json.stderr)
  const r = JSON.parse(json.stdout)
  assert.deepEqual(Object.keys(r), ['target', 'route', 'replies', 'sent', 'received', 'minMs', 'avgMs', 'maxMs'])
  assert.deepEqual(r.target, { input: '10.1.0.7', peerId: a.id, by: 'vpn-ip', address: '10.1.0.7', hostname: 'node-a' })
  assert.deepEqual([r.route.direct, r.sent, r.received, typeof r.replies[0].rttMs], [true, 1, 1, 'number'])

  const unknown = await run(['ping', '10.1.0.99', ...api])
  assert.equal(unknown.code, 1)
  assertOneErrorLine(unknown, 'no machine has the VPN address 10.1.0.99: known: 10.1.0.254, 10.1.0.7', 'unknown VPN IP')
  const gone = await run(['ping', '12D3KooWRBhwfeP2Y9CDkFRBeZ1nfEV9ZtSnfbrqvnKP5PPqTq8Q', '--timeout', '3', ...api])
  assert.equal(gone.code, 1)
  assertOneErrorLine(gone, 'cannot reach 12D3KooWRBhwfeP2Y9CDkFRBeZ1nfEV9ZtSnfbrqvnKP5PPqTq8Q: no address is known for it: ', 'unreachable peer')
  const self = await run(['ping', '10.1.0.254', '--json', ...api])
  assert.equal(self.code, 2)
  assert.match(JSON.parse(self.stdout).error, /^10\.1\.0\.254 is this peer itself: ping another node$/)
  const both = await run(['ping', 'node-a', ...api, '--network-token', token.base64])
  assert.equal(both.code, 2)
  assertOneErrorLine(both, '--api and --network-token cannot be used together', 'both')

  // An API without the route (Go EdgeVPN answers its file server's 404).
  const goLike = http.createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n'))
  await new Promise<void>((resolve) => goLike.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => goLike.close(() => resolve())))
  const old = await run(['ping', 'node-a', '--api', `127.0.0.1:${(goLike.address() as AddressInfo).port}`])
  assert.equal(old.code, 1)
  assertOneErrorLine(old, `the API at 127.0.0.1:${(goLike.address() as AddressInfo).port} cannot ping`, 'API without the route')
})
