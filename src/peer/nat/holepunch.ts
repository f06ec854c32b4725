/**
 * Hole punching with go-libp2p nodes: our side of DCUtR (`/libp2p/dcutr`).
 *
 * When we reach a node behind NAT through a relay, the relayed connection is
 * limited, and Go EdgeVPN carries neither gossip nor VPN traffic over it. The
 * Go node, seeing an inbound relayed connection, opens a DCUtR stream to us
 * over it and sends CONNECT with its public addresses; we answer CONNECT with
 * ours; it measures the round trip, sends SYNC, and half a round trip later
 * dials us while we dial it on receiving SYNC. Both SYNs open the way through
 * both NATs, and TCP's simultaneous open joins them into one connection.
 *
 * Two things make this work from Node where js-libp2p's own DCUtR does not
 * (docs/wan.md): our address is the public IP peers observe for us with our
 * TCP listen port (a port-preserving NAT maps the listen port to the same
 * public port for every destination), and we dial from that port
 * (src/peer/nat/reuseport.ts). The connected socket then goes through the
 * usual upgrade (src/peer/patches/tcp-socket-dial.ts). go-libp2p ≥ 0.41 makes
 * the node that answers CONNECT (us) the security handshake's initiator on
 * its first two attempts and switches roles on the third; we follow.
 *
 * The other way round: a node that dials us through our relay reservation
 * (the bridge holds one, src/peer/host.ts) makes an inbound relayed
 * connection, and then we start, as go-libp2p's initiator does: once identify
 * has run on it, we send CONNECT with our addresses, time the answer, send
 * SYNC, wait half the round trip and dial from our listen port, as the
 * security handshake's responder on the first two attempts and its initiator
 * on the third (of three).
 *
 * Messages: uvarint-length-prefixed protobuf `HolePunch { Type type = 1;
 * repeated bytes ObsAddrs = 2 }`, CONNECT = 100, SYNC = 300, at most 4 KiB.
 */
import { isIPv4 } from 'node:net'
import type { Connection, PeerId, Stream, Transport, Upgrader } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isRelayed, publicIp } from './reachability.js'
import { dialFromPort, shareListenPort } from './reuseport.js'
import { socketDialer, upgradeSocket } from '../patches/tcp-socket-dial.js'

export const DCUTR_PROTOCOL = '/libp2p/dcutr'
const CONNECT = 100
const SYNC = 300
const MAX_MESSAGE = 4096
/** How long the other side has to send each message (go-libp2p's stream timeout). */
const STREAM_TIMEOUT_MS = 60_000
/** How long one punch may take (go-libp2p's direct dial timeout). */
const PUNCH_TIMEOUT_MS = 5_000
/** Attempts when we start the hole punch (go-libp2p's maxRetries). */
const INITIATOR_ATTEMPTS = 3
/** How long we wait for identify on an inbound relayed connection before starting anyway. */
const IDENTIFY_WAIT_MS = 10_000
/** Hole punches we start at once; more inbound relayed connections wait for their turn to be seen again. */
const MAX_CONCURRENT_INITIATIONS = 8

export type HolePunchEvent =
  | { kind: 'request'; peer: string; theirs: string[]; ours: string[]; started: boolean }
  | { kind: 'start'; peer: string; attempt: number }
  | { kind: 'punched'; peer: string; addr: string; ms: number; initiator: boolean; started: boolean }
  | { kind: 'failed'; peer: string; why: string }

interface HolePunchComponents {
  registrar: {
    handle(protocol: string, handler: (stream: Stream, connection: Connection) => void, options?: Record<string, unknown>): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  transportManager: { getTransports(): Transport[]; getAddrs(): Multiaddr[] }
  connectionManager: { getConnections(peer?: PeerId): Connection[] }
  upgrader: Upgrader
  events: EventTarget
}

/** A protobuf HolePunch message. */
export function encodeHolePunch(type: number, addrs: Uint8Array[]): Uint8Array {
  const parts: number[] = [0x08, ...varint(type)]
  for (const a of addrs) parts.push(0x12, ...varint(a.length), ...a)
  return Uint8Array.from(parts)
}

export function decodeHolePunch(bytes: Uint8Array): { type: number; addrs: Uint8Array[] } {
  let type = -1
  const addrs: Uint8Array[] = []
  let i = 0
  const readVarint = (): number => {
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (i >= bytes.length) throw new Error('truncated varint')
      const b = bytes[i++]
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
    }
    throw new Error('varint too long')
  }
  while (i < bytes.length) {
    const tag = readVarint()
    const wire = tag & 7
    if (wire === 0) {
      const v = readVarint()
      if (tag >> 3 === 1) type = v
    } else if (wire === 2) {
      const n = readVarint()
      if (i + n > bytes.length) throw new Error('truncated field')
      if (tag >> 3 === 2) addrs.push(bytes.slice(i, i + n))
      i += n
    } else {
      throw new Error(`unexpected wire type ${wire}`)
    }
  }
  if (type < 0) throw new Error('no message type')
  return { type, addrs }
}

