import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { ipDestination, PacketFramer } from './packet.js'
import type { Tun } from './tun/index.js'
import { fastInboundOf, type LightSink } from '../peer/patches/index.js'

/** EdgeVPN's VPN protocol: raw IP packets, no framing. */
export const VPN_PROTOCOL = '/edgevpn/0.1'

/** How outbound packets travel to a peer. */
export type SendMode =
  /** One long-lived stream per peer, each packet in a yamux frame of its own (the default). */
  | 'reuse'
  /** A new stream per packet, as Go EdgeVPN sends. */
  | 'per-packet'

export interface RouterOptions {
  host: Libp2p
  tun: Tun
  /** The peer that owns a VPN address (EdgeVPN's `machines` bucket), if it may be routed to. */
  route: (ip: string) => string | undefined
  /** Whether a peer may send us packets (it has a `machines` entry). */
  accept: (peerId: string) => boolean
  sendMode?: SendMode
  /** Packets waiting per peer (reuse mode) or in flight (per-packet mode) at most; more are dropped, as a full NIC queue drops. */
  queueLimit?: number
  log?: (msg: string) => void
}

export interface RouterStats {
  sent: number
  received: number
  droppedNoRoute: number
  droppedQueueFull: number
  droppedSendError: number
  /** Inbound packets dropped because TUN_QUEUE_LIMIT were waiting for the TUN device. */
  droppedTunQueueFull: number
  rejectedStreams: number
  /** Inbound streams refused because MAX_INBOUND_STREAMS were already open. */
  rejectedStreamsBusy: number
  streamsOpened: number
  /** Times a link waited for its connection to drain (each wait ends with a drain, a close or SEND_TIMEOUT_MS). */
  drainWaits: number
  /** Inbound VPN streams open now, and the most open at once. */
  inboundStreams: number
  inboundStreamsPeak: number
  /** Inbound VPN streams accepted on the light way (frames below the stream objects) and as stream objects. */
  acceptedLight: number
  acceptedStreams: number
}

/** Packets and bytes exchanged with one peer. */
export interface PeerTraffic {
  packetsOut: number
  bytesOut: number
  packetsIn: number
  bytesIn: number
}

/** A copy of a router's counters, queues and per-peer traffic. */
export interface VpnSnapshot {
  stats: RouterStats
  /** Packets and bytes per peer ID. */
  traffic: Map<string, PeerTraffic>
  /** Packets waiting per peer ID (long-lived streams). */
  queued: Map<string, number>
  /** Packets in flight on streams of their own (per-packet mode). */
  inFlight: number
}

/** Peers whose traffic is counted at most; the longest-known is forgotten first. */
const MAX_TRAFFIC_PEERS = 1024

export function emptyRouterStats(): RouterStats {
  return {
    sent: 0,
    received: 0,
    droppedNoRoute: 0,
    droppedQueueFull: 0,
    droppedSendError: 0,
    droppedTunQueueFull: 0,
    rejectedStreams: 0,
    rejectedStreamsBusy: 0,
    streamsOpened: 0,
    drainWaits: 0,
    inboundStreams: 0,
    inboundStreamsPeak: 0,
    acceptedLight: 0,
    acceptedStreams: 0,
  }
}

/** Inbound packets waiting for the TUN device at most (a turn's worth); more are dropped. */
export const TUN_QUEUE_LIMIT = 512

/** How long a link may wait for its stream or the connection without progress (Go's per-frame timeout is 15 s). */
const SEND_TIMEOUT_MS = 15_000
/** How often a sender waiting for a direct connection looks again. */
const DIRECT_POLL_MS = 100

/**
 * Inbound VPN streams open at once, over all peers; more are reset. Go opens a
 * stream per packet and closes it at once, so a few dozen are open under load;
 * the bound caps what a peer can make us hold (each stream keeps at most one
 * partial packet).
 */
export const MAX_INBOUND_STREAMS = 1024

