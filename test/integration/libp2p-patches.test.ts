/**
 * The patches of libp2p internals (src/peer/patches/) still take effect: two
 * hosts from createHost connect on loopback, exchange a stream of a
 * fast-path protocol and a gossip message, and every patch's counters must
 * have moved. A counter at zero means an upgrade changed the internals a
 * patch relies on and the patch switched itself off; the failure names the
 * patch, the versions it was written against and the versions installed.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { createHost, type PeerHost } from '../../src/peer/host.js'
import { fastInboundOf, libp2pPatches, type LibP2pPatch } from '../../src/peer/patches/index.js'
import { waitUntil, withTimeout } from '../helpers/wait.js'

const PROTOCOL = '/kctl-test/patches/1'
const LIGHT = '/kctl-test/patches-light/1'
const lightBytes: Uint8Array[] = []
let lightEnded: () => void
const lightDone = new Promise<void>((resolve) => (lightEnded = resolve))
const TOPIC = 'kctl-test-patches'

function installed(pkg: string): string {
  try {
    const json = JSON.parse(readFileSync(new URL(`../../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }
    return json.version
  } catch {
    return 'not found'
  }
}

function versions(patch: LibP2pPatch): string {
  return Object.entries(patch.writtenAgainst)
    .map(([pkg, version]) => `${pkg} ${version} (installed: ${installed(pkg)})`)
    .join(', ')
}

async function host(): Promise<PeerHost> {
  return createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, bootstrapPeers: [], maxMessageSize: 1 << 20 })
}

/** Everything a stream delivers until the remote closes its write side. */
function collect(stream: Stream): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const parts: Uint8Array[] = []
    stream.addEventListener('message', (evt) => {
      parts.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
    })
    const end = (): void => resolve(new Uint8Array(Buffer.concat(parts)))
    if (stream.remoteWriteStatus === 'closed') setImmediate(end)
    else stream.addEventListener('remoteCloseWrite', end)
  })
}

let a: PeerHost
let b: PeerHost
let c: PeerHost

before(async () => {
  a = await host()
  b = await host()
  c = await host()
  fastInboundOf(b)!.handle(PROTOCOL, (stream) => {
    void collect(stream).then((data) => {
      stream.send(data)
      return stream.close()
    })
  })
  fastInboundOf(b)!.handle(
    LIGHT,
    () => {},
    () => ({ data: (bytes) => lightBytes.push(bytes.slice()), end: () => lightEnded() }),
  )
  a.services.pubsub.subscribe(TOPIC)
  b.services.pubsub.subscribe(TOPIC)
  await a.dial(b.getMultiaddrs()[0])
})

after(async () => {
  await a?.stop()
  await b?.stop()
  await c?.stop()
})

test('two hosts exchange a stream and a gossip message, and every libp2p patch took effect', async () => {
  const payload = Uint8Array.from({ length: 5000 }, (_, i) => i % 251)
  const stream = await a.dialProtocol(b.peerId, [PROTOCOL])
  const echo = collect(stream)
  stream.send(payload)
  await stream.close()
  assert.deepEqual(await withTimeout(echo, 10_000, 'the echo of the fast-path stream'), payload)

  const light = await a.dialProtocol(b.peerId, [LIGHT])
  light.send(payload)
  await light.close()
  await withTimeout(lightDone, 10_000, 'the end of the light stream')
  assert.deepEqual(new Uint8Array(Buffer.concat(lightBytes)), payload)

  const gossip = new Promise<Uint8Array>((resolve) => {
    b.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic === TOPIC) resolve(evt.detail.data)
    })
  })
  await waitUntil(() => a.services.pubsub.getSubscribers(TOPIC).some((p) => p.equals(b.peerId)), { what: 'b subscribed, as a sees it' })
  await a.services.pubsub.publish(TOPIC, new TextEncoder().encode('hello'))
  assert.equal(new TextDecoder().decode(await withTimeout(gossip, 10_000, 'the gossip message')), 'hello')

  // A connection from a's listen port, as a hole punch makes it, upgraded by the TCP transport.
  const port = (ma: { toString(): string }) => Number(/\/tcp\/(\d+)/.exec(ma.toString())?.[1])
  const conn = await a.services.holePunch.connectFromListenPort(c.peerId, [{ host: '127.0.0.1', port: port(c.getMultiaddrs()[0]) }], true)
  assert.equal(conn.remotePeer.toString(), c.peerId.toString())
  assert.equal(conn.direction, 'outbound')
  await waitUntil(() => c.getConnections(a.peerId).length > 0, { what: 'c holding the connection from a' })
  const seenByC = c.getConnections(a.peerId)[0]
  assert.equal(port(seenByC.remoteAddr), port(a.getMultiaddrs()[0]), "c sees the connection come from a's listen port")
  assert.equal(seenByC.direction, 'inbound')

  for (const patch of libp2pPatches) {
    for (const counter of patch.effects) {
      const value = patch.stats[counter]
      assert.ok(
        value > 0,
        `libp2p patch "${patch.name}" (${patch.file}) did not take effect: ${counter} stayed at 0 (${JSON.stringify(patch.stats)}). ` +
          `It was written against ${versions(patch)}; an upgrade probably changed the internals it relies on.`,
      )
    }
  }
})