function varint(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}

/** Whether an IPv4 address is routable on the internet (what go-libp2p's manet.IsPublicAddr accepts). */
export function isPublicIPv4(ip: string): boolean {
  return isIPv4(ip) && publicIp(`/ip4/${ip}/`) !== undefined
}

/** A public /ip4/A/tcp/P address (nothing after it but an optional /p2p/ID), as host and port. */
function publicTcp(ma: Multiaddr): { host: string; port: number } | undefined {
  const c = ma.getComponents()
  if (c.length < 2 || c[0].name !== 'ip4' || c[1].name !== 'tcp' || c.slice(2).some((x) => x.name !== 'p2p')) return undefined
  const host = c[0].value ?? ''
  return isPublicIPv4(host) ? { host, port: Number(c[1].value) } : undefined
}

export class HolePunch {
  private readonly observed = new Set<string>()
  private readonly attempts = new Map<string, { n: number; at: number }>()
  private listenPort: number | undefined
  private shared = false
  /** Inbound relayed connections waiting for identify before we start a hole punch, by connection id. */
  private readonly awaitingIdentify = new Map<string, () => void>()
  /** Peers we are punching to as the initiator. */
  private readonly initiating = new Set<string>()
  private readonly onIdentify = (evt: Event): void => {
    const result = (evt as CustomEvent<{ observedAddr?: Multiaddr; connection: Connection }>).detail
    this.awaitingIdentify.get(result.connection.id)?.()
    if (!result.observedAddr || isRelayed(result.connection)) return
    const c = result.observedAddr.getComponents()
    if (c[0]?.name === 'ip4' && c[0].value && isPublicIPv4(c[0].value)) this.observed.add(c[0].value)
  }
  private readonly onConnectionOpen = (evt: Event): void => {
    const connection = (evt as CustomEvent<Connection>).detail
    if (connection.direction !== 'inbound' || !isRelayed(connection)) return
    const id = connection.remotePeer.toString()
    if (this.initiating.has(id) || this.initiating.size >= MAX_CONCURRENT_INITIATIONS) return
    this.initiating.add(id)
    void this.initiate(connection).finally(() => this.initiating.delete(id))
  }

  /** Hole punches peers asked for (requests) or we started (started), and how they ended. */
  readonly stats = { requests: 0, started: 0, punched: 0, failed: 0 }
  /** Told of every request, punch and failure (the peer's debug log). */
  onEvent: ((event: HolePunchEvent) => void) | undefined

  constructor(private readonly components: HolePunchComponents) {}

  readonly [Symbol.toStringTag] = 'kairosctl/holepunch'

  async start(): Promise<void> {
    await this.components.registrar.handle(DCUTR_PROTOCOL, (stream, connection) => void this.onStream(stream, connection), {
      runOnLimitedConnection: true,
      maxInboundStreams: 4,
    })
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
  }

  async stop(): Promise<void> {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    for (const wake of this.awaitingIdentify.values()) wake()
    await this.components.registrar.unhandle(DCUTR_PROTOCOL)
  }

  /** The public IPv4 addresses peers have told us they see us at. */
  observedIps(): string[] {
    return [...this.observed]
  }

  /** Our TCP listen port, shared with the sockets that dial from it (undefined when that is not possible). */
  private async sharedPort(): Promise<number | undefined> {
    if (this.listenPort === undefined) {
      const port = this.components.transportManager
        .getAddrs()
        .map((a) => a.getComponents())
        .find((c) => c[0]?.name === 'ip4' && c[1]?.name === 'tcp')?.[1].value
      if (port === undefined) return undefined
      this.listenPort = Number(port)
    }
    if (!this.shared) this.shared = await shareListenPort(this.listenPort)
    return this.shared ? this.listenPort : undefined
  }