/**
 * Resolves on the stream's next 'drain' or 'close', or after `ms`, with one
 * timer that is cleared. Not `stream.onDrain()`: libp2p 3 keeps the promise
 * of the first drain once it has resolved, so every later `onDrain()` returns
 * at once while the stream still needs draining, and a loop around it spins
 * without ever yielding to the event loop (the drain it waits for can then
 * never arrive).
 */
export function nextDrain(stream: Stream, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      stream.removeEventListener('drain', done)
      stream.removeEventListener('close', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    stream.addEventListener('drain', done)
    stream.addEventListener('close', done)
  })
}

/**
 * The yamux stream's current largest frame payload (its send window less the
 * frame header), when the muxer exposes it. Sending a packet larger than this
 * would split it over two frames.
 */
function frameRoom(stream: Stream): number {
  const room = (stream as { maxMessageSize?: unknown }).maxMessageSize
  return typeof room === 'number' ? room : Number.POSITIVE_INFINITY
}

/** Whether the stream would send `packet` now, whole, as one frame. */
function fits(stream: Stream, packet: Uint8Array): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && !stream.writableNeedsDrain && stream.writeBufferLength === 0 && frameRoom(stream) >= packet.length
}

/** What a PeerLink needs from its router. */
export interface LinkOptions {
  /** Opens a negotiated `/edgevpn/0.1` stream to the peer. */
  open: () => Promise<Stream>
  /** Packets waiting at most; more are dropped, as a full NIC queue drops. */
  limit: number
  stats: RouterStats
  /** This peer's counters; defaults to counters of the link's own. */
  traffic?: PeerTraffic
  log: (msg: string) => void
}

/**
 * Packets to one peer on one long-lived stream. The Go receiver copies each
 * stream read straight into its TUN, and go-yamux returns at most one frame
 * per read, so every packet must travel in a yamux frame of its own: a
 * packet is handed to the stream only when the stream would send it at once
 * and whole (nothing buffered, no drain pending, enough send window).
 * Otherwise it waits in this queue; one stream also keeps packets in order.
 */
export class PeerLink {
  private stream?: Stream
  private readonly queue: Uint8Array[] = []
  private pumping = false
  private closed = false
  private readonly traffic: PeerTraffic

  constructor(private readonly opts: LinkOptions) {
    this.traffic = opts.traffic ?? { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0 }
  }

  /** Packets waiting for the stream. */
  get queued(): number {
    return this.queue.length
  }

  /** Nothing queued or being sent, and no open stream: the link can be dropped. */
  get idle(): boolean {
    return !this.pumping && this.queue.length === 0 && (this.stream === undefined || this.stream.status !== 'open')
  }

  push(packet: Uint8Array): void {
    if (this.closed) return
    if (this.queue.length === 0 && this.stream && fits(this.stream, packet)) {
      this.write(this.stream, packet)
      return
    }
    if (this.queue.length >= this.opts.limit) {
      this.opts.stats.droppedQueueFull++
      return
    }
    this.queue.push(packet)
    if (!this.pumping) void this.pump()
  }

  close(): void {
    this.closed = true
    this.queue.length = 0
    const stream = this.stream
    stream?.close().catch(() => stream.abort(new Error('VPN link closed')))
  }

  private write(stream: Stream, packet: Uint8Array): void {
    stream.send(packet)
    this.opts.stats.sent++
    this.traffic.packetsOut++
    this.traffic.bytesOut += packet.length
  }

