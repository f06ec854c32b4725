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
 * Messages: uvarint-length-prefixed protobuf `HolePunch { Type type = 1;
 * repeated bytes ObsAddrs = 2 }`, CONNECT = 100, SYNC = 300, at most 4 KiB.
 */
import { isIPv4 } from 'node:net'
import type { Connection, PeerId, Stream, Transport, Upgrader } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { publicIp } from './reachability.js'
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

export type HolePunchEvent =
  { kind: 'request'; peer: string; theirs: string[]; ours: string[] } | { kind: 'punched'; peer: string; addr: string; ms: number; initiator: boolean } | { kind: 'failed'; peer: string; why: string }

interface HolePunchComponents {
  registrar: {
    handle(protocol: string, handler: (stream: Stream, connection: Connection) => void, options?: Record<string, unknown>): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  transportManager: { getTransports(): Transport[]; getAddrs(): Multiaddr[] }
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
  private readonly onIdentify = (evt: Event): void => {
    const result = (evt as CustomEvent<{ observedAddr?: Multiaddr; connection: Connection }>).detail
    if (!result.observedAddr || result.connection.limits !== undefined) return
    const c = result.observedAddr.getComponents()
    if (c[0]?.name === 'ip4' && c[0].value && isPublicIPv4(c[0].value)) this.observed.add(c[0].value)
  }

  /** Hole punches peers asked for, and how they ended. */
  readonly stats = { requests: 0, punched: 0, failed: 0 }
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
  }

  async stop(): Promise<void> {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
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
      this.stats.failed++
      this.emit({ kind: 'failed', peer: id, why })
      stream.abort(new Error(why))
    }
    // Only the dialling side of a relayed connection answers a hole punch (as in go-libp2p).
    if (connection.limits === undefined && !connection.remoteAddr.toString().includes('/p2p-circuit')) return fail('hole punch request on a direct connection')
    if (connection.direction !== 'outbound') return fail('hole punch request on a relayed connection the peer dialled')
    const signal = AbortSignal.timeout(STREAM_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
    let theirs: { host: string; port: number; ma: Multiaddr }[]
    let ours: Multiaddr[]
    try {
      const connect = decodeHolePunch((await lp.read({ signal })).subarray())
      if (connect.type !== CONNECT) return fail(`expected CONNECT, got message type ${connect.type}`)
      theirs = connect.addrs.flatMap((bytes) => {
        try {
          const ma = multiaddr(bytes)
          const tcp = publicTcp(ma)
          return tcp ? [{ ...tcp, ma }] : []
        } catch {
          return []
        }
      })
      ours = await this.ownAddrs()
      this.emit({ kind: 'request', peer: id, theirs: theirs.map((t) => t.ma.toString()), ours: ours.map(String) })
      if (ours.length === 0) return fail('no public address of ours is known to tell the peer (no peer has told us what it sees)')
      await lp.write(
        encodeHolePunch(
          CONNECT,
          ours.map((a) => a.bytes),
        ),
        { signal },
      )
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
    await this.punch(peer, theirs, n < 3)
  }

  private async punch(peer: PeerId, theirs: { host: string; port: number; ma: Multiaddr }[], initiator: boolean): Promise<void> {
    const id = peer.toString()
    const started = Date.now()
    try {
      const connection = await this.connectFromListenPort(peer, theirs, initiator)
      this.stats.punched++
      this.attempts.delete(id)
      this.emit({ kind: 'punched', peer: id, addr: connection.remoteAddr.toString(), ms: Date.now() - started, initiator })
    } catch (err) {
      this.stats.failed++
      this.emit({ kind: 'failed', peer: id, why: `no direct connection to ${theirs.map((t) => `${t.host}:${t.port}`).join(', ')}: ${(err as Error).message}` })
    }
  }
}

/** The libp2p service factory. */
export function holePunch(): (components: HolePunchComponents) => HolePunch {
  return (components) => new HolePunch(components)
}