  /** What we tell a peer to dial: each observed public IP with our TCP listen port. */
  async ownAddrs(): Promise<Multiaddr[]> {
    const port = await this.sharedPort()
    if (port === undefined) return []
    return [...this.observed].map((ip) => multiaddr(`/ip4/${ip}/tcp/${port}`))
  }

  /**
   * Connects to the peer from our listen port, trying its addresses at once;
   * the first socket that connects is upgraded (as the security handshake's
   * initiator or not), the others are dropped.
   */
  async connectFromListenPort(peer: PeerId, targets: { host: string; port: number }[], initiator: boolean): Promise<Connection> {
    const transport = socketDialer(this.components.transportManager.getTransports())
    const port = await this.sharedPort()
    if (!transport || port === undefined) throw new Error('the TCP transport cannot take a socket of ours')
    const won = new AbortController()
    const attempts = targets.map(async (t) => {
      const socket = await dialFromPort(port, t.host, t.port, PUNCH_TIMEOUT_MS, won.signal)
      if (won.signal.aborted) {
        socket.destroy()
        throw new Error('another address won')
      }
      won.abort()
      return { socket, t }
    })
    let first: Awaited<(typeof attempts)[number]>
    try {
      first = await Promise.any(attempts)
    } catch (err) {
      throw new Error(err instanceof AggregateError ? err.errors.map((e: Error) => e.message).join('; ') : (err as Error).message, { cause: err })
    }
    const remote = multiaddr(`/ip4/${first.t.host}/tcp/${first.t.port}/p2p/${peer.toString()}`)
    return upgradeSocket(transport, first.socket, remote, { upgrader: this.components.upgrader, signal: AbortSignal.timeout(PUNCH_TIMEOUT_MS * 2), initiator })
  }

  private emit(event: HolePunchEvent): void {
    this.onEvent?.(event)
  }

