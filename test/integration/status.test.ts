/**
 * `kairosctl status` end to end on loopback: the built CLI (node bin/run.js;
 * `npm test` builds first) against our API server with a fake backend, over
 * TCP and a unix socket, against a real in-process peer (its API, and joining
 * its network with the token), and the errors when nothing answers or the
 * address is malformed.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { LedgerData } from '../../src/ledger-access/types.js'
import { peerBackend } from '../../src/api/peer-backend.js'
import type { ApiBackend } from '../../src/api/backend.js'
import { startApiServer } from '../../src/api/server.js'
import { UserError } from '../../src/errors.js'
import { healthcheckTime } from '../../src/ledger/go-time.js'
import { EdgePeer } from '../../src/peer/peer.js'
import { gatherStatus } from '../../src/status/gather.js'
import type { Status } from '../../src/status/model.js'
import { generateToken } from '../../src/token/token.js'
import { run, type Run } from '../helpers/cli.js'

const ME = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const N2 = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const N3 = '12D3KooWRBhwfeP2Y9CDkFRBeZ1nfEV9ZtSnfbrqvnKP5PPqTq8Q'

/** Exactly one stderr line, `error: <expected>`, no stack trace. */
function assertOneErrorLine(r: Run, expected: string): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${r.stderr}`)
  assert.equal(lines[0], `error: ${expected}`)
  assert.doesNotMatch(r.stderr, /\n\s+at |UserError/)
}

/** A loopback port nothing listens on (released before returning). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolvePort(port))
    })
  })
}

const machine = (id: string, ip: string, host: string): string => JSON.stringify({ PeerID: id, Hostname: host, OS: 'linux', Arch: 'amd64', Address: ip, Version: 'v0.35.3' })

/** A bridge-like node: us at 10.1.0.254, node-2 connected and live, node-3 not connected and stale. */
function fakeBackend(): ApiBackend {
  const data: LedgerData = {
    machines: { '10.1.0.254': machine(ME, '10.1.0.254', 'bridge'), '10.1.0.2': machine(N2, '10.1.0.2', 'node-2'), '10.1.0.3': machine(N3, '10.1.0.3', 'node-3') },
    healthcheck: {
      [ME]: JSON.stringify(healthcheckTime()),
      [N2]: JSON.stringify(healthcheckTime(new Date(Date.now() - 5000))),
      [N3]: JSON.stringify(healthcheckTime(new Date(Date.now() - 3 * 3600_000))),
    },
  }
  return {
    nodeId: () => ME,
    data: () => data,
    lastBlockJson: () => '{}',
    index: () => 42,
    topicPeers: () => [N2],
    knownPeers: () => [N2, N3],
    isConnected: (id) => id === N2,
    persist: () => {},
    persistJson: () => {},
    deleteKey: () => {},
    deleteBucket: () => {},
  }
}

test('status --api: the table, and --json (also through EDGEVPN_API and a unix socket)', async (t) => {
  const api = await startApiServer(fakeBackend(), '127.0.0.1:0')
  t.after(() => api.close())

  const [r, j] = await Promise.all([run(['status', '--api', api.address]), run(['status', '--json'], { EDGEVPN_API: api.address })])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '', 'no progress output without a terminal')
  const lines = r.stdout.split('\n')
  assert.deepEqual(lines.slice(0, 6), [
    `node      ${ME}`,
    'vpn       10.1.0.254 (bridge)',
    `via       API ${api.address}`,
    'peers     1 connected on the network, 2 in the peer store',
    'machines  1 of 2 other machines connected, 1 live',
    'ledger    block 42',
  ])
  assert.match(lines[7], /^ADDRESS +HOSTNAME +PEER +HEALTHCHECK +CONNECTED$/)
  assert.match(lines[8], /^10\.1\.0\.2 +node-2 +…kSCVe2Xo +[4-9]s ago +yes$/)
  assert.match(lines[9], /^10\.1\.0\.3 +node-3 +…5PPqTq8Q +3h ago \(stale\) +no$/)
  assert.match(lines[10], /^10\.1\.0\.254 +bridge +…tDakuKzm +(just now|\ds ago) +this node$/)

  assert.equal(j.code, 0, j.stderr)
  const s = JSON.parse(j.stdout) as Status
  assert.equal(s.source, 'api')
  assert.equal(s.api, api.address)
  assert.deepEqual(s.node, { peerId: ME, shortLived: false, vpnAddress: '10.1.0.254', hostname: 'bridge' })
  assert.deepEqual(s.ledger, { height: 42 })
  assert.deepEqual(s.peers, { onNetwork: 1, peerstore: 2, machines: 2, machinesConnected: 1, machinesLive: 1 })
  assert.deepEqual(
    s.machines.map((m) => [m.address, m.self, m.connected, m.onNetwork, m.live]),
    [
      ['10.1.0.2', false, true, true, true],
      ['10.1.0.3', false, false, false, false],
      ['10.1.0.254', true, false, false, true],
    ],
  )
  assert.ok(s.machines[0].healthcheckAgeSeconds! >= 4 && s.machines[0].healthcheckAgeSeconds! < 60)
  assert.equal(s.liveTtlSeconds, 480)

  const dir = await mkdtemp(join(tmpdir(), 'kairosctl-status-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const sock = await startApiServer(fakeBackend(), `unix://${join(dir, 'api.sock')}`)
  t.after(() => sock.close())
  const u = await run(['status', '--api', sock.address, '--json'])
  assert.equal(u.code, 0, u.stderr)
  assert.equal((JSON.parse(u.stdout) as Status).api, sock.address)
})

