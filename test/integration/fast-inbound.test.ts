/**
 * The fast path for inbound streams (src/peer/patches/fast-inbound.ts), between two of
 * our hosts on loopback: a stream of a registered protocol skips libp2p's
 * negotiation and reaches the fast handler with its bytes intact and the
 * remote peer; the opener sees the protocol confirmed; streams of other
 * protocols, and streams that propose an unknown protocol first, still go
 * through libp2p's own multistream-select.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, Stream } from '@libp2p/interface'
import { fastInboundOf } from '../../src/peer/patches/index.js'
import { createHost, type PeerHost } from '../../src/peer/host.js'

const FAST = '/kctl-test/fast/1'
const SLOW = '/kctl-test/slow/1'

async function host(): Promise<PeerHost> {
  return createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, bootstrapPeers: [], maxMessageSize: 1 << 20 })
}

/** Everything a stream delivers until the remote closes its write side (bounded). */
function collect(stream: Stream): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = []
    const timer = setTimeout(() => reject(new Error('timed out reading the stream')), 10_000)
    stream.addEventListener('message', (evt) => {
      parts.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
    })
    const end = (): void => {
      clearTimeout(timer)
      resolve(new Uint8Array(Buffer.concat(parts)))
    }
    if (stream.remoteWriteStatus === 'closed') setImmediate(end)
    else stream.addEventListener('remoteCloseWrite', end)
  })
}

let a: PeerHost
let b: PeerHost
const received: { protocol: string; from: string; data: Uint8Array; window: { capacity: number; size: number } }[] = []

before(async () => {
  a = await host()
  b = await host()
  const fast = fastInboundOf(b)
  assert.ok(fast, 'createHost installs the fast path')
  const keep = (protocol: string, from: PeerId, stream: Stream): void => {
    void collect(stream).then((data) => {
      const { recvWindowCapacity: capacity, recvWindow: size } = stream as unknown as { recvWindowCapacity: number; recvWindow: number }
      received.push({ protocol, from: from.toString(), data, window: { capacity, size } })
      stream.send(data) // echo, then close our side
      return stream.close()
    })
  }
  fast.handle(FAST, (stream, from) => keep(`fast ${stream.protocol}`, from, stream))
  // The libp2p handler for the same protocol catches whatever the fast path passes on.
  await b.handle(FAST, (stream, connection) => keep(`libp2p ${stream.protocol}`, connection.remotePeer, stream))
  await b.handle(SLOW, (stream, connection) => keep(`libp2p ${stream.protocol}`, connection.remotePeer, stream))
  await a.dial(b.getMultiaddrs()[0])
})

after(async () => {
  await a?.stop()
  await b?.stop()
})

async function roundTrip(protocols: string[], payload: Uint8Array): Promise<{ echo: Uint8Array; protocol: string }> {
  const stream = await a.dialProtocol(b.peerId, protocols)
  const echo = collect(stream)
  stream.send(payload)
  await stream.close()
  return { echo: await echo, protocol: stream.protocol }
}

test('a registered protocol reaches the fast handler, bytes and remote peer intact', async () => {
  const fast = fastInboundOf(b)!
  const before = fast.stats.fast
  const payload = Uint8Array.from({ length: 3000 }, (_, i) => i % 251)
  const { echo, protocol } = await roundTrip([FAST], payload)
  assert.equal(protocol, FAST)
  assert.deepEqual(echo, payload)
  const last = received.at(-1)!
  assert.equal(last.protocol, `fast ${FAST}`)
  assert.equal(last.from, a.peerId.toString())
  assert.deepEqual(last.data, payload)
  assert.equal(fast.stats.fast, before + 1)
})

test('a fast-path stream updates its window only once half of it is used, and more than a window arrives whole', async () => {
  const small = Uint8Array.from({ length: 3000 }, (_, i) => i % 253)
  await roundTrip([FAST], small)
  const quiet = received.at(-1)!
  assert.equal(quiet.protocol, `fast ${FAST}`)
  // No update was sent for 3000 bytes: the capacity still lacks them.
  assert.ok(quiet.window.size - quiet.window.capacity >= small.length, `window ${JSON.stringify(quiet.window)}`)
  // Four windows' worth needs the updates to come: collect() gives up after 10 s otherwise.
  const big = Uint8Array.from({ length: 4 * 256 * 1024 + 17 }, (_, i) => (i * 7) % 256)
  const { echo } = await roundTrip([FAST], big)
  assert.deepEqual(received.at(-1)!.data, big)
  assert.deepEqual(echo, big)
})

test('another protocol goes through libp2p as before', async () => {
  const fast = fastInboundOf(b)!
  const before = fast.stats.passed
  const { echo, protocol } = await roundTrip([SLOW], new TextEncoder().encode('slow path'))
  assert.equal(protocol, SLOW)
  assert.equal(new TextDecoder().decode(echo), 'slow path')
  assert.equal(received.at(-1)!.protocol, `libp2p ${SLOW}`)
  assert.equal(fast.stats.passed, before + 1)
})

test('a stream proposing an unknown protocol first is negotiated by libp2p', async () => {
  const { echo, protocol } = await roundTrip(['/kctl-test/unknown/1', FAST], new TextEncoder().encode('second choice'))
  assert.equal(protocol, FAST)
  assert.equal(new TextDecoder().decode(echo), 'second choice')
  assert.equal(received.at(-1)!.protocol, `libp2p ${FAST}`)
})

test('without a fast handler the protocol is served by libp2p', async () => {
  fastInboundOf(b)!.unhandle(FAST)
  const { echo } = await roundTrip([FAST], new TextEncoder().encode('unregistered'))
  assert.equal(new TextDecoder().decode(echo), 'unregistered')
  assert.equal(received.at(-1)!.protocol, `libp2p ${FAST}`)
})
