import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gunzipSync, gzipSync as gzip } from 'node:zlib'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { gossipTopic, sealKey } from '../../src/crypto/derive.js'
import { seal, unseal } from '../../src/crypto/seal.js'
import { GossipHub, RPC_HEADROOM, type GossipMessage, type PubSubLike, type TopicValidator, type ValidationResult } from '../../src/gossip/hub.js'
import { generateToken } from '../../src/token/token.js'

const A = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const B = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

/** An in-memory pubsub: records publications and lets the test deliver messages (validated first, as gossipsub does). */
class FakePubSub implements PubSubLike {
  readonly topicValidators = new Map<string, TopicValidator>()
  /** Validation results, in delivery order. */
  results: ValidationResult[] = []
  subscribed = new Set<string>()
  published: { topic: string; data: Uint8Array }[] = []
  private listeners: ((evt: CustomEvent<GossipMessage>) => void)[] = []
  subscribe(topic: string) {
    this.subscribed.add(topic)
  }
  unsubscribe(topic: string) {
    this.subscribed.delete(topic)
  }
  async publish(topic: string, data: Uint8Array) {
    this.published.push({ topic, data })
    return { recipients: [] as PeerId[] }
  }
  getSubscribers() {
    return []
  }
  addEventListener(_t: 'message', l: (evt: CustomEvent<GossipMessage>) => void) {
    this.listeners.push(l)
  }
  removeEventListener(_t: 'message', l: (evt: CustomEvent<GossipMessage>) => void) {
    this.listeners = this.listeners.filter((x) => x !== l)
  }
  async deliver(msg: GossipMessage) {
    const validator = this.topicValidators.get(msg.topic)
    const result = validator ? await validator(msg.from!, msg) : 'accept'
    this.results.push(result)
    if (result === 'accept') for (const l of this.listeners) l(new CustomEvent('message', { detail: msg }))
  }
}

test('publish wraps a gzip’d, sealed payload in EdgeVPN’s envelope on the derived topic', async () => {
  const token = generateToken({ interval: 9000n })
  const ps = new FakePubSub()
  const now = new Date('2026-08-06T07:06:40Z')
  const hub = new GossipHub(ps, token, A, () => now)
  hub.start()
  try {
    assert.deepEqual([...ps.subscribed], [gossipTopic(token, now)])
    await hub.publish(new TextEncoder().encode('{"Index":1}'))
    const [{ topic, data }] = ps.published
    assert.equal(topic, gossipTopic(token, now))
    const envelope = JSON.parse(new TextDecoder().decode(data))
    assert.deepEqual(Object.keys(envelope), ['Message', 'SenderID', 'Annotations'])
    assert.equal(envelope.SenderID, '')
    assert.equal(envelope.Annotations, null)
    assert.match(envelope.Message, /^[0-9a-f]+$/)
    assert.equal(gunzipSync(unseal(sealKey(token, now), envelope.Message)).toString(), '{"Index":1}')
  } finally {
    hub.stop()
  }
})

test('received payloads are opened with the current or the previous key; others are dropped', async () => {
  const token = generateToken({ interval: 9000n })
  const ps = new FakePubSub()
  let now = new Date(8999_000)
  const hub = new GossipHub(ps, token, A, () => now)
  const got: string[] = []
  const dropped: string[] = []
  hub.on('payload', (p) => got.push(Buffer.from(p).toString()))
  hub.on('dropped', (reason) => dropped.push(reason))
  hub.start()
  try {
    const before = sealKey(token, now)
    const envelope = (key: string, text: string) => new TextEncoder().encode(JSON.stringify({ Message: seal(key, gzip(text)), SenderID: '', Annotations: null }))
    // A message sealed just before the boundary arrives after it.
    now = new Date(9000_000)
    hub['rotate']()
    const topic = hub.currentTopic!
    assert.notEqual(topic, gossipTopic(token, new Date(8999_000)))
    await ps.deliver({ type: 'signed', topic, data: envelope(before, 'old key'), from: peerIdFromString(B) })
    await ps.deliver({ type: 'signed', topic, data: envelope(sealKey(token, now), 'new key'), from: peerIdFromString(B) })
    await ps.deliver({ type: 'signed', topic, data: envelope('0'.repeat(32), 'wrong key'), from: peerIdFromString(B) })
    await ps.deliver({ type: 'signed', topic, data: new TextEncoder().encode('not json'), from: peerIdFromString(B) })
    await ps.deliver({ type: 'signed', topic, data: envelope(sealKey(token, now), 'from self'), from: peerIdFromString(A) })
    await ps.deliver({ type: 'signed', topic: 'other', data: envelope(sealKey(token, now), 'other topic'), from: peerIdFromString(B) })
    assert.deepEqual(got, ['old key', 'new key'])
    assert.equal(dropped.length, 2)
    // What cannot be opened is neither delivered nor forwarded.
    assert.deepEqual(ps.results, ['accept', 'accept', 'ignore', 'ignore', 'accept', 'accept'])
  } finally {
    hub.stop()
  }
})

