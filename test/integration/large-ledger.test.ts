/**
 * Ledgers near the token's max_message_size: sent and received whole up to
 * the limit, never grown past what can be sent (docs/ledger.md).
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { joinNetwork } from '../../src/ledger-access/network.js'
import { EdgePeer, type PeerOptions } from '../../src/peer/peer.js'
import { generateToken, type NetworkToken } from '../../src/token/token.js'
import { startHostilePeer } from '../helpers/hostile-peer.js'
import { waitFor } from '../helpers/wait.js'

interface AfterContext {
  after(fn: () => unknown): void
}

const MiB = 1 << 20
/** Base64 of random bytes: compresses to about 3/4, so the sealed message is about 1.5 times the value. */
const randomValue = (bytes: number): string => randomBytes(bytes).toString('base64')

async function peers(t: AfterContext, token: NetworkToken, log?: PeerOptions['log']): Promise<[EdgePeer, EdgePeer]> {
  const opts = { token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce' as const, syncIntervalMs: 1000 }
  const a = await EdgePeer.start({ ...opts, log })
  t.after(() => a.stop())
  const b = await EdgePeer.start({ ...opts, bootstrapPeers: [a.host.getMultiaddrs()[0].toString()] })
  t.after(() => b.stop())
  await waitFor(() => a.topicPeers().includes(b.id) && b.topicPeers().includes(a.id), { timeoutMs: 20_000, what: 'both peers on the topic' })
  return [a, b]
}

test('a ledger sealed to more than 4 MiB reaches the other peer, both ways', async (t) => {
  const token = generateToken()
  const [a, b] = await peers(t, token)
  const values = [1, 2, 3, 4].map(() => randomValue(MiB))
  values.forEach((v, i) => a.ledger.put('big', `v${i}`, v))
  await a.announce()
  assert.equal(a.unsendable, undefined)
  await waitFor(() => b.ledger.getKey('big', 'v3') !== undefined, { timeoutMs: 30_000, what: 'the 4 values at the second peer' })
  assert.deepEqual(Object.keys(b.ledger.currentData().big ?? {}).sort(), ['v0', 'v1', 'v2', 'v3'])
  b.ledger.put('small', 'k', 'from b')
  await b.announce()
  await waitFor(() => a.ledger.getKey('small', 'k') !== undefined, { timeoutMs: 30_000, what: 'the second peer’s write back at the first' })
})

test('a write that would make the ledger unsendable is refused and says why', async (t) => {
  const token = generateToken({ maxMessageSize: 256 * 1024 })
  const [a, b] = await peers(t, token)
  const access = await joinNetwork({
    token,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    dht: false,
    ownership: 'enforce',
    bootstrapPeers: [a.host.getMultiaddrs()[0].toString()],
    timeoutMs: 20_000,
  })
  t.after(() => access.close())
  await assert.rejects(
    access.put('big', 'k', randomValue(200 * 1024), { timeoutMs: 10_000 }),
    /refused the write: the sealed ledger would be a \d+-byte message, over the network's max_message_size \(262144\)/,
  )
  assert.equal(access.peer.ledger.getKey('big', 'k'), undefined)
  assert.throws(() => a.ledger.put('big', 'k', randomValue(200 * 1024)), /over the network's max_message_size/)
  // Smaller writes still go through.
  await access.put('small', 'k', 'fine', { timeoutMs: 20_000 })
  await waitFor(() => b.ledger.getKey('small', 'k') !== undefined, { timeoutMs: 20_000, what: 'the small write at the other peer' })
})

test('a hostile block that would grow the ledger past what can be sent is refused; our writes still go out', async (t) => {
  const token = generateToken({ maxMessageSize: 256 * 1024 })
  const warnings: string[] = []
  const [a, b] = await peers(t, token, (level, msg) => level === 'warn' && warnings.push(msg))
  a.ledger.put('ours', 'k', randomValue(60 * 1024))
  await a.announce()
  await waitFor(() => b.ledger.getKey('ours', 'k') !== undefined, { timeoutMs: 20_000, what: 'our value at the other peer' })

  const hostile = await startHostilePeer({ token, t })
  await hostile.dial(a.host.getMultiaddrs()[0].toString())
  await hostile.waitForTopicPeer(a.id)
  // Sendable on its own (about 120 KB sealed), not once merged with ours.
  const junk = Object.fromEntries([0, 1].map((i) => [`j${i}`, JSON.stringify(randomValue(40 * 1024))]))
  assert.ok((await hostile.publishBlock({ Index: 1000, Storage: { junk } })) > 0)
  await waitFor(() => warnings.some((w) => w.includes(`refused a ledger block from ${hostile.id}`)), { timeoutMs: 10_000, what: 'the refusal in the log' })
  assert.equal(a.ledger.getKey('junk', 'j0'), undefined)
  assert.equal(a.unsendable, undefined)

  a.ledger.put('ours', 'after', 'still flowing')
  await a.announce()
  await waitFor(() => b.ledger.getKey('ours', 'after') !== undefined, { timeoutMs: 20_000, what: 'our write after the hostile block' })
})