  private async pump(): Promise<void> {
    this.pumping = true
    try {
      while (this.queue.length > 0 && !this.closed) {
        const stream = await this.open()
        let progress = Date.now()
        while (this.queue.length > 0 && this.stream === stream && !this.closed) {
          if (fits(stream, this.queue[0])) {
            this.write(stream, this.queue.shift()!)
            progress = Date.now()
            continue
          }
          if (stream.status !== 'open' || stream.writeStatus !== 'writable') break
          if (Date.now() - progress > SEND_TIMEOUT_MS) {
            stream.abort(new Error('VPN stream stalled'))
            break
          }
          if (stream.writableNeedsDrain) {
            // The connection is full: wait for it to drain.
            this.opts.stats.drainWaits++
            await nextDrain(stream, SEND_TIMEOUT_MS)
          } else {
            // The send window is too small for the packet: the window update it needs carries no event (yamux
            // emits 'drain' only when data is buffered, and a packet is never left half-sent), so look again soon.
            await new Promise((resolve) => setTimeout(resolve, 1))
          }
        }
      }
    } catch (err) {
      this.opts.stats.droppedSendError += this.queue.length
      this.queue.length = 0
      this.opts.log(`cannot send VPN packets: ${(err as Error).message}`)
    } finally {
      this.pumping = false
    }
  }

  private async open(): Promise<Stream> {
    if (this.stream && this.stream.status === 'open' && this.stream.writeStatus === 'writable') return this.stream
    this.stream = undefined
    const stream = await this.opts.open()
    stream.addEventListener('close', () => {
      if (this.stream === stream) this.stream = undefined
    })
    // Nothing is expected back; take whatever comes so the stream's buffers never fill.
    stream.addEventListener('message', () => {})
    if (this.closed) stream.abort(new Error('VPN link closed'))
    else this.stream = stream
    return stream
  }
}

/**
 * The data plane: packets read from the TUN go to the owner of their
 * destination address; packets from peers go into the TUN. Inbound streams
 * are split on IP packet lengths, so both Go's one stream per packet and our
 * long-lived streams are delivered whole.
 */
export class VpnRouter {
  readonly stats: RouterStats = emptyRouterStats()
  private running = false
  private readonly links = new Map<string, PeerLink>()
  private readonly tunQueue: Uint8Array[] = []
  private tunFlush?: NodeJS.Immediate
  private readonly peerIds = new Map<string, PeerId>()
  private inFlight = 0
  private readonly traffic = new Map<string, PeerTraffic>()
  /** Peers come and go (a restarted Kairos node may have a new identity): links of gone peers are dropped. */
  private readonly forgetIdleLinks = (): void => {
    for (const [owner, link] of this.links) {
      if (!link.idle) continue
      link.close()
      this.links.delete(owner)
      this.peerIds.delete(owner)
    }
  }

  constructor(private readonly opts: RouterOptions) {}

  /** Peers with a link (reuse mode). */
  get linkCount(): number {
    return this.links.size
  }

  /** Packets waiting per peer (reuse mode) and in flight (per-packet mode); read-only, for metrics. */
  get queueDepths(): { perPeer: Map<string, number>; inFlight: number } {
    return { perPeer: new Map([...this.links].map(([owner, link]) => [owner, link.queued])), inFlight: this.inFlight }
  }

  /** Packets and bytes per peer, for the peers seen most recently (at most MAX_TRAFFIC_PEERS). */
  get peerTraffic(): ReadonlyMap<string, Readonly<PeerTraffic>> {
    return this.traffic
  }

  snapshot(): VpnSnapshot {
    const { perPeer, inFlight } = this.queueDepths
    return { stats: { ...this.stats }, traffic: new Map([...this.traffic].map(([peer, t]) => [peer, { ...t }])), queued: perPeer, inFlight }
  }

  private trafficOf(peer: string): PeerTraffic {
    let t = this.traffic.get(peer)
    if (!t) {
      if (this.traffic.size >= MAX_TRAFFIC_PEERS) this.traffic.delete(this.traffic.keys().next().value!)
      t = { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0 }
      this.traffic.set(peer, t)
    }
    return t
  }

  async start(): Promise<void> {
    this.running = true
    await this.opts.host.handle(VPN_PROTOCOL, (stream, connection) => this.inbound(stream, connection.remotePeer), {
      maxInboundStreams: 4096,
      maxOutboundStreams: 4096,
      force: true,
    })
    fastInboundOf(this.opts.host)?.handle(
      VPN_PROTOCOL,
      (stream, peer) => this.inbound(stream, peer),
      (peer) => this.lightInbound(peer),
    )
    this.opts.host.addEventListener('peer:disconnect', this.forgetIdleLinks)
    void this.readLoop()
  }

