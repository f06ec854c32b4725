/**
 * A hole punch joins two outbound TCP dials into one connection (TCP
 * simultaneous open), so neither side is the listener: the protocol gives the
 * roles. Both ends here go through the TCP transport's dial path with a
 * socket of their own (src/peer/patches/tcp-socket-dial.ts), one as the
 * security handshake's initiator and one as its responder, as a hole punch
 * makes them; the connection must then carry streams both ways (identify,
 * ping) and stay open. The responder's stream muxer once kept the client
 * role of the outbound dial, both ends opened odd yamux stream ids, and the
 * first stream closed the connection.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect, type Socket, type AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Transport, Upgrader } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createHost, type PeerHost } from '../../src/peer/host.js'
import { socketDialer, upgradeSocket } from '../../src/peer/patches/tcp-socket-dial.js'
import { waitUntil, withTimeout } from '../helpers/wait.js'

async function host(): Promise<PeerHost> {
  return createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, bootstrapPeers: [], maxMessageSize: 1 << 20 })
}

function internals(node: PeerHost): { transport: Transport; upgrader: Upgrader } {
  const { components } = node as unknown as { components: { transportManager: { getTransports(): Transport[] }; upgrader: Upgrader } }
  const transport = socketDialer(components.transportManager.getTransports())
  assert.ok(transport, 'the TCP transport takes a socket of ours')
  return { transport, upgrader: components.upgrader }
}

/** Two connected sockets on loopback. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const dialled = connect(port, '127.0.0.1')
  await once(dialled, 'connect')
  const [other] = await accepted
  server.close()
  return [dialled, other]
}

let a: PeerHost
let b: PeerHost

before(async () => {
  a = await host()
  b = await host()
})

after(async () => {
  await a?.stop()
  await b?.stop()
})

test('a punched connection where we are the security responder carries streams both ways and stays open', async () => {
  const [sa, sb] = await socketPair()
  const upgrade = (node: PeerHost, socket: Socket, peer: PeerHost, initiator: boolean): Promise<Connection> => {
    const { transport, upgrader } = internals(node)
    const remote = multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort}/p2p/${peer.peerId.toString()}`)
    return upgradeSocket(transport, socket, remote, { upgrader, signal: AbortSignal.timeout(10_000), initiator })
  }
  // a answers the handshake (as our side on a hole punch's first two attempts when we started it), b opens it.
  const [ca, cb] = await withTimeout(Promise.all([upgrade(a, sa, b, false), upgrade(b, sb, a, true)]), 15_000, 'both upgrades')
  assert.equal(ca.remotePeer.toString(), b.peerId.toString())
  assert.equal(cb.remotePeer.toString(), a.peerId.toString())
  assert.equal(ca.direction, 'inbound', 'the responder holds an inbound connection')
  assert.equal(cb.direction, 'outbound', 'the initiator holds an outbound connection')

  // Streams opened from both ends at once (identify runs on each side as the connection opens).
  const rtts = await withTimeout(Promise.all([a.services.ping.ping(b.peerId), b.services.ping.ping(a.peerId)]), 10_000, 'a ping each way').catch((err: Error) => {
    throw new Error(`a ping each way failed (connection at a: ${ca.status}, at b: ${cb.status}): ${err.message}`, { cause: err })
  })
  assert.ok(rtts.every((ms) => ms >= 0))
  await waitUntil(async () => (await a.peerStore.get(b.peerId)).protocols.includes('/ipfs/ping/1.0.0'), { what: 'identify from b, at a' })
  await waitUntil(async () => (await b.peerStore.get(a.peerId)).protocols.includes('/ipfs/ping/1.0.0'), { what: 'identify from a, at b' })

  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(ca.status, 'open', "a's side of the connection is still open")
  assert.equal(cb.status, 'open', "b's side of the connection is still open")
  assert.deepEqual(
    a.getConnections(b.peerId).map((c) => c.id),
    [ca.id],
    'a holds that one connection to b',
  )
})
