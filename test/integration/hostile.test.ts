/**
 * A hostile token holder (test/helpers/hostile-peer.ts) against our peer, run
 * as its own process so that its memory can be read, with an observer behind
 * it that records what our peer forwards.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateToken, type NetworkToken } from '../../src/token/token.js'
import { envelope, gzipBomb, processMemory, startHostilePeer, type HostilePeer } from '../helpers/hostile-peer.js'
import { startTsPeer, type TsPeer } from '../helpers/ts-peer.js'
import { sleep, waitFor } from '../helpers/wait.js'

const MiB = 1 << 20

interface AfterContext {
  after(fn: () => unknown): void
}

/** Our peer (a child process), a hostile peer and an observer, both connected only to ours. */
async function setup(t: AfterContext, token: NetworkToken): Promise<{ peer: TsPeer; hostile: HostilePeer; observer: HostilePeer }> {
  const peer = await startTsPeer({ token: token.base64, join: false, ownership: 'enforce', syncIntervalMs: 1000, debug: true, t })
  await peer.ready()
  const hostile = await startHostilePeer({ token, t })
  const observer = await startHostilePeer({ token, t })
  for (const p of [hostile, observer]) {
    await p.dial(peer.p2pAddr)
    await p.waitForTopicPeer(peer.peerId)
  }
  return { peer, hostile, observer }
}

const seenBy = (observer: HostilePeer, data: Uint8Array): boolean => observer.received.some((m) => Buffer.from(m.data).equals(Buffer.from(data)))

/** Publishes a valid block from the hostile peer until the observer got it through our peer (bounded). */
async function probe(token: NetworkToken, hostile: HostilePeer, observer: HostilePeer, n: number): Promise<void> {
  await waitFor(
    async () => {
      const data = envelope(token, JSON.stringify({ Index: n, Storage: { probe: { [`k${n}`]: `"${Date.now()}"` } } }))
      await hostile.publish(data)
      return waitFor(() => seenBy(observer, data), { timeoutMs: 1500, what: 'the probe at the observer' }).then(
        () => true,
        () => false,
      )
    },
    { timeoutMs: 30_000, intervalMs: 0, what: `probe ${n} forwarded by our peer` },
  )
}

test('a gzip bomb is dropped, not forwarded, and does not blow up memory', async (t) => {
  const token = generateToken()
  const { peer, hostile, observer } = await setup(t, token)
  await probe(token, hostile, observer, 1)

  const bomb = envelope(token, await gzipBomb(1 << 30), { gzip: false }) // 1 GiB of zeros in about 2 MB
  assert.ok(bomb.length < 4 * MiB)
  const before = processMemory(peer.pid!)
  await hostile.publish(bomb)
  await probe(token, hostile, observer, 2)
  await sleep(1000)

  assert.ok(!seenBy(observer, bomb), 'the bomb was forwarded to the observer')
  const after = processMemory(peer.pid!)
  t.diagnostic(`our peer: RSS ${Math.round(before.rss / MiB)} → ${Math.round(after.rss / MiB)} MiB, peak ${Math.round(before.peak / MiB)} → ${Math.round(after.peak / MiB)} MiB`)
  assert.ok(after.peak - before.peak < 200 * MiB, `peak RSS grew by ${Math.round((after.peak - before.peak) / MiB)} MiB`)
  // Still serving; the probes after the bomb were merged.
  assert.equal((await peer.info()).id, peer.peerId)
  assert.notEqual(await peer.get('probe', 'k2'), null)
})

test('a block of a million tiny entries is refused whole; the peer keeps serving and syncing', async (t) => {
  const token = generateToken()
  const { peer, hostile, observer } = await setup(t, token)
  await probe(token, hostile, observer, 1)
  const keys = Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":"1"`).join(',')
  const block = envelope(token, `{"Index":1000,"Storage":{"junk":{${keys}}}}`)
  assert.ok(block.length < 8 * MiB, `${block.length} bytes`)
  const before = processMemory(peer.pid!)
  await hostile.publish(block)
  await probe(token, hostile, observer, 2)
  // The big block takes longer to open than the probe: wait until it was handled either way.
  const handled = await waitFor(async () => (peer.logs().includes('block has more than 163840 entries') ? 'refused' : (await peer.get('junk', 'k1')) !== null && 'merged'), {
    timeoutMs: 60_000,
    what: 'the big block handled',
  })
  assert.equal(handled, 'refused')
  const after = processMemory(peer.pid!)
  t.diagnostic(`our peer: message ${Math.round(block.length / MiB)} MiB, peak RSS ${Math.round(before.peak / MiB)} → ${Math.round(after.peak / MiB)} MiB`)
  assert.equal(await peer.get('junk', 'k1'), null)
  assert.notEqual(await peer.get('probe', 'k2'), null)
  assert.ok(after.peak - before.peak < 600 * MiB, `peak RSS grew by ${Math.round((after.peak - before.peak) / MiB)} MiB`)
})