  async stop(): Promise<void> {
    this.running = false
    this.opts.host.removeEventListener('peer:disconnect', this.forgetIdleLinks)
    for (const link of this.links.values()) link.close()
    this.links.clear()
    fastInboundOf(this.opts.host)?.unhandle(VPN_PROTOCOL)
    await this.opts.host.unhandle(VPN_PROTOCOL).catch(() => {})
  }

  private log(msg: string): void {
    this.opts.log?.(msg)
  }

  /**
   * A negotiated `/edgevpn/0.1` stream to a peer, over an existing direct
   * connection when there is one. A relayed connection is limited and Go does
   * not take VPN streams on it: with only that, wait (bounded) for the direct
   * connection the hole punch makes.
   */
  private async newStream(peer: PeerId): Promise<Stream> {
    const signal = AbortSignal.timeout(SEND_TIMEOUT_MS)
    const direct = (): Connection | undefined => this.opts.host.getConnections(peer).find((c) => c.status === 'open' && c.limits === undefined)
    let connection = direct()
    if (!connection) {
      const dialled = await this.opts.host.dial(peer, { signal })
      connection = dialled.limits === undefined ? dialled : await this.directConnection(peer, direct, signal)
    }
    const stream = await connection.newStream(VPN_PROTOCOL, { signal, maxOutboundStreams: 4096 })
    this.stats.streamsOpened++
    return stream
  }

  /** Waits for a direct connection to the peer while only a relayed one is up. */
  private async directConnection(peer: PeerId, direct: () => Connection | undefined, signal: AbortSignal): Promise<Connection> {
    this.log(`only a relayed connection to ${peer.toString()}: waiting for a direct one before sending`)
    for (;;) {
      const found = direct()
      if (found) return found
      if (signal.aborted) throw new Error(`no direct connection to ${peer.toString()} within ${SEND_TIMEOUT_MS / 1000}s (only relayed)`)
      await new Promise((r) => setTimeout(r, DIRECT_POLL_MS))
    }
  }

  private async readLoop(): Promise<void> {
    while (this.running) {
      let packet: Uint8Array | null
      try {
        packet = await this.opts.tun.read()
      } catch (err) {
        if (this.running) this.log(`TUN read failed: ${(err as Error).message}`)
        return
      }
      if (packet === null) return
      const dst = ipDestination(packet)
      const owner = dst === null ? undefined : this.opts.route(dst)
      if (!owner) {
        this.stats.droppedNoRoute++
        continue
      }
      if (this.opts.sendMode === 'per-packet') this.sendOnNewStream(owner, packet)
      else this.link(owner).push(packet)
    }
  }

  private link(owner: string): PeerLink {
    let link = this.links.get(owner)
    if (!link) {
      const peer = this.peerId(owner)
      link = new PeerLink({
        open: () => this.newStream(peer),
        limit: this.opts.queueLimit ?? 512,
        stats: this.stats,
        traffic: this.trafficOf(owner),
        log: (msg) => this.log(`${owner}: ${msg}`),
      })
      this.links.set(owner, link)
    }
    return link
  }

  private peerId(id: string): PeerId {
    let p = this.peerIds.get(id)
    if (!p) {
      p = peerIdFromString(id)
      this.peerIds.set(id, p)
    }
    return p
  }

  /** Go EdgeVPN's way: a stream of its own for each packet. */
  private sendOnNewStream(owner: string, packet: Uint8Array): void {
    if (this.inFlight >= (this.opts.queueLimit ?? 512)) {
      this.stats.droppedQueueFull++
      return
    }
    this.inFlight++
    void (async () => {
      let stream: Stream | undefined
      try {
        stream = await this.newStream(this.peerId(owner))
        stream.send(packet)
        await stream.close({ signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })
        this.stats.sent++
        const traffic = this.trafficOf(owner)
        traffic.packetsOut++
        traffic.bytesOut += packet.length
      } catch (err) {
        if (this.stats.droppedSendError++ === 0) this.log(`cannot send to ${owner}: ${(err as Error).message}`)
        stream?.abort(err as Error)
      } finally {
        this.inFlight--
      }
    })()
  }