test('a MaxInt64 token never rotates its topic', () => {
  const token = generateToken()
  assert.equal(gossipTopic(token, new Date(0)), gossipTopic(token, new Date('2100-01-01T00:00:00Z')))
})

test('publishing more than max_message_size fails loudly', async () => {
  const token = generateToken({ interval: 9000n, maxMessageSize: 64 })
  const ps = new FakePubSub()
  const hub = new GossipHub(ps, token, A)
  hub.start()
  try {
    await assert.rejects(hub.publish(new Uint8Array(1000).fill(65).map(() => Math.random() * 255)), /max_message_size/)
  } finally {
    hub.stop()
  }
})

test('the send limit leaves room for the RPC around the envelope', async () => {
  const token = generateToken({ interval: 9000n, maxMessageSize: 64 * 1024 })
  const ps = new FakePubSub()
  const hub = new GossipHub(ps, token, A)
  hub.start()
  try {
    assert.equal(hub.sendLimit, 64 * 1024 - RPC_HEADROOM)
    const random = new Uint8Array(40_000).map(() => Math.floor(Math.random() * 256))
    await assert.rejects(hub.publish(random), /over the network's max_message_size \(65536\)/)
    await hub.publish(random.subarray(0, 20_000))
    assert.ok(ps.published[0].data.length <= hub.sendLimit)
    assert.equal(ps.published[0].data.length, GossipHub.envelopeSize(gzip(random.subarray(0, 20_000)).length))
  } finally {
    hub.stop()
  }
})

test('a gzip bomb is rejected (not delivered, not forwarded) without inflating it whole', async () => {
  const token = generateToken({ interval: 9000n })
  const ps = new FakePubSub()
  const hub = new GossipHub(ps, token, A)
  const got: number[] = []
  const dropped: string[] = []
  hub.on('payload', (p) => got.push(p.length))
  hub.on('dropped', (reason) => dropped.push(reason))
  hub.start()
  try {
    const topic = hub.currentTopic!
    const key = sealKey(token, new Date())
    const wrap = (gz: Uint8Array) => new TextEncoder().encode(JSON.stringify({ Message: seal(key, gz), SenderID: '', Annotations: null }))
    // 256 MiB of zeros in about 250 KB: far over the 20 MiB limit.
    const bomb = gzip(Buffer.alloc(256 << 20))
    const rss = process.memoryUsage().rss
    await ps.deliver({ type: 'signed', topic, data: wrap(bomb), from: peerIdFromString(B) })
    assert.ok(process.memoryUsage().rss - rss < 128 << 20, 'inflation stopped at the limit')
    // Just under the limit still opens; concatenated gzip members too, as Go reads them.
    await ps.deliver({ type: 'signed', topic, data: wrap(gzip(Buffer.alloc(token.maxMessageSize))), from: peerIdFromString(B) })
    await ps.deliver({ type: 'signed', topic, data: wrap(Buffer.concat([gzip('{"Ind'), gzip('ex":1}')])), from: peerIdFromString(B) })
    await ps.deliver({ type: 'signed', topic, data: wrap(new Uint8Array([1, 2, 3])), from: peerIdFromString(B) })
    assert.deepEqual(ps.results, ['reject', 'accept', 'accept', 'ignore'])
    assert.deepEqual(got, [token.maxMessageSize, 11])
    assert.match(dropped[0], /inflates to more than 20971520 bytes/)
    assert.match(dropped[1], /not gzip/)
  } finally {
    hub.stop()
  }
})