test('status: nothing answering, or a malformed --api, is one error line', async () => {
  const port = await freePort()
  const [r, j, bad, worse, both] = await Promise.all([
    run(['status', '--api', `http://127.0.0.1:${port}`]),
    run(['status', '--api', `127.0.0.1:${port}`, '--json']),
    run(['status', '--api', 'ftp://127.0.0.1:21']),
    run(['status', '--api', 'http://[nope']),
    run(['status', '--api', '127.0.0.1:1', '--network-token', 'x']),
  ])
  assert.equal(r.code, 1)
  assert.equal(r.stdout, '')
  assertOneErrorLine(r, `no EdgeVPN API answers at http://127.0.0.1:${port}: is the node or \`kairosctl bridge\` running? Or pass --network-token to join the network directly`)

  assert.equal(j.code, 1)
  assert.deepEqual(JSON.parse(j.stdout), {
    error: `no EdgeVPN API answers at 127.0.0.1:${port}: is the node or \`kairosctl bridge\` running? Or pass --network-token to join the network directly`,
    exitCode: 1,
  })

  assert.equal(bad.code, 2)
  assertOneErrorLine(bad, 'unsupported API address ftp://127.0.0.1:21: use http://HOST:PORT or unix:///path')
  assert.equal(worse.code, 2)
  assertOneErrorLine(worse, 'invalid API address http://[nope: use http://HOST:PORT or unix:///path')
  assert.equal(both.code, 2)
  assertOneErrorLine(both, '--api and --network-token cannot be used together: pass --api to use a running node, or --network-token to join the network')
})

/** A loopback HTTP server answering every GET with `answer(path)`. */
async function serve(answer: (path: string) => string): Promise<{ address: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => res.end(answer(req.url ?? '/')))
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready))
  return {
    address: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => done())
      }),
  }
}

test('an API that is not EdgeVPN: not JSON is one error line, odd shapes count as empty', async (t) => {
  const html = await serve(() => '<html>hello</html>')
  t.after(() => html.close())
  const err = await gatherStatus({ api: html.address }).catch((e: unknown) => e)
  assert.ok(err instanceof UserError)
  assert.equal(err.line(), `the API at ${html.address} answered something other than JSON: is it an EdgeVPN API?`)

  const odd = await serve((path) => (path === '/api/summary' ? '[1,2]' : path === '/api/machines' ? '{"a":1}' : path === '/api/ledger/healthcheck' ? '{"x":5}' : 'null'))
  t.after(() => odd.close())
  const s = await gatherStatus({ api: odd.address })
  assert.deepEqual([s.node.peerId, s.ledger.height, s.peers.peerstore, s.machines], [null, null, 0, []])
})

