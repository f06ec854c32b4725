/** Our own peers on loopback: gossip, ledger sync both ways, and the API served from a peer. */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ApiLedgerAccess } from '../../src/ledger-access/api.js'
import { peerBackend } from '../../src/api/peer-backend.js'
import { startApiServer } from '../../src/api/server.js'
import { joinNetwork } from '../../src/ledger-access/network.js'
import { EdgePeer } from '../../src/peer/peer.js'
import { generateToken } from '../../src/token/token.js'
import { encodeBlock } from '../../src/ledger/block.js'
import { forgedBlock, startHostilePeer } from '../helpers/hostile-peer.js'

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('two peers sync the ledger both ways; the API serves it to --api access', async (t) => {
  const token = generateToken()
  const a = await EdgePeer.start({ token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce', syncIntervalMs: 1000 })
  t.after(() => a.stop())
  a.ledger.put('greetings', 'from-a', 'hello')
  const b = await joinNetwork({
    token,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    dht: false,
    ownership: 'auto',
    bootstrapPeers: [a.host.getMultiaddrs()[0].toString()],
    timeoutMs: 20_000,
  })
  t.after(() => b.close())
  assert.equal(await b.get('greetings', 'from-a'), '"hello"')
  assert.equal(b.peer.effectiveMode, 'enforce', 'signed entries detected')
  const [entry] = await b.entries('greetings')
  assert.equal(entry.owner, a.id)
  assert.equal(entry.signed, true)

  await b.put('greetings', 'from-b', 'hi there', { timeoutMs: 20_000 })
  assert.equal(a.ledger.getKey('greetings', 'from-b'), '"hi there"')

  const api = await startApiServer(peerBackend(a), '127.0.0.1:0')
  t.after(() => api.close())
  const viaApi = new ApiLedgerAccess(api.address)
  assert.deepEqual(await viaApi.data(), await b.data())
  await viaApi.put('greetings', 'from-api', 'c2VlbiB0aHJvdWdoIHRoZSBBUEk=')
  await until(async () => b.get('greetings', 'from-api'))
  await viaApi.delete('greetings', 'from-a')
  await until(async () => ((await b.get('greetings', 'from-a')) === undefined ? true : undefined))
})

test('no peers: joining fails within the timeout with a message naming what was tried', async () => {
  const token = generateToken()
  const started = Date.now()
  await assert.rejects(
    joinNetwork({
      token,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      dht: false,
      bootstrapPeers: ['/ip4/127.0.0.1/tcp/9/p2p/12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'],
      timeoutMs: 3000,
    }),
    /no EdgeVPN peers found within 3s \(tried 1 bootstrap peer/,
  )
  assert.ok(Date.now() - started < 10_000)
})

test('peers with another token never exchange ledgers', async (t) => {
  const a = await EdgePeer.start({ token: generateToken(), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, syncIntervalMs: 500 })
  t.after(() => a.stop())
  a.ledger.put('secret', 'k', 'v')
  await assert.rejects(
    joinNetwork({ token: generateToken(), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, bootstrapPeers: [a.host.getMultiaddrs()[0].toString()], timeoutMs: 4000 }),
    /connected to 1 peer\(s\) \(0 on this token's gossip topic\) but no ledger block arrived/,
  )
})

/** Starts joining next to a peer that publishes only crafted legacy blocks; resolves once it sees us on the topic. */
async function joinNextToCraftedPeer(t: { after(fn: () => unknown): void }) {
  const token = generateToken()
  const neighbour = await startHostilePeer({ token, t })
  const joined = joinNetwork({
    token,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    dht: false,
    ownership: 'auto',
    bootstrapPeers: [neighbour.p2pAddr],
    timeoutMs: 20_000,
  })
  await neighbour.onTopic(15_000)
  const publish = (buckets: Record<string, Record<string, unknown>>, index: number) => neighbour.publishBlock(encodeBlock(forgedBlock(buckets, { index }), { legacy: true }))
  return { neighbour, joined, publish }
}

test('a burst of replayed blocks, oldest first: the ledger is read once the burst is over, not at its first block', async (t) => {
  // A neighbour's gossip cache replays its recent messages in any order when we join; the
  // first block of the burst can be an old one without the data the newest holds.
  const { joined, publish } = await joinNextToCraftedPeer(t)
  await publish({ other: { k: 'v' } }, 1)
  await new Promise((r) => setTimeout(r, 150))
  await publish({ other: { k: 'v' }, kairos: { role: 'master' } }, 2)
  const b = await joined
  t.after(() => b.close())
  assert.equal(await b.get('kairos', 'role'), 'master')
})

test('a write replaced by a newer block from the network is not counted as confirmed (legacy ledger)', async (t) => {
  const { neighbour, joined, publish } = await joinNextToCraftedPeer(t)
  await publish({ kairos: { role: '"master/ha"' } }, 5)
  const b = await joined
  t.after(() => b.close())
  assert.equal(b.peer.effectiveMode, 'off')
  // The neighbour answers our write with a newer block of its own that lacks it, and never takes it.
  const seen = neighbour.received.length
  const write = b.put('kairos', 'role', 'worker', { timeoutMs: 5000 })
  await until(() => (neighbour.received.length > seen ? true : undefined), 5000)
  await publish({ kairos: { role: '"master/ha"' } }, 1000)
  await assert.rejects(write, /no peer confirmed the change/)
})
