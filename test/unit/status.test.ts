/** `kairosctl status`: shaping the API's answers into the status object, and printing it. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import chalk from 'chalk'
import type { ApiMachine } from '../../src/api/client.js'
import { UserError } from '../../src/errors.js'
import { healthcheckTime } from '../../src/ledger/go-time.js'
import { formatAge, renderStatus, shortPeerId } from '../../src/cli/render/status.js'
import { buildStatus } from '../../src/status/build.js'
import { gatherStatus } from '../../src/status/gather.js'
import { LIVE_TTL_SECONDS, type StatusInputs } from '../../src/status/model.js'

chalk.level = 0

const ME = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const N2 = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const N3 = '12D3KooWRBhwfeP2Y9CDkFRBeZ1nfEV9ZtSnfbrqvnKP5PPqTq8Q'
const N10 = '12D3KooWHbLZ1iPq5ZA6R9KeA1e6QS8JHH6JqUWyVbUNbTCKjLSN'
const NOW = new Date('2025-06-01T12:00:00.400Z')
const ago = (s: number): string => JSON.stringify(healthcheckTime(new Date(NOW.getTime() - s * 1000)))

function machine(peerId: string, address: string, hostname: string, extra: Partial<ApiMachine> = {}): Partial<ApiMachine> {
  return { PeerID: peerId, Hostname: hostname, OS: 'linux', Arch: 'amd64', Address: address, Version: 'v0.35.3', Connected: false, OnChain: false, Online: true, ...extra }
}

function inputs(over: Partial<StatusInputs> = {}): StatusInputs {
  return {
    source: 'api',
    api: 'http://127.0.0.1:8080',
    summary: { Files: 0, Machines: 4, Users: 0, Services: 0, BlockChain: 1234, OnChainNodes: 2, Peers: 5, NodeID: ME },
    machines: [
      // As a Go node answers for a connected machine: its Connected is always false, OnChain tells.
      machine(N10, '10.1.0.10', 'node-10', { Connected: false, OnChain: true }),
      machine(ME, '10.1.0.254', 'bridge'),
      machine(N3, '10.1.0.3', 'node-3'),
      machine(N2, '10.1.0.2', 'node-2', { Connected: true, OnChain: true }),
    ],
    healthcheck: { [ME]: ago(3), [N2]: ago(12), [N3]: ago(14 * 60), [N10]: ago(0) },
    ...over,
  }
}

test('the status object: this node, counts, machines sorted by address with healthcheck ages', () => {
  const s = buildStatus(inputs(), NOW)
  assert.equal(s.source, 'api')
  assert.equal(s.api, 'http://127.0.0.1:8080')
  assert.deepEqual(s.node, { peerId: ME, shortLived: false, vpnAddress: '10.1.0.254', hostname: 'bridge' })
  assert.deepEqual(s.ledger, { height: 1234 })
  assert.deepEqual(s.peers, { onNetwork: 2, peerstore: 5, machines: 3, machinesConnected: 2, machinesLive: 2 })
  assert.equal(s.time, '2025-06-01T12:00:00Z')
  assert.equal(s.liveTtlSeconds, LIVE_TTL_SECONDS)
  assert.deepEqual(
    s.machines.map((m) => m.address),
    ['10.1.0.2', '10.1.0.3', '10.1.0.10', '10.1.0.254'],
  )
  assert.deepEqual(s.machines[0], {
    peerId: N2,
    hostname: 'node-2',
    address: '10.1.0.2',
    os: 'linux',
    arch: 'amd64',
    version: 'v0.35.3',
    self: false,
    connected: true,
    onNetwork: true,
    link: null,
    healthcheck: '2025-06-01T11:59:48Z',
    healthcheckAgeSeconds: 12,
    live: true,
  })
  const n3 = s.machines[1]
  assert.equal(n3.healthcheckAgeSeconds, 14 * 60)
  assert.equal(n3.live, false, 'older than the TTL')
  assert.equal(s.machines[3].self, true)
  assert.equal(s.machines[2].healthcheckAgeSeconds, 0, 'a healthcheck written in the current second is 0 s old')
  assert.equal(s.machines[2].connected, true, 'on the gossip topic means connected')
  // The object is plain JSON: what --json prints parses back to itself.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s)
})

test("a Go node's sparse answers: missing summary fields are null, missing flags false, the peer store counts", () => {
  const s = buildStatus(
    inputs({
      summary: {},
      machines: [{ PeerID: N2, Address: '10.1.0.2' }, { Hostname: 'no-peer-id' }],
      healthcheck: { [N2]: '"not a time"', stale: ago(1) },
      peerstore: [{ ID: N2 }, { ID: N3 }, { ID: ME }],
    }),
    NOW,
  )
  assert.deepEqual(s.node, { peerId: null, shortLived: false, vpnAddress: null, hostname: null })
  assert.deepEqual(s.ledger, { height: null })
  assert.deepEqual(s.peers, { onNetwork: null, peerstore: 3, machines: 2, machinesConnected: 0, machinesLive: 0 })
  assert.deepEqual(s.machines[0], {
    peerId: N2,
    hostname: '',
    address: '10.1.0.2',
    os: '',
    arch: '',
    version: '',
    self: false,
    connected: false,
    onNetwork: false,
    link: null,
    healthcheck: null,
    healthcheckAgeSeconds: null,
    live: false,
  })
  assert.equal(s.machines[1].peerId, '')
  assert.equal(buildStatus(inputs({ summary: { Peers: '7' as unknown as number } }), NOW).peers.peerstore, null, 'only numbers count')
})

test('healthcheck values: JSON strings in Go RFC 3339 only; a clock ahead gives a negative age but stays live', () => {
  const s = buildStatus(
    inputs({
      machines: [machine(N2, '10.1.0.2', 'a'), machine(N3, '10.1.0.3', 'b'), machine(N10, '10.1.0.4', 'c')],
      healthcheck: { [N2]: '"2025-06-01T12:00:30Z"', [N3]: '2025-06-01T11:59:00Z', [N10]: '"2025-06-01T13:59:00+02:00"' },
    }),
    NOW,
  )
  assert.deepEqual(
    s.machines.map((m) => [m.healthcheckAgeSeconds, m.live]),
    [
      [-30, true],
      [null, false],
      [60, true],
    ],
  )
})

test('a short-lived peer (joined with the token) has no VPN address', () => {
  const s = buildStatus(inputs({ source: 'network', api: undefined, summary: { BlockChain: 7, OnChainNodes: 1, Peers: 1, NodeID: 'peer-x' } }), NOW)
  assert.equal(s.source, 'network')
  assert.equal(s.api, null)
  assert.deepEqual(s.node, { peerId: 'peer-x', shortLived: true, vpnAddress: null, hostname: null })
  assert.equal(s.peers.machines, 4)
  const text = renderStatus(s)
  assert.match(text, /^node +peer-x \(a short-lived peer kairosctl joined with the network token\)$/m)
  assert.match(text, /^vpn +none: a short-lived peer is not part of the VPN$/m)
  assert.doesNotMatch(text, /this node$/m)
})

test('formatAge and shortPeerId', () => {
  assert.deepEqual([0, 0.5, 1, 59, 60, 3599, 3600, 86399, 86400, 200000].map(formatAge), ['just now', 'just now', '1s ago', '59s ago', '1m ago', '59m ago', '1h ago', '23h ago', '1d ago', '2d ago'])
  assert.equal(formatAge(-1), 'just now')
  assert.equal(formatAge(-30), '30s ahead')
  assert.equal(shortPeerId(N2), '…kSCVe2Xo')
  assert.equal(shortPeerId('short'), 'short')
  assert.equal(shortPeerId(''), '')
})

test('the table: header lines, then one row per machine; --verbose adds full IDs, OS/arch and version', () => {
  const s = buildStatus(inputs(), NOW)
  const text = renderStatus(s)
  assert.equal(
    text,
    [
      `node      ${ME}`,
      'vpn       10.1.0.254 (bridge)',
      'via       API http://127.0.0.1:8080',
      'peers     2 connected on the network, 5 in the peer store',
      'machines  2 of 3 other machines connected, 2 live',
      'ledger    block 1234',
      '',
      'ADDRESS     HOSTNAME  PEER       HEALTHCHECK      CONNECTED',
      '10.1.0.2    node-2    …kSCVe2Xo  12s ago          yes',
      '10.1.0.3    node-3    …5PPqTq8Q  14m ago (stale)  no',
      '10.1.0.10   node-10   …bTCKjLSN  just now         yes',
      '10.1.0.254  bridge    …tDakuKzm  3s ago           this node',
      '',
    ].join('\n'),
  )
  const verbose = renderStatus(s, { verbose: true })
  assert.match(verbose, /^ADDRESS +HOSTNAME +PEER +OS\/ARCH +VERSION +HEALTHCHECK +CONNECTED$/m)
  assert.match(verbose, new RegExp(`^10\\.1\\.0\\.2 +node-2 +${N2} +linux/amd64 +v0\\.35\\.3 +12s ago +yes$`, 'm'))
})

test('the table with little to say: no machines, no NodeID, no counts, no healthcheck', () => {
  const empty = renderStatus(buildStatus(inputs({ machines: [] }), NOW))
  assert.match(empty, /^vpn +none: this node has no machines entry$/m)
  assert.match(empty, /^machines +no other machine$/m)
  assert.match(empty, /\n\nno machines in the ledger \(nothing has joined the VPN yet\)\n$/)
  const sparse = renderStatus(buildStatus(inputs({ summary: {}, machines: [{ PeerID: N2 }], healthcheck: {} }), NOW))
  assert.match(sparse, /^node +unknown \(the API does not report its NodeID\)$/m)
  assert.match(sparse, /^peers +unknown \(the API does not report peer counts\)$/m)
  assert.match(sparse, /^ledger +unknown height$/m)
  assert.match(sparse, /^- +- +…\S+ +none +no$/m)
})

test('gatherStatus: a malformed --api is a usage error before anything is sent; --network-token uses the joined peer', async () => {
  const bad = await gatherStatus({ api: 'ftp://somewhere' }).catch((e: unknown) => e)
  assert.ok(bad instanceof UserError)
  assert.equal(bad.exitCode, 2)
  assert.equal(bad.line(), 'unsupported API address ftp://somewhere: use http://HOST:PORT or unix:///path')

  const failing = await gatherStatus({ join: () => Promise.reject(new UserError('no EdgeVPN peers found within 1s')) }).catch((e: unknown) => e)
  assert.ok(failing instanceof UserError)
  assert.equal(failing.message, 'no EdgeVPN peers found within 1s', 'a join failure is reported as is, no API is tried')
})

test('ledger text reaches the terminal without control characters, and clipped', () => {
  const s = buildStatus(inputs({ machines: [machine(N2, '10.1.0.2', `evil\x1b[2J\nhost${'x'.repeat(80)}`)] }), NOW)
  const text = renderStatus(s)
  // eslint-disable-next-line no-control-regex -- no ANSI escape in the output
  assert.doesNotMatch(text, /\x1b/)
  assert.match(text, /^10\.1\.0\.2 +evil\?\[2J\?hostx+… +…kSCVe2Xo +12s ago +no$/m)
  assert.equal(s.machines[0].hostname.startsWith('evil\x1b[2J\n'), true, '--json keeps the value as stored')
})

test('a peer of our own tells direct from relayed connections; the table shows it', () => {
  const s = buildStatus(inputs({ source: 'network', links: { [N2]: 'direct', [N3]: 'relayed' } }), NOW)
  const by = Object.fromEntries(s.machines.map((m) => [m.peerId, m]))
  assert.equal(by[N2].link, 'direct')
  assert.equal(by[N3].link, 'relayed')
  assert.equal(by[N10].link, null)
  const text = renderStatus(s)
  assert.match(text, /10\.1\.0\.2 .* yes \(direct\)$/m)
  assert.match(text, /10\.1\.0\.3 .* relayed only$/m)
})
