/**
 * Holding a relay slot (what the bridge does so that nodes behind NAT can reach
 * it), on loopback: a host that listens on /p2p-circuit with a DHT and nobody
 * to ask stays idle instead of spinning in the random walk, and once it meets
 * a relay (a js-libp2p circuit relay v2 server here; Go nodes serve the same
 * protocol) it reserves a slot, announces the relayed address, and another
 * peer reaches it through the relay.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createHost, type PeerHost } from '../../src/peer/host.js'
import { PacedRandomWalk } from '../../src/peer/random-walk.js'
import { waitFor } from '../helpers/wait.js'

const stops: (() => unknown)[] = []
after(async () => {
  for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => {})
})

async function host(relayReservation: boolean, bootstrapPeers: string[] = []): Promise<PeerHost> {
  const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], dht: true, bootstrapPeers, maxMessageSize: 1 << 20, relayReservation })
  stops.push(() => h.stop())
  return h
}

test('listening on /p2p-circuit with an empty DHT leaves the event loop free (the paced random walk replaces libp2p’s)', async () => {
  const h = await host(true)
  assert.ok((h.services as Record<string, unknown>).randomWalk instanceof PacedRandomWalk, 'the host uses the paced walk')
  // libp2p's own walk never yields to timers here: the process sat at 100 % CPU and this never resolved.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(
    h.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit')),
    false,
  )
})

test('with a relay among its peers, the host reserves a slot, announces the relayed address and is reached through it', async () => {
  const relay: Libp2p = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), relay: circuitRelayServer() },
  })
  stops.push(() => relay.stop())
  const relayAddr = relay.getMultiaddrs()[0].toString()
  const behindNat = await host(true, [relayAddr])
  const relayed = await waitFor(() => behindNat.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit')), { timeoutMs: 20_000, what: 'a /p2p-circuit address of ours' })
  assert.ok(relayed.toString().startsWith(relayAddr), `${relayed.toString()} goes through ${relayAddr}`)

  const other = await host(false)
  const connection = await other.dial(relayed)
  assert.ok(connection.limits !== undefined, 'a relayed connection is limited')
  assert.equal(connection.remotePeer.toString(), behindNat.peerId.toString())
})