  private async onStream(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const id = peer.toString()
    this.stats.requests++
    const fail = (why: string): void => {
      this.countFailure(id, why)
      stream.abort(new Error(why))
    }
    // Only the dialling side of a relayed connection answers a hole punch (as in go-libp2p).
    if (!isRelayed(connection)) return fail('hole punch request on a direct connection')
    if (connection.direction !== 'outbound') return fail('hole punch request on a relayed connection the peer dialled')
    const signal = AbortSignal.timeout(STREAM_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
    let theirs: { host: string; port: number; ma: Multiaddr }[]
    let ours: Multiaddr[]
    try {
      const connect = decodeHolePunch((await lp.read({ signal })).subarray())
      if (connect.type !== CONNECT) return fail(`expected CONNECT, got message type ${connect.type}`)
      theirs = publicTcpAddrs(connect.addrs)
      ours = await this.ownAddrs()
      this.emit({ kind: 'request', peer: id, theirs: theirs.map((t) => t.ma.toString()), ours: ours.map(String), started: false })
      if (ours.length === 0) return fail('no public address of ours is known to tell the peer (no peer has told us what it sees)')
      await lp.write(connectMessage(ours), { signal })
      const sync = decodeHolePunch((await lp.read({ signal })).subarray())
      if (sync.type !== SYNC) return fail(`expected SYNC, got message type ${sync.type}`)
      await stream.close().catch(() => {})
    } catch (err) {
      return fail(`hole punch exchange failed: ${(err as Error).message}`)
    }
    if (theirs.length === 0) return fail('the peer sent no public TCP address to punch to')
    const previous = this.attempts.get(id)
    const n = previous && Date.now() - previous.at < 60_000 ? previous.n + 1 : 1
    this.attempts.set(id, { n, at: Date.now() })
    const result = await this.punch(peer, theirs, n < 3, false)
    if (result === 'punched') this.attempts.delete(id)
    else this.countFailure(id, result)
  }

  /** An open connection to the peer that does not run through a relay. */
  private direct(peer: PeerId): Connection | undefined {
    return this.components.connectionManager.getConnections(peer).find((c) => !isRelayed(c) && c.status === 'open')
  }

  /** Resolves once identify has run on the connection, or after IDENTIFY_WAIT_MS. */
  private identified(connection: Connection): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.awaitingIdentify.delete(connection.id)
        resolve()
      }
      const timer = setTimeout(done, IDENTIFY_WAIT_MS)
      this.awaitingIdentify.set(connection.id, done)
    })
  }

  /**
   * The initiator's side, for a peer that reached us through our relay: up to
   * three rounds of CONNECT, CONNECT, SYNC over the relayed connection, each
   * followed by a dial half a round trip after SYNC went out.
   */
  private async initiate(connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const id = peer.toString()
    await this.identified(connection)
    let why = 'the relayed connection closed'
    for (let attempt = 1; attempt <= INITIATOR_ATTEMPTS; attempt++) {
      if (this.direct(peer)) return
      if (connection.status !== 'open') break
      this.stats.started++
      this.emit({ kind: 'start', peer: id, attempt })
      let theirs: { host: string; port: number; ma: Multiaddr }[]
      let rtt: number
      try {
        const ours = await this.ownAddrs()
        if (ours.length === 0) return this.countFailure(id, 'no public address of ours is known to send (no peer has told us what it sees)')
        const signal = AbortSignal.timeout(STREAM_TIMEOUT_MS)
        const stream = await connection.newStream(DCUTR_PROTOCOL, { runOnLimitedConnection: true, signal })
        const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
        const sent = performance.now()
        await lp.write(connectMessage(ours), { signal })
        const answer = decodeHolePunch((await lp.read({ signal })).subarray())
        rtt = performance.now() - sent
        if (answer.type !== CONNECT) {
          stream.abort(new Error('unexpected message'))
          return this.countFailure(id, `expected CONNECT, got message type ${answer.type}`)
        }
        theirs = publicTcpAddrs(answer.addrs)
        this.emit({ kind: 'request', peer: id, theirs: theirs.map((t) => t.ma.toString()), ours: ours.map(String), started: true })
        if (theirs.length === 0) {
          stream.abort(new Error('no address to punch to'))
          return this.countFailure(id, 'the peer sent no public TCP address to punch to')
        }
        await lp.write(encodeHolePunch(SYNC, []), { signal })
        await stream.close().catch(() => {})
      } catch (err) {
        // A peer without DCUtR (or one that refused it) ends here, like go-libp2p's initiator.
        return this.countFailure(id, `hole punch exchange failed: ${(err as Error).message}`)
      }
      await new Promise((resolve) => setTimeout(resolve, rtt / 2))
      const result = await this.punch(peer, theirs, attempt === INITIATOR_ATTEMPTS, true)
      if (result === 'punched') return
      why = result
    }
    if (!this.direct(peer)) this.countFailure(id, why)
  }

  private countFailure(peer: string, why: string): void {
    this.stats.failed++
    this.emit({ kind: 'failed', peer, why })
  }

  /** One simultaneous dial: resolves to 'punched', or to why it failed. */
  private async punch(peer: PeerId, theirs: { host: string; port: number; ma: Multiaddr }[], initiator: boolean, started: boolean): Promise<string> {
    const began = Date.now()
    let connection: Connection
    try {
      connection = await this.connectFromListenPort(peer, theirs, initiator)
    } catch (err) {
      // The peer's dial may have reached our listener instead of meeting ours.
      const direct = this.direct(peer)
      if (!direct) return `no direct connection to ${theirs.map((t) => `${t.host}:${t.port}`).join(', ')}: ${(err as Error).message}`
      connection = direct
    }
    this.stats.punched++
    this.emit({ kind: 'punched', peer: peer.toString(), addr: connection.remoteAddr.toString(), ms: Date.now() - began, initiator, started })
    return 'punched'
  }
}

/** CONNECT with our addresses to punch to. */
function connectMessage(ours: Multiaddr[]): Uint8Array {
  return encodeHolePunch(
    CONNECT,
    ours.map((a) => a.bytes),
  )
}

/** The public TCP addresses among a CONNECT message's, with their host and port. */
function publicTcpAddrs(addrs: Uint8Array[]): { host: string; port: number; ma: Multiaddr }[] {
  return addrs.flatMap((bytes) => {
    try {
      const ma = multiaddr(bytes)
      const tcp = publicTcp(ma)
      return tcp ? [{ ...tcp, ma }] : []
    } catch {
      return []
    }
  })
}

/** The libp2p service factory. */
export function holePunch(): (components: HolePunchComponents) => HolePunch {
  return (components) => new HolePunch(components)
}