test("without --api or a token: the bridge's default API, then the Kairos socket, else one line with a hint", async (t) => {
  const port = await freePort()
  const nowhere = `http://127.0.0.1:${port}`
  const err = await gatherStatus({ defaultApi: nowhere, kairosSocket: { path: '/nonexistent.sock', exists: () => false } }).catch((e: unknown) => e)
  assert.ok(err instanceof UserError)
  assert.equal(err.exitCode, 1)
  assert.equal(err.line(), `no bridge API answers at ${nowhere}: start one with \`sudo kairosctl bridge --network-token "$TOKEN"\`, or pass --api URL or --network-token`)

  const dir = await mkdtemp(join(tmpdir(), 'kairosctl-status-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'edgevpn-kairos.sock')
  const sock = await startApiServer(fakeBackend(), `unix://${path}`)
  t.after(() => sock.close())
  const s = await gatherStatus({ defaultApi: nowhere, kairosSocket: { path, exists: () => true } })
  assert.equal(s.api, `unix://${path}`)
  assert.equal(s.node.vpnAddress, '10.1.0.254')

  const viaDefault = await gatherStatus({ defaultApi: sock.address, kairosSocket: { path: '/nonexistent.sock', exists: () => false } })
  assert.equal(viaDefault.ledger.height, 42)
})

test('status against a real peer: through its API, and as a short-lived peer joining with the token', async (t) => {
  const token = generateToken()
  const a = await EdgePeer.start({ token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce', syncIntervalMs: 500 })
  t.after(() => a.stop())
  a.ledger.put('machines', '10.1.0.7', { PeerID: a.id, Hostname: 'node-a', OS: 'linux', Arch: 'amd64', Address: '10.1.0.7', Version: 'test' })
  a.ledger.put('healthcheck', a.id, healthcheckTime())
  const api = await startApiServer(peerBackend(a), '127.0.0.1:0')
  t.after(() => api.close())

  const viaApi = await run(['status', '--api', api.address, '--json'])
  assert.equal(viaApi.code, 0, viaApi.stderr)
  const s = JSON.parse(viaApi.stdout) as Status
  assert.deepEqual(s.node, { peerId: a.id, shortLived: false, vpnAddress: '10.1.0.7', hostname: 'node-a' })
  assert.equal(s.ledger.height, a.ledger.lastBlock().index)
  assert.deepEqual(
    s.machines.map((m) => [m.peerId, m.self, m.live]),
    [[a.id, true, true]],
  )

  const joined = await run([
    'status',
    '--json',
    '--network-token',
    token.base64,
    '--no-mdns',
    '--no-dht',
    '--timeout',
    '20',
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--bootstrap-peer',
    a.host.getMultiaddrs()[0].toString(),
  ])
  assert.equal(joined.code, 0, joined.stderr)
  const n = JSON.parse(joined.stdout) as Status
  assert.equal(n.source, 'network')
  assert.equal(n.api, null)
  assert.equal(n.node.shortLived, true)
  assert.equal(n.node.vpnAddress, null)
  assert.ok(n.node.peerId && n.node.peerId !== a.id)
  assert.ok(typeof n.ledger.height === 'number' && n.ledger.height >= 1)
  assert.deepEqual(
    n.machines.map((m) => [m.address, m.hostname, m.self, m.connected, m.live]),
    [['10.1.0.7', 'node-a', false, true, true]],
  )
  assert.deepEqual({ ...n.peers, peerstore: undefined }, { onNetwork: 1, peerstore: undefined, machines: 1, machinesConnected: 1, machinesLive: 1 })
})
