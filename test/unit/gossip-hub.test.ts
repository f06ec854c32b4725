import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gunzipSync, gzipSync as gzip } from 'node:zlib'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { gossipTopic, sealKey } from '../../src/crypto/derive.js'
import { seal, unseal } from '../../src/crypto/seal.js'
import { GossipHub, type GossipMessage, type PubSubLike } from '../../src/gossip/hub.js'
import { generateToken } from '../../src/token/token.js'

const A = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const B = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

/** An in-memory pubsub: records publications and lets the test deliver messages. */
class FakePubSub implements PubSubLike {
  subscribed = new Set<string>()
  published: { topic: string; data: Uint8Array }[] = []
  private listeners: ((evt: CustomEvent<GossipMessage>) => void)[] = []
  subscribe(topic: string) { this.subscribed.add(topic) }
  unsubscribe(topic: string) { this.subscribed.delete(topic) }
  async publish(topic: string, data: Uint8Array) {
    this.published.push({ topic, data })
    return { recipients: [] as PeerId[] }
  }
  getSubscribers() { return [] }
  addEventListener(_t: 'message', l: (evt: CustomEvent<GossipMessage>) => void) { this.listeners.push(l) }
  removeEventListener(_t: 'message', l: (evt: CustomEvent<GossipMessage>) => void) { this.listeners = this.listeners.filter((x) => x !== l) }
  deliver(msg: GossipMessage) { for (const l of this.listeners) l(new CustomEvent('message', { detail: msg })) }
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

test('received payloads are opened with the current or the previous key; others are dropped', () => {
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
    const envelope = (key: string, text: string) =>
      new TextEncoder().encode(JSON.stringify({ Message: seal(key, gzip(text)), SenderID: '', Annotations: null }))
    // A message sealed just before the boundary arrives after it.
    now = new Date(9000_000)
    hub['rotate']()
    const topic = hub.currentTopic!
    assert.notEqual(topic, gossipTopic(token, new Date(8999_000)))
    ps.deliver({ type: 'signed', topic, data: envelope(before, 'old key'), from: peerIdFromString(B) })
    ps.deliver({ type: 'signed', topic, data: envelope(sealKey(token, now), 'new key'), from: peerIdFromString(B) })
    ps.deliver({ type: 'signed', topic, data: envelope('0'.repeat(32), 'wrong key'), from: peerIdFromString(B) })
    ps.deliver({ type: 'signed', topic, data: new TextEncoder().encode('not json'), from: peerIdFromString(B) })
    ps.deliver({ type: 'signed', topic, data: envelope(sealKey(token, now), 'from self'), from: peerIdFromString(A) })
    ps.deliver({ type: 'signed', topic: 'other', data: envelope(sealKey(token, now), 'other topic'), from: peerIdFromString(B) })
    assert.deepEqual(got, ['old key', 'new key'])
    assert.equal(dropped.length, 2)
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