  /**
   * Queues a packet for the TUN device; the queue is written once the turn's
   * socket writes (the multistream echo that Go's sender waits for) are out.
   */
  private toTun(packet: Uint8Array): void {
    if (this.tunQueue.length >= TUN_QUEUE_LIMIT) {
      this.stats.droppedTunQueueFull++
      return
    }
    this.tunQueue.push(packet)
    this.tunFlush ??= setImmediate(() => {
      this.tunFlush = undefined
      for (const p of this.tunQueue.splice(0)) {
        this.opts.tun.write(p).catch((err: Error) => {
          if (this.running) this.log(`TUN write failed: ${err.message}`)
        })
      }
    })
  }

  /**
   * Admits an inbound VPN stream: the peer must be in the machines bucket and
   * fewer than MAX_INBOUND_STREAMS may be open. Returns why it is refused, or
   * undefined once it is counted as open.
   */
  private admit(remotePeer: PeerId, light: boolean): string | undefined {
    if (!this.opts.accept(remotePeer.toString())) {
      this.stats.rejectedStreams++
      return 'peer is not in the machines bucket'
    }
    if (this.stats.inboundStreams >= MAX_INBOUND_STREAMS) {
      this.stats.rejectedStreamsBusy++
      return 'too many VPN streams open'
    }
    this.stats.inboundStreamsPeak = Math.max(this.stats.inboundStreamsPeak, ++this.stats.inboundStreams)
    if (light) this.stats.acceptedLight++
    else this.stats.acceptedStreams++
    return undefined
  }

  /** Takes an inbound stream's bytes as they arrive: whole packets go to the TUN queue. */
  private receiver(remotePeer: PeerId): (bytes: Uint8Array) => void {
    const framer = new PacketFramer()
    const traffic = this.trafficOf(remotePeer.toString())
    return (bytes) => {
      for (const packet of framer.push(bytes)) {
        this.stats.received++
        traffic.packetsIn++
        traffic.bytesIn += packet.length
        this.toTun(packet)
      }
    }
  }

  /**
   * An inbound stream on the fast inbound path's light way (no stream object,
   * src/peer/patches/fast-inbound.ts): the same admission and delivery as
   * `inbound`; a refused stream is reset by the muxer.
   */
  private lightInbound(remotePeer: PeerId): LightSink | undefined {
    if (this.admit(remotePeer, true) !== undefined) return undefined
    let open = true
    return {
      data: this.receiver(remotePeer),
      end: () => {
        if (!open) return
        open = false
        this.stats.inboundStreams--
      },
    }
  }

  /**
   * Delivers the packets of an inbound stream as its data arrives (event
   * listeners rather than an async iterator: Go opens a stream per packet,
   * so the per-stream cost is the inbound data plane's cost).
   */
  private inbound(stream: Stream, remotePeer: PeerId): void {
    const refused = this.admit(remotePeer, false)
    if (refused !== undefined) {
      stream.abort(new Error(refused))
      return
    }
    stream.addEventListener('close', () => this.stats.inboundStreams--, { once: true })
    const deliver = this.receiver(remotePeer)
    stream.addEventListener('message', (evt) => deliver(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()))
    const done = (): void => {
      stream.close().catch(() => stream.abort(new Error('VPN stream failed')))
    }
    // The sender may have finished before this handler ran: its data is still
    // buffered and is dispatched to the listener above in a microtask.
    if (stream.remoteWriteStatus === 'closed') setImmediate(done)
    else stream.addEventListener('remoteCloseWrite', done)
  }
}
