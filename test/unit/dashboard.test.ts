/**
 * The bridge dashboard's routes: the page and its files, the overview
 * (node, machines with liveness, peers with traffic), buckets with readable
 * values, and writes only with consent.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LedgerData } from '../../src/ledger-access/types.js'
import { dashboardRoute, overview, WRITES_OFF, type DashboardSource } from '../../src/api/dashboard.js'
import type { ApiBackend } from '../../src/api/backend.js'
import { respond } from '../../src/api/respond.js'
import { readableValue } from '../../src/ledger/readable.js'
import { emptyRouterStats } from '../../src/vpn/router.js'

const ME = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const GO = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const OLD = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
const RELAY = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const NOW = new Date('2026-03-01T12:00:00Z')

const machine = (peer: string, address: string, hostname: string): string => JSON.stringify({ PeerID: peer, Hostname: hostname, OS: 'linux', Arch: 'amd64', Address: address, Version: 'v0.35.3' })
const data: LedgerData = {
  machines: { '10.1.0.254': machine(ME, '10.1.0.254', 'bridge'), '10.1.0.1': machine(GO, '10.1.0.1', 'n1'), '10.1.0.9': machine(OLD, '10.1.0.9', 'gone') },
  // 479 s and 481 s old: live and stale at status's 480 s.
  healthcheck: { [ME]: '"2026-03-01T12:00:00Z"', [GO]: '"2026-03-01T11:52:01Z"', [OLD]: '"2026-03-01T11:51:59Z"' },
  kairos: { ip: '"IjEwLjEuMC4xIg=="', plain: '"abcd"', conf: '"eyJhIjoxLCJiIjpbMTIzNDU2Nzg5MDEyMzQ1Njc4OTBdfQ=="' },
}

function source(opts: { writes?: boolean; vpn?: boolean } = {}) {
  const calls: string[] = []
  const backend: ApiBackend = {
    nodeId: () => ME,
    data: () => data,
    lastBlockJson: () => '{}',
    index: () => 7,
    topicPeers: () => [GO, ME],
    knownPeers: () => [GO, ME],
    isConnected: (id) => id === GO || id === RELAY,
    persist: (b, k, v) => void calls.push(`persist ${b} ${k} ${v}`),
    persistJson: () => {},
    deleteKey: (b, k) => void calls.push(`delete ${b} ${k}`),
    deleteBucket: () => {},
  }
  const src: DashboardSource = {
    backend,
    connections: () => [
      { peer: GO, direction: 'outbound', remoteAddr: '/ip4/192.168.1.10/tcp/4001', relayed: false },
      { peer: RELAY, direction: 'inbound', remoteAddr: '/ip4/192.168.1.11/tcp/4001/p2p/X/p2p-circuit', relayed: true },
    ],
    vpn: () =>
      opts.vpn === false
        ? undefined
        : { stats: { ...emptyRouterStats(), sent: 5, received: 3 }, traffic: new Map([[GO, { packetsOut: 5, bytesOut: 420, packetsIn: 3, bytesIn: 252 }]]), queued: new Map([[GO, 2]]), inFlight: 0 },
    version: '1.2.3',
    writes: opts.writes ?? false,
    now: () => NOW,
  }
  backend.serve = (method, target) => dashboardRoute(src, method, target)
  return { src, backend, calls }
}

const get = (backend: ApiBackend, target: string) => {
  const r = respond(backend, 'GET', target, '')
  return { ...r, body: r.headers['content-type'] === 'application/json' ? JSON.parse(r.text) : r.text }
}

test('overview: this node, machines with healthcheck ages and the 480 s liveness, peers with traffic', () => {
  const o = overview(source().src)
  assert.deepEqual(o.node, { peerId: ME, vpnAddress: '10.1.0.254', hostname: 'bridge', version: '1.2.3' })
  assert.equal(o.time, '2026-03-01T12:00:00Z')
  assert.equal(o.liveTtlSeconds, 480)
  assert.equal(o.writes, false)
  assert.deepEqual(o.ledger, {
    height: 7,
    buckets: [
      { name: 'healthcheck', keys: 3 },
      { name: 'kairos', keys: 3 },
      { name: 'machines', keys: 3 },
    ],
  })
  assert.deepEqual(
    o.machines.map((m) => [m.address, m.hostname, m.self, m.connected, m.healthcheckAgeSeconds, m.live]),
    [
      ['10.1.0.1', 'n1', false, true, 479, true],
      ['10.1.0.9', 'gone', false, false, 481, false],
      ['10.1.0.254', 'bridge', true, true, 0, true],
    ],
  )
  // Connected and gossip peers, not this node; machines first.
  assert.deepEqual(o.peers, [
    {
      peerId: GO,
      address: '10.1.0.1',
      hostname: 'n1',
      onNetwork: true,
      connections: [{ direction: 'outbound', remoteAddr: '/ip4/192.168.1.10/tcp/4001', relayed: false }],
      traffic: { packetsOut: 5, bytesOut: 420, packetsIn: 3, bytesIn: 252 },
      queued: 2,
    },
    {
      peerId: RELAY,
      address: null,
      hostname: null,
      onNetwork: false,
      connections: [{ direction: 'inbound', remoteAddr: '/ip4/192.168.1.11/tcp/4001/p2p/X/p2p-circuit', relayed: true }],
      traffic: { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0 },
      queued: 0,
    },
  ])
  assert.equal(o.vpn?.sent, 5)
})

test('overview without a TUN device: no traffic figures', () => {
  const o = overview(source({ vpn: false }).src)
  assert.equal(o.vpn, null)
  assert.ok(o.peers.every((p) => p.traffic === null && p.queued === null))
})

test('GET /api/kairosctl/overview is JSON, not cached; EdgeVPN routes answer as before', () => {
  const { backend } = source()
  const r = get(backend, '/api/kairosctl/overview')
  assert.equal(r.status, 200)
  assert.equal(r.headers['cache-control'], 'no-store')
  assert.equal(r.body.node.peerId, ME)
  assert.equal(get(backend, '/api/summary').body.NodeID, ME)
  assert.equal(get(backend, '/api/kairosctl/nope').status, 404)
  assert.equal(respond(backend, 'POST', '/api/kairosctl/overview', '').status, 405)
})

test("buckets: values EdgeVPN's Go client wrote are decoded and marked, others shown as stored", () => {
  const { backend } = source()
  const r = get(backend, '/api/kairosctl/ledger?bucket=kairos')
  assert.equal(r.status, 200)
  assert.deepEqual(r.body, {
    bucket: 'kairos',
    entries: [
      { key: 'conf', text: '{\n  "a": 1,\n  "b": [\n    12345678901234567890\n  ]\n}', decoded: true, raw: data.kairos.conf },
      { key: 'ip', text: '10.1.0.1', decoded: true, raw: '"IjEwLjEuMC4xIg=="' },
      { key: 'plain', text: 'abcd', decoded: false, raw: '"abcd"' },
    ],
  })
  assert.equal(get(backend, '/api/kairosctl/ledger?bucket=nope').status, 404)
  assert.equal(get(backend, '/api/kairosctl/ledger').status, 400)
})

test('readableValue: only canonical padded URL base64 of UTF-8 JSON counts as encoded', () => {
  assert.deepEqual(readableValue('"ImhlbGxvIg=="'), { text: 'hello', decoded: true })
  assert.deepEqual(readableValue('"ImhlbGxvIg"'), { text: 'ImhlbGxvIg', decoded: false }, 'unpadded')
  assert.deepEqual(readableValue('"IGhlbGxvIg=="'), { text: 'IGhlbGxvIg==', decoded: false }, 'leading space inside')
  assert.deepEqual(readableValue('"ImhlbGxvIh=="'), { text: 'ImhlbGxvIh==', decoded: false }, 'not canonical')
  assert.deepEqual(readableValue('{"Address":"10.1.0.1"}'), { text: '{\n  "Address": "10.1.0.1"\n}', decoded: false })
  assert.deepEqual(readableValue('not json'), { text: 'not json', decoded: false })
})

test('writes from the page need consent; with it they go to the ledger', () => {
  const off = source()
  for (const method of ['PUT', 'DELETE']) {
    const r = respond(off.backend, method, '/api/kairosctl/ledger?bucket=b&key=k&value=v', '')
    assert.equal(r.status, 403)
    assert.deepEqual(JSON.parse(r.text), { error: WRITES_OFF })
  }
  assert.deepEqual(off.calls, [])
  // EdgeVPN's own write route stays open, as its clients need.
  assert.equal(respond(off.backend, 'PUT', '/api/ledger/b/k/v', '').status, 200)
  assert.deepEqual(off.calls, ['persist b k v'])

  const on = source({ writes: true })
  assert.equal(respond(on.backend, 'PUT', '/api/kairosctl/ledger?bucket=b&key=k%2F1&value=a%3Db%20c', '').status, 200)
  assert.equal(respond(on.backend, 'PUT', '/api/kairosctl/ledger?bucket=b&key=k&value=hello&encode=1', '').status, 200)
  assert.equal(respond(on.backend, 'DELETE', '/api/kairosctl/ledger?bucket=b&key=k', '').status, 200)
  assert.equal(respond(on.backend, 'PUT', '/api/kairosctl/ledger?bucket=b&key=k', '').status, 400)
  assert.equal(respond(on.backend, 'POST', '/api/kairosctl/ledger?bucket=b&key=k&value=v', '').status, 405)
  assert.deepEqual(on.calls, ['persist b k/1 a=b c', 'persist b k ImhlbGxvIg==', 'delete b k'])
  assert.equal(overview(on.src).writes, true)
})

test('the page: served at the root with a strict policy, and loads nothing from elsewhere', () => {
  const { backend } = source()
  const page = get(backend, '/')
  assert.equal(page.status, 200)
  assert.match(page.headers['content-type'], /^text\/html/)
  assert.match(page.headers['content-security-policy'], /default-src 'self'/)
  assert.match(page.body, /<title>kairosctl bridge<\/title>/)
  const refs = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
  assert.deepEqual(refs.sort(), ['kairosctl/dashboard.css', 'kairosctl/dashboard.js'])
  for (const [path, type] of [
    ['/kairosctl/dashboard.js', /^text\/javascript/],
    ['/kairosctl/dashboard.css', /^text\/css/],
  ] as const) {
    const r = get(backend, path)
    assert.equal(r.status, 200, path)
    assert.match(r.headers['content-type'], type)
    assert.doesNotMatch(r.body, /https?:\/\/|@import|\/\/[a-z0-9.-]+\.[a-z]{2,}\//i, `${path} refers to nothing outside the bridge`)
  }
  // Without the dashboard the root is EdgeVPN's 404, as before.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- dropped, never called
  const { serve: _, ...plain } = backend
  assert.equal(respond(plain, 'GET', '/', '').status, 404)
})
