/**
 * How our peer finds Go EdgeVPN v0.35.3 nodes, one discovery method at a time:
 * mDNS alone (namespaces on one bridge), a bootstrap peer in the Go → us
 * direction (loopback), and DHT rendezvous through a private DHT made of the
 * test's own nodes (loopback). Each test proves that discovery happened by
 * the method under test: the other methods are off and the peers are never
 * given each other's addresses.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { apiGet, apiPut, generateGoToken, requireGoPeer, startGoPeer, waitForKey } from '../helpers/go-peer.js'
import { createNetwork, requireNetns } from '../helpers/netns.js'
import { startTsPeer } from '../helpers/ts-peer.js'
import { waitFor } from '../helpers/wait.js'

const GO = 'v0.35.3'

describe('discovery of Go EdgeVPN nodes', () => {
  test('mDNS alone: we find a Go node on the same segment, read its key and write one it sees', async (t) => {
    if (!requireNetns(t) || !requireGoPeer(GO, t)) return
    const net = await createNetwork({ count: 2, t })
    const [a, b] = net.nodes as [(typeof net.nodes)[0], (typeof net.nodes)[0]]
    const token = generateGoToken({ version: GO })
    const go = await startGoPeer({ version: GO, token, ownership: 'enforce', netns: a.ns, mdns: true, dht: false, t })
    await apiPut(go.api, 'discovery', 'from-go', 'via-mdns')
    await waitForKey(go.api, 'discovery', 'from-go', '"via-mdns"', { timeoutMs: 15_000 })

    // No bootstrap peer, no DHT: mDNS is the only way to the Go node.
    const ours = await startTsPeer({ token, netns: b.ns, ip: b.ip, mdns: true, dht: false, bootstrapPeers: [], timeoutMs: 30_000, t })
    const ready = await ours.ready()
    assert.equal(ready.synced, true)
    t.diagnostic(`our peer synced ${ready.ms} ms after its process started`)
    assert.equal(await ours.get('discovery', 'from-go'), '"via-mdns"')

    // We dialled the Go node (Go does not discover JS peers by mDNS, see the interop notes),
    // over the namespace network, not over some loopback shortcut.
    const conns = (await ours.conns()).filter((c) => c.peer === go.peerId)
    assert.ok(conns.length > 0, 'connected to the Go node')
    assert.ok(
      conns.some((c) => c.direction === 'outbound' && c.addr.startsWith(`/ip4/${a.ip}/tcp/`)),
      `outbound to ${a.ip}: ${JSON.stringify(conns)}`,
    )
    t.diagnostic(`connections with the Go node: ${conns.map((c) => `${c.direction} ${c.addr}`).join('; ')}`)

    // One connection that we opened is enough for the Go → us direction too.
    await ours.put('discovery', 'from-us', 'hello-from-mdns-peer')
    await waitForKey(go.api, 'discovery', 'from-us', '"hello-from-mdns-peer"', { timeoutMs: 30_000 })

    // Hygiene: the Go node only talked to loopback or to the test subnet.
    for (const ep of await go.remoteEndpoints()) assert.match(ep, /^(127\.|\[::1\]|\[::ffff:127\.|192\.168\.77\.)/, ep)
  })

  test('bootstrap peer, Go → us: a Go node given our address dials us and the ledger syncs both ways', async (t) => {
    if (!requireGoPeer(GO, t)) return
    const token = generateGoToken({ version: GO })
    // Our peer knows nobody (no bootstrap, no mDNS, no DHT): only the Go node can open the connection.
    const ours = await startTsPeer({ token, mdns: false, dht: false, bootstrapPeers: [], timeoutMs: 30_000, t })
    await ours.listening()
    const go = await startGoPeer({ version: GO, token, ownership: 'enforce', bootstrapPeers: [ours.p2pAddr], t })
    await apiPut(go.api, 'discovery', 'from-go', 'via-bootstrap')
    const ready = await ours.ready()
    t.diagnostic(`our peer synced ${ready.ms} ms after its process started`)
    await waitFor(async () => (await ours.get('discovery', 'from-go')) === '"via-bootstrap"', { timeoutMs: 30_000, what: 'the Go key on our peer' })

    const conns = (await ours.conns()).filter((c) => c.peer === go.peerId)
    assert.ok(conns.length > 0, 'connected to the Go node')
    assert.ok(
      conns.every((c) => c.direction === 'inbound'),
      `only inbound connections from the Go node: ${JSON.stringify(conns)}`,
    )

    await ours.put('discovery', 'from-us', 'hello-from-bootstrapped-peer')
    await waitForKey(go.api, 'discovery', 'from-us', '"hello-from-bootstrapped-peer"', { timeoutMs: 30_000 })
    assert.equal(await apiGet(go.api, 'discovery', 'from-us'), '"hello-from-bootstrapped-peer"')
  })

  test('DHT rendezvous: through a private DHT served by one of our peers, a second peer finds a Go node', async (t) => {
    if (!requireGoPeer(GO, t)) return
    const token = generateGoToken({ version: GO })
    // The DHT server runs on ANOTHER network's token: it is pure DHT infrastructure, not a member of
    // the network under test, so it can neither relay that network's gossip nor hand out its peers
    // by gossipsub peer exchange. Whatever the second peer learns about the Go node, it learns from
    // the DHT's provider records for the rendezvous.
    const dhtServer = await startTsPeer({ token: generateGoToken({ version: GO }), mdns: false, dht: true, dhtServer: true, join: false, t })
    await dhtServer.ready()
    const go = await startGoPeer({ version: GO, token, ownership: 'enforce', dht: true, bootstrapPeers: [dhtServer.p2pAddr], t })
    await apiPut(go.api, 'discovery', 'from-go', 'via-dht')
    // A second Go node, also given only the DHT server (its address only; Go kad-dht in auto mode).
    const go2 = await startGoPeer({ version: GO, token, ownership: 'enforce', dht: true, bootstrapPeers: [dhtServer.p2pAddr], t })

    const portOf = (addr: string) => /\/tcp\/(\d+)/.exec(addr)?.[1]
    const goGo = async () => {
      const a = (await go.remoteEndpoints()).some((ep) => ep.endsWith(`:${portOf(go2.listenAddrs[0])}`))
      const b = (await go2.remoteEndpoints()).some((ep) => ep.endsWith(`:${portOf(go.listenAddrs[0])}`))
      return a || b
    }
    // Go nodes alone never find each other over the DHT on private addresses (their kad-dht stays a
    // client, docs/testing.md); with our peer serving the DHT they do, before our second peer exists.
    const t0 = Date.now()
    await waitFor(goGo, { timeoutMs: 30_000, intervalMs: 500, what: 'a direct connection between the two Go nodes' })
    t.diagnostic(`the Go nodes connected to each other through our DHT server after ${Date.now() - t0} ms`)
    // Our second peer is only given the DHT server, never the Go node's address; mDNS is off.
    const ours = await startTsPeer({ token, mdns: false, dht: true, bootstrapPeers: [dhtServer.p2pAddr], timeoutMs: 60_000, t })
    const ready = await ours.ready()
    t.diagnostic(`our peer synced ${ready.ms} ms after its process started`)
    await waitFor(async () => (await ours.get('discovery', 'from-go')) === '"via-dht"', { timeoutMs: 30_000, what: 'the Go key on our peer' })
    const conns = (await ours.conns()).filter((c) => c.peer === go.peerId)
    // Either side may dial first: each finds the other's provider record (no one else knows our address).
    assert.ok(conns.length > 0, 'connected to the Go node')
    t.diagnostic(`connection with the Go node: ${conns.map((c) => c.direction).join(', ')}`)
    // The Go node (a DHT client in auto mode) did store its rendezvous provider record on our server.
    const providers = await ours.providers()
    assert.ok(providers.includes(go.peerId), `Go node among the rendezvous providers: ${JSON.stringify(providers)}`)
    assert.ok(providers.includes(go2.peerId), 'second Go node among the rendezvous providers')
    assert.ok(!providers.includes(dhtServer.peerId), 'the DHT server is not a member of the network')

    await ours.put('discovery', 'from-us', 'hello-from-dht-peer')
    await waitForKey(go.api, 'discovery', 'from-us', '"hello-from-dht-peer"', { timeoutMs: 30_000 })
  })
})
