/**
 * Fuzzing our peer from a hostile token holder: a few thousand mutated
 * messages (raw bytes, broken envelopes, wrong or no seals, gzip'd or not,
 * mangled ledger JSON, forged entries in owned buckets, gzip bombs of 512 MiB).
 * Afterwards the peer is alive and answering, its memory bounded, the keys
 * an honest second peer wrote are unchanged and the two still sync.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { test } from 'node:test'
import { sealKey } from '../../src/crypto/derive.js'
import { seal } from '../../src/crypto/seal.js'
import { healthcheckTime } from '../../src/ledger/go-time.js'
import { EdgePeer } from '../../src/peer/peer.js'
import { generateToken } from '../../src/token/token.js'
import { envelope, gzipBomb, processMemory, startHostilePeer } from '../helpers/hostile-peer.js'
import { startTsPeer } from '../helpers/ts-peer.js'
import { sleep, waitFor } from '../helpers/wait.js'

const MiB = 1 << 20
const MESSAGES = 3000

/** xorshift32: the same mutations on every run for a given seed. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1
  return (n) => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x % n
  }
}

test(`${MESSAGES} mutated messages: the peer stays up, bounded, and keeps honest keys`, async (t) => {
  const token = generateToken()
  const peer = await startTsPeer({ token: token.base64, join: false, ownership: 'enforce', syncIntervalMs: 1000, putTimeoutMs: 20_000, debug: true, t })
  await peer.ready()
  const honest = await EdgePeer.start({ token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce', syncIntervalMs: 1000, bootstrapPeers: [peer.p2pAddr] })
  t.after(() => honest.stop())
  const machine = JSON.stringify({ PeerID: honest.id, Hostname: 'honest', OS: 'linux', Arch: 'amd64', Address: '10.9.0.1', Version: 'test' })
  honest.ledger.put('healthcheck', honest.id, healthcheckTime())
  honest.ledger.add('machines', '10.9.0.1', machine)
  honest.ledger.put('honest', 'k1', 'v1')
  const expected = structuredClone(honest.ledger.currentData())
  await waitFor(
    async () => {
      await honest.announce()
      return (await peer.get('honest', 'k1')) !== null
    },
    { timeoutMs: 20_000, what: 'the honest keys at our peer' },
  )

  const hostile = await startHostilePeer({ token, t })
  await hostile.dial(peer.p2pAddr)
  await hostile.waitForTopicPeer(peer.peerId)

  const rand = prng(Number(process.env.FUZZ_SEED ?? 20261201))
  const key = sealKey(token, new Date())
  const forged = (owner: string) =>
    `{"Value":${JSON.stringify(JSON.stringify({ PeerID: owner, Address: '10.9.0.1' }))},"Owner":${JSON.stringify(owner)},"Version":${Date.now()}000000,"UpdatedAt":${Math.floor(Date.now() / 1000)},"Deleted":false,"Sig":"${Buffer.alloc(64, 7).toString('base64')}"}`
  // Forged entries only in owned buckets: an open bucket (like `honest` here) takes any higher version, as in EdgeVPN.
  const template = () =>
    `{"Index":${rand(1e6)},"Timestamp":"2026-12-01 00:00:00 +0000 UTC","Storage":{"h":{"a":"\\"x\\"","b":"{\\"n\\":1}"},"machines":{"10.9.0.1":${forged(hostile.id)}},"healthcheck":{"${honest.id}":${forged(honest.id)}}},"Hash":"ff","PrevHash":""}`
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rand(256)))
  const mutate = (s: string): string => {
    const b = Buffer.from(s)
    for (let k = 1 + rand(8); k > 0; k--) {
      const i = rand(b.length)
      switch (rand(3)) {
        case 0:
          b[i] = rand(256)
          break
        case 1:
          b[i] = '{}[]",:0-e\\'.charCodeAt(rand(11))
          break
        default:
          b.copyWithin(i, rand(b.length))
      }
    }
    return b.toString('latin1')
  }
  const weird = [
    'null',
    '[]',
    '{"Storage":[]}',
    '{"Storage":{"b":[1]}}',
    '{"Index":1e400}',
    '{"Index":9223372036854775808}',
    '{"Index":-1,"Storage":{"b":{"k":{"Value":1}}}}',
    '{"Storage":{"b":{"k":{"Version":-1,"Sig":"!"}}}}',
    '"' + 'x'.repeat(10000) + '"',
  ]
  const bomb = await gzipBomb(512 * MiB)

  const before = processMemory(peer.pid!)
  let sent = 0
  for (let i = 0; i < MESSAGES; i++) {
    let data: Uint8Array
    switch (i % 300 === 7 ? 8 : rand(8)) {
      case 0:
        data = randomBytes(rand(2000))
        break
      case 1:
        data = envelope(token, randomBytes(rand(2000)), { gzip: rand(2) === 0 })
        break
      case 2:
        data = envelope(token, template(), { gzip: false })
        break
      case 3:
        data = envelope(token, mutate(template()))
        break
      case 4:
        data = envelope(token, weird[rand(weird.length)], { key: rand(4) === 0 ? false : undefined })
        break
      case 5:
        data = Buffer.from(mutate(Buffer.from(envelope(token, template())).toString('latin1')), 'latin1')
        break
      case 6:
        data = new TextEncoder().encode(JSON.stringify({ Message: seal(key, gzipSync(template()).subarray(0, 10 + rand(40))), SenderID: 'x', Annotations: { sigs: rand(9) } }))
        break
      case 7:
        data = envelope(token, template())
        break
      default:
        data = envelope(token, bomb, { gzip: false })
    }
    sent += (await hostile.publish(data)) > 0 ? 1 : 0
    // Paced, so that most messages are opened rather than ignored for lack of room in the inflation queue.
    if (i % 5 === 4) await sleep(10)
  }
  assert.ok(sent > MESSAGES * 0.9, `only ${sent} messages reached our peer`)

  // Alive and answering; memory bounded.
  assert.equal((await peer.info()).id, peer.peerId)
  const after = processMemory(peer.pid!)
  t.diagnostic(`our peer: RSS ${Math.round(before.rss / MiB)} → ${Math.round(after.rss / MiB)} MiB, peak ${Math.round(before.peak / MiB)} → ${Math.round(after.peak / MiB)} MiB`)
  assert.ok(after.peak - before.peak < 300 * MiB, `peak RSS grew by ${Math.round((after.peak - before.peak) / MiB)} MiB`)
  // The honest peer's keys are unchanged, at our peer and at the honest one.
  const data = await peer.data()
  for (const [bucket, kv] of Object.entries(expected)) {
    for (const [k, v] of Object.entries(kv)) {
      assert.equal(data[bucket]?.[k], v, `${bucket}/${k} at our peer`)
      assert.equal(honest.ledger.currentData()[bucket]?.[k], v, `${bucket}/${k} at the honest peer`)
    }
  }
  // And the two still sync both ways.
  honest.ledger.put('honest', 'after', 'fuzz')
  await waitFor(
    async () => {
      await honest.announce()
      return (await peer.get('honest', 'after')) !== null
    },
    { timeoutMs: 20_000, what: 'a new honest key at our peer' },
  )
  await peer.put('ours', 'after', 'fuzz')
  assert.notEqual(honest.ledger.getKey('ours', 'after'), undefined)
  // The messages were examined, not just dropped at the door.
  const logs = peer.logs()
  for (const what of ['invalid signature', 'inflates to more than', 'ignored a malformed block', 'envelope is not JSON']) assert.ok(logs.includes(what), `no "${what}" in our peer's log`)
})
