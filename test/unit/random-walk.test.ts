import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PeerInfo } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PacedRandomWalk, type ClosestPeers } from '../../src/peer/random-walk.js'

async function peers(n: number): Promise<PeerInfo[]> {
  return Promise.all(Array.from({ length: n }, async () => ({ id: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), multiaddrs: [] })))
}

/** A routing table that answers every query at once with the same peers. */
function routing(answer: PeerInfo[]): ClosestPeers & { calls: number } {
  const r = {
    calls: 0,
    // Answers at once, as an empty routing table does.
    async *getClosestPeers() {
      r.calls++
      yield* answer
    },
  }
  return r
}

test('random walk: a DHT that answers at once with nobody leaves the event loop free (libp2p’s own walk spins there)', async () => {
  const table = routing([])
  const walk = new PacedRandomWalk(() => table, { min: 50, max: 200 })
  const controller = new AbortController()
  const walker = (async () => {
    for await (const _ of walk.walk({ signal: controller.signal })) assert.fail('no peer to yield')
  })()
  // A timer fires at all only if the walk waits between queries.
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(table.calls >= 1 && table.calls <= 2, `${table.calls} queries before the first timer`)
  controller.abort()
  await assert.rejects(walker)
})

test('random walk: each peer is yielded once per walker, and the walk pauses after a query with nobody new', async () => {
  const found = await peers(3)
  const table = routing(found)
  const walk = new PacedRandomWalk(() => table, { min: 60_000, max: 60_000 })
  const controller = new AbortController()
  const seen: string[] = []
  const walker = (async () => {
    for await (const p of walk.walk({ signal: controller.signal })) seen.push(p.id.toString())
  })()
  await new Promise((resolve) => setTimeout(resolve, 20))
  // The first query yields all three; the second finds them again and yields none; then a minute's pause.
  assert.deepEqual(
    seen,
    found.map((p) => p.id.toString()),
  )
  assert.equal(table.calls, 2)
  controller.abort()
  await assert.rejects(walker)
})

test('random walk: a failing query counts as one that found nobody; the walker ends on abort', async () => {
  let calls = 0
  const failing: ClosestPeers = {
    // eslint-disable-next-line require-yield -- a query that fails before it finds anyone
    async *getClosestPeers() {
      calls++
      await Promise.resolve()
      throw new Error('no peers to query')
    },
  }
  const walk = new PacedRandomWalk(() => failing, { min: 60_000, max: 60_000 })
  const controller = new AbortController()
  const walker = walk.walk({ signal: controller.signal }).next()
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(calls, 1)
  controller.abort()
  await assert.rejects(walker, { name: 'AbortError' })
})
