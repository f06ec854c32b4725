import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import type { Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { Libp2p, PeerInfo, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import type { KadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ExitCode, UsageError, UserError } from '../errors.js'
import type { PubSubLike } from '../gossip/hub.js'
import { holePunch, type HolePunch } from './nat/holepunch.js'
import type { HostAddress } from './nat/reachability.js'
import { HostPatches } from './patches/index.js'
import { pacedRandomWalk } from './random-walk.js'

export interface HostOptions {
  privateKey: PrivateKey
  listen: string[]
  /** The token's mDNS name; mDNS is off when undefined. */
  mdnsName?: string
  /** Run a Kademlia DHT (client mode unless dhtServer). */
  dht: boolean
  dhtServer?: boolean
  bootstrapPeers: string[]
  maxMessageSize: number
  /** Ask the router for port mappings with UPnP (Go EdgeVPN's --natmap); off when undefined. */
  natmap?: boolean
  /**
   * Hold a slot on a relay (circuit relay v2) and announce the relayed address,
   * so that nodes behind NAT can reach us and a hole punch can follow.
   */
  relayReservation?: boolean
}

/** Our addresses as libp2p's address manager keeps them (with what verified them). */
export interface AddressInfo {
  addresses(): HostAddress[]
}

export type PeerHost = Libp2p<{
  identify: ReturnType<ReturnType<typeof identify>>
  identifyPush: ReturnType<ReturnType<typeof identifyPush>>
  ping: ReturnType<ReturnType<typeof ping>>
  /** The hub's view of gossipsub, and the subscription changes the peer answers. */
  pubsub: PubSubLike & { addEventListener(type: 'subscription-change', listener: (evt: CustomEvent<SubscriptionChangeData>) => void): void }
  holePunch: HolePunch
  dht?: KadDHT
  addressInfo: AddressInfo
}>

/**
 * go-libp2p computes gossipsub message ids as the author's peer-id bytes
 * followed by the 8-byte big-endian sequence number; js-libp2p's default uses
 * the public key protobuf instead. Ids must agree for IHAVE/IWANT to work.
 */
export function goMessageId(msg: Message): Uint8Array {
  if (msg.type !== 'signed') throw new Error('EdgeVPN gossip is always signed')
  const from = msg.from.toMultihash().bytes
  const id = new Uint8Array(from.length + 8)
  id.set(from)
  new DataView(id.buffer).setBigUint64(from.length, msg.sequenceNumber)
  return id
}

/**
 * A libp2p host that go-libp2p EdgeVPN nodes accept: TCP, Noise, Yamux,
 * identify, ping, and gossipsub configured as EdgeVPN configures it (strict
 * signing, flood publishing, peer exchange, bootstrap peers as direct peers).
 */
export async function createHost(opts: HostOptions): Promise<PeerHost> {
  const listen = opts.listen.map(checkListenAddr)
  const directPeers = opts.bootstrapPeers.map(checkBootstrapPeer)
  const peerDiscovery = []
  if (opts.mdnsName) peerDiscovery.push(mdns({ serviceTag: `${opts.mdnsName}.local`, interval: 5000 }))
  if (opts.bootstrapPeers.length > 0) peerDiscovery.push(bootstrap({ list: opts.bootstrapPeers, timeout: 0 }))

  const services: Record<string, unknown> = {
    identify: identify(),
    identifyPush: identifyPush(),
    ping: ping(),
    holePunch: holePunch(),
    // Takes the place of libp2p's random walk, which spins when the DHT answers at once (src/peer/random-walk.ts).
    randomWalk: pacedRandomWalk(),
    // AutoNAT v1, as Go EdgeVPN nodes serve it (--natservice): we dial back for
    // them, and they confirm which of our public addresses can be dialled.
    autoNAT: autoNAT(),
    addressInfo: (components: { addressManager: { getAddressesWithMetadata(): HostAddress[] } }): AddressInfo => ({
      addresses: () => components.addressManager.getAddressesWithMetadata(),
    }),
    pubsub: gossipsub({
      globalSignaturePolicy: 'StrictSign',
      floodPublish: true,
      doPX: true,
      directPeers,
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      emitSelf: false,
      msgIdFn: goMessageId,
      maxInboundDataLength: Math.max(opts.maxMessageSize, 4 * 1024 * 1024),
      // EdgeVPN runs gossipsub without peer scoring; many peers on one IP are normal in a test or a NAT.
      scoreParams: { IPColocationFactorWeight: 0, behaviourPenaltyWeight: 0 },
    }),
  }
  if (opts.dht) {
    services.dht = kadDHT({
      clientMode: !opts.dhtServer,
      peerInfoMapper: passthroughMapper,
      allowQueryWithZeroPeers: true,
    })
  }

  // Only listen addresses other than loopback can be mapped: with none, no gateway is even searched for.
  if (opts.natmap && listen.some((ma) => !/^\/ip[46]\/(127\.|::1\/)/.test(ma.toString()))) {
    // The router's answer is trusted as it is in go-libp2p (NATPortMap): the mapped
    // address is announced at once, so nodes that find us on the DHT can dial it.
    services.upnpNAT = uPnPNAT({ autoConfirmAddress: true, portMappingDescription: 'kairosctl' })
  }

  const patches = new HostPatches()
  const node = await createLibp2p({
    start: false,
    privateKey: opts.privateKey,
    // Listening on /p2p-circuit asks the relay transport for a reservation on a relay it finds
    // among the peers it connects to (any that speak the relay's hop protocol).
    addresses: { listen: [...listen.map(String), ...(opts.relayReservation ? ['/p2p-circuit'] : [])] },
    // Relayed connections (dialled through a node's /p2p-circuit address) are limited: gossip and
    // VPN traffic wait for the direct connection a hole punch makes (src/peer/nat/holepunch.ts).
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [patches.connectionEncrypter(noise())],
    // EdgeVPN nodes open a stream per VPN packet: allow many streams at once, and
    // streams that arrive before the connection is fully set up (more than 10
    // of those would otherwise abort the connection).
    streamMuxers: [patches.streamMuxer(yamux({ maxInboundStreams: 4096, maxOutboundStreams: 4096, maxEarlyStreams: 256 }))],
    peerDiscovery,
    services: services as never,
    connectionManager: { maxConnections: 512 },
  })
  patches.attach(node, node.services.pubsub, opts.maxMessageSize)
  try {
    await node.start()
  } catch (err) {
    await Promise.resolve(node.stop()).catch(() => {})
    throw listenError(err)
  }
  // libp2p 3 does not dial discovered peers by itself.
  node.addEventListener('peer:discovery', (evt: CustomEvent<PeerInfo>) => {
    const peer = evt.detail
    if (peer.id.equals(node.peerId) || node.getConnections(peer.id).length > 0) return
    node.dial(peer.id).catch(() => {})
  })
  await node.start()
  return node as PeerHost
}

function badAddress(what: string, addr: string, why: string, hint: string): UsageError {
  return new UsageError(`invalid ${what} ${JSON.stringify(addr)}: ${why}`, hint)
}

function parseAddr(what: string, addr: string, hint: string): Multiaddr {
  if (/\s/.test(addr)) throw badAddress(what, addr, 'it contains white space', 'separate several addresses with commas, or repeat the flag')
  try {
    return multiaddr(addr)
  } catch (err) {
    throw badAddress(what, addr, (err as Error).message, hint)
  }
}

/** A listen address our transport can use: /ip4/ADDR/tcp/PORT or /ip6/ADDR/tcp/PORT. */
function checkListenAddr(addr: string): Multiaddr {
  const hint = 'use a TCP multiaddr such as /ip4/0.0.0.0/tcp/4001 (port 0: any free port)'
  const ma = parseAddr('listen address', addr, hint)
  const names = ma.getComponents().map((c) => c.name)
  if (names.length !== 2 || !['ip4', 'ip6'].includes(names[0]) || names[1] !== 'tcp') throw badAddress('listen address', addr, 'only TCP over IPv4 or IPv6 is supported', hint)
  return ma
}

/** A bootstrap peer: a multiaddr ending in /p2p/<peer id> (gossipsub direct peer and discovery dial target). */
function checkBootstrapPeer(addr: string): { id: ReturnType<typeof peerIdFromString>; addrs: Multiaddr[] } {
  const hint = 'use the full address of a node, e.g. /ip4/192.168.1.10/tcp/4001/p2p/12D3KooW…'
  const ma = parseAddr('bootstrap peer', addr, hint)
  const components = ma.getComponents()
  if (components.at(-1)?.name !== 'p2p') throw badAddress('bootstrap peer', addr, 'it does not end in /p2p/<peer id>', hint)
  const ids = components
    .filter((c) => c.name === 'p2p')
    .map((c) => {
      try {
        return peerIdFromString(c.value ?? '')
      } catch {
        throw badAddress('bootstrap peer', addr, `${c.value} is not a peer id`, hint)
      }
    })
  return { id: ids.at(-1)!, addrs: [ma] }
}

/** libp2p's listen failure (one multi-line message for all addresses) as one line about the first address that failed. */
function listenError(err: unknown): unknown {
  const m = /^\s*(\/\S+): (.+)$/m.exec(err instanceof Error ? err.message : '')
  if (!m) return err
  const [, addr, detail] = m
  const code = /\b(E[A-Z]+)\b/.exec(detail)?.[1]
  if (code === 'EADDRINUSE') return new UserError(`cannot listen on ${addr}: the address is already in use`, { hint: 'stop what uses it, or pass --listen with another port (port 0: any free port)' })
  if (code === 'EADDRNOTAVAIL') return new UserError(`cannot listen on ${addr}: no network interface has this address`, { hint: 'pass --listen with an address of this machine, or 0.0.0.0' })
  if (code === 'EACCES') return new UserError(`cannot listen on ${addr}: permission denied`, { exitCode: ExitCode.Permission, hint: 'ports below 1024 need root: pick a higher port' })
  return new UserError(`cannot listen on ${addr}: ${detail.replace(/^\w*Error: /, '')}`)
}
