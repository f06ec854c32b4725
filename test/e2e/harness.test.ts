/**
 * Proves the reference-peer harness: real Go EdgeVPN nodes on loopback and in
 * network namespaces, their API, ledger propagation between them, and that
 * every process and namespace is gone afterwards.
 *
 *   node --import tsx --test test/e2e/harness.test.ts      (as root for the namespace tests)
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, test } from 'node:test'
import {
  apiGet,
  apiLedger,
  apiMachines,
  apiPeerstore,
  apiPut,
  apiSummary,
  generateGoToken,
  goPeerBinary,
  goPeerSupportsFlag,
  isLoopbackEndpoint,
  requireGoPeer,
  startGoPeer,
  waitForKey,
  type GoPeer,
} from '../helpers/go-peer.js'
import { createNetwork, leftoverNamespaces, requireNetns, type TestNetwork } from '../helpers/netns.js'
import { waitFor, waitUntil } from '../helpers/wait.js'

const CURRENT = 'v0.35.3'
const LEGACY = 'v0.34.0'

function processGone(pid: number | undefined): boolean {
  if (pid === undefined) return true
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

async function assertOnlyEndpoints(peer: GoPeer, allowed: (endpoint: string) => boolean, what: string): Promise<void> {
  const endpoints = await peer.remoteEndpoints()
  const foreign = endpoints.filter((e) => !allowed(e))
  assert.deepEqual(foreign, [], `${peer.version} ${peer.peerId} talks to non-${what} endpoints: ${foreign.join(', ')}`)
}

const uniqueKey = (label: string) => `${label}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`

describe('Go reference peers on loopback', () => {
  test('installed binaries and their flags', (t) => {
    if (!requireGoPeer(CURRENT, t)) return
    assert.ok(goPeerSupportsFlag(CURRENT, 'ownership'), `${CURRENT} should have --ownership`)
    assert.ok(goPeerSupportsFlag(CURRENT, 'discovery-bootstrap-peers'))
    if (goPeerBinary(LEGACY)) {
      assert.equal(goPeerSupportsFlag(LEGACY, 'ownership'), false, `${LEGACY} predates --ownership`)
    } else {
      t.diagnostic(`${LEGACY} not installed`)
    }
  })

  test('hygiene guards refuse non-local discovery', async (t) => {
    if (!requireGoPeer(CURRENT, t)) return
    const token = generateGoToken({ version: CURRENT })
    await assert.rejects(startGoPeer({ version: CURRENT, token, mdns: true }), /mDNS is only allowed inside/)
    await assert.rejects(startGoPeer({ version: CURRENT, token, dht: true }), /DHT needs local bootstrapPeers/)
    await assert.rejects(startGoPeer({ version: CURRENT, token, listen: ['/ip4/0.0.0.0/tcp/4001'] }), /only use loopback multiaddrs/)
    await assert.rejects(startGoPeer({ version: CURRENT, token, vpnAddress: '10.1.0.9/24' }), /run them in a namespace/)
    if (goPeerBinary(LEGACY)) {
      await assert.rejects(startGoPeer({ version: LEGACY, token, ownership: 'off' }), /has no --ownership flag/)
    }
  })

  test(`${CURRENT} and ${LEGACY} share a ledger through bootstrap peers (DHT and mDNS off)`, async (t) => {
    if (!requireGoPeer(CURRENT, t) || !requireGoPeer(LEGACY, t)) return
    const token = generateGoToken({ version: CURRENT })
    // v0.34.0 only speaks the legacy (unsigned) ledger format: the v0.35 node must run with ownership off.
    const a = await startGoPeer({ version: CURRENT, token, ownership: 'off', t })
    const b = await startGoPeer({ version: LEGACY, token, bootstrapPeers: a.p2pAddrs, t })
    t.diagnostic(`start-up: ${CURRENT} ${a.startupMs} ms, ${LEGACY} ${b.startupMs} ms`)

    for (const peer of [a, b]) {
      const summary = await apiSummary(peer.api)
      assert.equal(summary.NodeID, peer.peerId)
      assert.match(peer.api, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.ok(
        peer.listenAddrs.every((m) => m.startsWith('/ip4/127.0.0.1/tcp/')),
        peer.listenAddrs.join(' '),
      )
    }

    const k1 = uniqueKey('a2b')
    const started = Date.now()
    assert.deepEqual(await apiPut(a.api, 'harness', k1, 'from-current'), { State: 'Announcing' })
    assert.equal(await waitForKey(b.api, 'harness', k1, '"from-current"', { timeoutMs: 30_000 }), '"from-current"')
    t.diagnostic(`${CURRENT} → ${LEGACY}: visible after ${Date.now() - started} ms`)

    const k2 = uniqueKey('b2a')
    const started2 = Date.now()
    await apiPut(b.api, 'harness', k2, 'from-legacy')
    await waitForKey(a.api, 'harness', k2, '"from-legacy"', { timeoutMs: 30_000 })
    t.diagnostic(`${LEGACY} → ${CURRENT}: visible after ${Date.now() - started2} ms`)
    assert.equal(await apiGet(a.api, 'harness', 'no-such-key'), '')

    await assertOnlyEndpoints(a, isLoopbackEndpoint, 'loopback')
    await assertOnlyEndpoints(b, isLoopbackEndpoint, 'loopback')

    await a.stop()
    await b.stop()
    await a.stop() // idempotent
    assert.ok(processGone(a.pid) && processGone(b.pid), 'Go processes must be gone after stop()')
  })

  test(`two ${CURRENT} nodes in the default (enforce) ownership mode`, async (t) => {
    if (!requireGoPeer(CURRENT, t)) return
    const token = generateGoToken({ version: CURRENT })
    const a = await startGoPeer({ version: CURRENT, token, t })
    const b = await startGoPeer({ version: CURRENT, token, ownership: 'enforce', bootstrapPeers: a.p2pAddrs, t })
    const key = uniqueKey('enf')
    await apiPut(b.api, 'harness', key, 'signed')
    await waitForKey(a.api, 'harness', key, '"signed"', { timeoutMs: 30_000 })
    // Healthchecks of both nodes reach both ledgers.
    await waitUntil(
      async () => {
        const ledger = await apiLedger(a.api)
        return Boolean(ledger.healthcheck?.[a.peerId] && ledger.healthcheck?.[b.peerId])
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'both healthchecks in the ledger' },
    )
    await assertOnlyEndpoints(a, isLoopbackEndpoint, 'loopback')
  })

  test(`${CURRENT} (enforce) and ${LEGACY} cannot read each other's ledger blocks`, async (t) => {
    if (!requireGoPeer(CURRENT, t) || !requireGoPeer(LEGACY, t)) return
    const token = generateGoToken({ version: CURRENT })
    const a = await startGoPeer({ version: CURRENT, token, ownership: 'enforce', t })
    const b = await startGoPeer({ version: LEGACY, token, bootstrapPeers: a.p2pAddrs, t })
    await apiPut(a.api, 'harness', uniqueKey('x'), 'signed')
    // The legacy node cannot decode signed entries; the enforcing node rejects unsigned ones.
    await waitFor(() => /cannot unmarshal object into Go struct field Block\.Storage/.test(b.logs()), {
      timeoutMs: 30_000,
      what: `${LEGACY} failing to decode a signed block`,
    })
    await waitFor(() => /ownership violation \(rejected\)/.test(a.logs()), {
      timeoutMs: 30_000,
      what: `${CURRENT} rejecting an unsigned entry`,
    })
  })
})

describe('Go reference peers in network namespaces', () => {
  test('namespaces: ping across the bridge, teardown is complete and idempotent', async (t) => {
    if (!requireNetns(t)) return
    const net = await createNetwork({ count: 3, t })
    assert.equal(net.nodes.length, 3)
    for (const node of net.nodes.slice(1)) {
      assert.ok(await net.ping(net.nodes[0].ns, node.ip), `ping ${net.nodes[0].ns} → ${node.ip}`)
    }
    const sleeper = net.spawn(net.nodes[1].ns, 'sleep', ['600'])
    assert.ok(sleeper.pid)
    // A Go node that is never stopped explicitly dies with its namespace.
    let orphan: GoPeer | undefined
    if (goPeerBinary(CURRENT)) {
      const token = generateGoToken({ version: CURRENT })
      orphan = await startGoPeer({ version: CURRENT, token, netns: net.nodes[2].ns })
      assert.ok(existsSync(orphan.workDir))
    }
    await net.teardown()
    await net.teardown()
    assert.deepEqual(
      leftoverNamespaces().filter((n) => n.startsWith(net.id)),
      [],
      'namespaces must be gone after teardown',
    )
    await waitUntil(() => processGone(sleeper.pid), { timeoutMs: 5_000, what: 'the sleep process to die' })
    if (orphan) {
      const peer = orphan
      await waitUntil(() => processGone(peer.pid) && !existsSync(peer.workDir), {
        timeoutMs: 5_000,
        what: 'the orphaned Go node and its temporary directory to disappear',
      })
    }
  })

  test(`two ${CURRENT} nodes find each other with mDNS and share a ledger`, async (t) => {
    if (!requireNetns(t) || !requireGoPeer(CURRENT, t)) return
    const net: TestNetwork = await createNetwork({ count: 2, t })
    const [n0, n1] = net.nodes
    assert.ok(await net.ping(n0.ns, n1.ip), 'namespaces must reach each other before the nodes start')

    const token = generateGoToken({ version: CURRENT })
    const a = await startGoPeer({ version: CURRENT, token, netns: n0.ns, mdns: true, listen: [`/ip4/${n0.ip}/tcp/4001`], t })
    const b = await startGoPeer({ version: CURRENT, token, netns: n1.ns, mdns: true, listen: [`/ip4/${n1.ip}/tcp/4001`], t })
    t.diagnostic(`start-up in namespaces: ${a.startupMs} ms, ${b.startupMs} ms; APIs ${a.api}, ${b.api}`)
    assert.match(a.api, /^unix:\/\//)

    const found = Date.now()
    await waitUntil(async () => (await apiPeerstore(a.api)).some((p) => p.ID === b.peerId), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'node A to discover node B over mDNS',
    })
    t.diagnostic(`mDNS discovery took ${Date.now() - found} ms`)

    const key = uniqueKey('mdns')
    await apiPut(a.api, 'harness', key, 'over-mdns')
    await waitForKey(b.api, 'harness', key, '"over-mdns"', { timeoutMs: 30_000 })
    const back = uniqueKey('back')
    await apiPut(b.api, 'harness', back, 'reply')
    await waitForKey(a.api, 'harness', back, '"reply"', { timeoutMs: 30_000 })

    const inSubnet = (e: string) => e.startsWith(`${net.subnet}.`) || isLoopbackEndpoint(e)
    await assertOnlyEndpoints(a, inSubnet, 'test-subnet')
    await assertOnlyEndpoints(b, inSubnet, 'test-subnet')
  })

  test(`two ${CURRENT} VPN nodes route a ping through their TUNs`, async (t) => {
    if (!requireNetns(t) || !requireGoPeer(CURRENT, t)) return
    const net = await createNetwork({ count: 2, t })
    const [n0, n1] = net.nodes
    const token = generateGoToken({ version: CURRENT })
    const a = await startGoPeer({ version: CURRENT, token, netns: n0.ns, mdns: true, vpnAddress: '10.1.0.1/24', t })
    const b = await startGoPeer({ version: CURRENT, token, netns: n1.ns, mdns: true, vpnAddress: '10.1.0.2/24', t })
    await waitUntil(async () => (await apiMachines(a.api)).filter((m) => m.Address).length >= 2, {
      timeoutMs: 45_000,
      intervalMs: 250,
      what: 'both machines entries in the ledger',
    })
    const started = Date.now()
    await waitUntil(() => net.ping(n0.ns, '10.1.0.2', { timeoutS: 1 }), {
      timeoutMs: 45_000,
      intervalMs: 250,
      what: 'a ping from 10.1.0.1 to 10.1.0.2 over EdgeVPN',
    })
    t.diagnostic(`VPN ping answered after ${Date.now() - started} ms`)
    const tun = await net.exec(n0.ns, 'ip', ['-br', 'addr', 'show', 'edgevpn0'])
    assert.match(tun.stdout, /10\.1\.0\.1\/24/)
    assert.ok(b.running())
  })
})
