import type { Connection, PeerId, Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * A cheaper way in for inbound streams of chosen protocols.
 *
 * Go EdgeVPN opens a stream for every VPN packet it sends. libp2p's usual path
 * for an inbound stream (multistream-select with its own reader and abort
 * signal, a peer-store merge, the handler lookup and middleware promises) costs
 * more than the packet itself. This wraps the stream muxer: the first bytes of
 * every inbound stream are compared with the multistream-select opening of a
 * registered protocol (header line, then protocol line, as go-multistream's
 * lazy client sends them). On a match the two lines are echoed back, as
 * multistream-select's listener does, and the stream goes straight to the
 * registered handler. Anything else, including a stream that proposes another
 * protocol first, is handed back to libp2p with its bytes untouched.
 *
 * Written against libp2p 3.3.11, @libp2p/yamux 8.0.3 and @libp2p/utils 7.4.1
 * (the stream classes, a dependency of both). What it relies on: libp2p's
 * connection registers its inbound-stream listener with
 * `muxer.addEventListener('stream', …)` (no public hook sees inbound streams
 * before negotiation, so that call is intercepted), a connection's `streams`
 * is its muxer's array, and a stream can be written to (`send`) and given
 * bytes back (`unshift`) before libp2p has seen it. fastInboundStats counts
 * when that worked; test/integration/libp2p-patches.test.ts fails when it
 * stops working.
 */
export type FastHandler = (stream: Stream, remotePeer: PeerId) => void

/**
 * Where the bytes of a light inbound stream go (see `lighten` below): `data`
 * gets the bytes after the protocol opening as they arrive, `end` is called
 * once, when the remote closes or resets the stream or the connection ends.
 */
export interface LightSink {
  data(bytes: Uint8Array): void
  end(): void
}

/** Takes a light inbound stream from a peer (a sink), or refuses it (undefined: the stream is reset). */
export type LightOpener = (remotePeer: PeerId) => LightSink | undefined

const MSS_HEADER = '/multistream/1.0.0'

/** One multistream-select message: varint length, then the line with its newline. */
function mssLine(text: string): Uint8Array {
  const body = new TextEncoder().encode(`${text}\n`)
  if (body.length > 127) throw new Error(`protocol name too long for the fast path: ${text}`)
  return Uint8Array.of(body.length, ...body)
}

interface Route {
  protocol: string
  opening: Uint8Array
  handler: FastHandler
  light?: LightOpener
}

type StreamListener = (evt: CustomEvent<Stream>) => void
type MuxerFactoryInit<C> = (components: C) => StreamMuxerFactory

const byHost = new WeakMap<object, FastInbound>()

/**
 * All hosts of this process: muxers whose inbound-stream listener was
 * intercepted, streams taken by the fast path, streams handed to libp2p,
 * fast-path streams whose window updates were made lazy, muxers whose frames
 * pass through the light path, light streams (taken, refused with a reset,
 * reset for overrunning their window) and streams that started on the light
 * path and were handed back to the muxer.
 */
export const fastInboundStats = { muxers: 0, fast: 0, passed: 0, lazyWindows: 0, lightMuxers: 0, light: 0, lightRefused: 0, lightOverrun: 0, lightPromoted: 0 }

/** The fast path of a host made by createHost (undefined for other libp2p nodes). */
export function fastInboundOf(host: object): FastInbound | undefined {
  return byHost.get(host)
}

export class FastInbound {
  /** Inbound streams taken by the fast path, those handed to libp2p, and those taken as light streams. */
  readonly stats = { fast: 0, passed: 0, light: 0 }
  private readonly routes: Route[] = []
  private connections?: () => Connection[]

  /** Binds this fast path to its host, where the connection (and so the remote peer) of a muxer is found. */
  attach(host: { getConnections(): Connection[] }): void {
    this.connections = () => host.getConnections()
    byHost.set(host, this)
  }

  /**
   * Registers a protocol. With `light`, its streams on yamux connections skip
   * the stream objects too: the muxer's frames go to the sink `light` returns
   * (see `lighten`); `handler` still serves the streams that do not take that
   * way (other muxers, a peer not known yet).
   */
  handle(protocol: string, handler: FastHandler, light?: LightOpener): void {
    this.unhandle(protocol)
    const header = mssLine(MSS_HEADER)
    const line = mssLine(protocol)
    const opening = new Uint8Array(header.length + line.length)
    opening.set(header)
    opening.set(line, header.length)
    this.routes.push({ protocol, opening, handler, light })
  }

  unhandle(protocol: string): void {
    const i = this.routes.findIndex((r) => r.protocol === protocol)
    if (i >= 0) this.routes.splice(i, 1)
  }

  /** Wraps a stream muxer (e.g. `yamux()`) so its inbound streams pass through here first. */
  wrap<C>(inner: MuxerFactoryInit<C>): MuxerFactoryInit<C> {
    return (components: C) => {
      const factory = inner(components)
      return {
        protocol: factory.protocol,
        createStreamMuxer: (maConn) => this.patch(factory.createStreamMuxer(maConn)),
      }
    }
  }

  private patch(muxer: StreamMuxer): StreamMuxer {
    const add = muxer.addEventListener.bind(muxer) as (type: string, listener: unknown, options?: unknown) => void
    let peer: PeerId | undefined
    const remotePeer = (): PeerId | undefined => {
      if (!peer) peer = this.connections?.().find((c) => c.streams === muxer.streams)?.remotePeer
      return peer
    }
    ;(muxer as { addEventListener: unknown }).addEventListener = (type: string, listener: unknown, options?: unknown) => {
      if (type !== 'stream' || typeof listener !== 'function') return add(type, listener, options)
      const libp2p = listener as StreamListener
      fastInboundStats.muxers++
      add(type, (evt: CustomEvent<Stream>) => this.inbound(evt, libp2p, remotePeer), options)
      this.lighten(muxer, remotePeer)
    }
    return muxer
  }

  /**
   * The light path, below the stream objects. Go EdgeVPN sends every VPN
   * packet on a stream of its own and waits for our protocol echo before its
   * worker sends the next one, so the time from a stream's first frame to our
   * echo bounds Go → us throughput. A yamux stream object (event targets,
   * loggers, buffers, an abort signal) costs more than the packet it carries.
   * Here the muxer's frames are looked at first: a new inbound stream (SYN)
   * waits in a small table until its first bytes show whether they are the
   * opening of a route with a light opener. If they are, the echo goes out in
   * the frame that acknowledges the stream (ACK), the rest of its bytes go to
   * the route's sink, and its later frames are handled here: data to the sink,
   * a window update once half the window is used (as go-yamux sends them), a
   * reset when the peer overruns the window, and on the remote FIN our FIN.
   * Anything else (another protocol, a stream that ends or resets before its
   * opening is complete or sends more than MAX_PENDING_FRAMES frames first, a
   * peer not known yet, a full table) is replayed into
   * the muxer frame by frame and takes the usual way, with its bytes intact.
   *
   * Relies on @libp2p/yamux 8.0.3's muxer (dist/src/muxer.js): `onData` calls
   * `this.handleFrame(frame)` for every decoded frame (so an own property
   * takes its place), `sendFrame(header, data)` encodes and sends a frame,
   * `client` gives the parity of our stream ids, and `abort`,
   * `onTransportClosed` and `close` end the muxer.
   */
  private lighten(muxer: StreamMuxer, remotePeer: () => PeerId | undefined): void {
    const m = muxer as unknown as Partial<YamuxInternals>
    if (typeof m.handleFrame !== 'function' || typeof m.sendFrame !== 'function' || typeof m.client !== 'boolean') return
    const y = m as YamuxInternals
    const original = y.handleFrame.bind(muxer)
    const sendFrame = y.sendFrame.bind(muxer)
    const send = (type: number, flag: number, streamID: number, length: number, data?: Uint8Array): void => {
      try {
        sendFrame({ type, flag, streamID, length }, data)
      } catch {
        // the connection is closing; its end reaches every light stream
      }
    }
    const table = new Map<number, LightEntry>()
    let ending = false
    const endAll = (): void => {
      ending = true
      const entries = [...table.values()]
      table.clear()
      for (const e of entries) e.sink?.end()
    }
    for (const name of ['abort', 'onTransportClosed', 'close'] as const) {
      const inner: (...args: unknown[]) => unknown = y[name].bind(muxer)
      y[name] = (...args: unknown[]) => {
        endAll()
        return inner(...args)
      }
    }
    const promote = (id: number, entry: LightEntry): void => {
      table.delete(id)
      fastInboundStats.lightPromoted++
      for (const frame of entry.frames) original(frame)
    }
    const finish = (id: number, entry: LightEntry): void => {
      table.delete(id)
      entry.sink?.end()
    }
    const reset = (id: number, entry: LightEntry): void => {
      send(WINDOW_UPDATE, RST, id, 0)
      finish(id, entry)
    }
    /** Data, window and flags of a frame of a light stream that has its sink. */
    const carry = (id: number, entry: LightEntry, sink: LightSink, flag: number, bytes: Uint8Array | undefined, length: number): void => {
      entry.unacked += length
      if (entry.unacked > LIGHT_WINDOW) {
        fastInboundStats.lightOverrun++
        return reset(id, entry)
      }
      if (bytes && bytes.length > 0) {
        try {
          sink.data(bytes)
        } catch {
          return reset(id, entry)
        }
      }
      if ((flag & RST) !== 0) return finish(id, entry)
      if ((flag & FIN) !== 0) {
        send(WINDOW_UPDATE, FIN, id, 0)
        return finish(id, entry)
      }
      if (entry.unacked * 2 >= LIGHT_WINDOW) {
        send(WINDOW_UPDATE, 0, id, entry.unacked)
        entry.unacked = 0
      }
    }
    y.handleFrame = (frame: YamuxFrame): void => {
      const { streamID: id, type, flag } = frame.header
      if (id === 0 || type > WINDOW_UPDATE) return original(frame)
      let entry = table.get(id)
      if (!entry) {
        if (ending || (flag & SYN) === 0 || y.client !== (id % 2 === 0) || table.size >= MAX_LIGHT_STREAMS || !this.routes.some((r) => r.light)) return original(frame)
        entry = { frames: [], seen: EMPTY, unacked: 0 }
        table.set(id, entry)
      }
      const bytes = type === DATA && frame.data ? frame.data.subarray() : undefined
      const length = type === DATA ? frame.header.length : 0
      if (entry.sink) return carry(id, entry, entry.sink, flag, bytes, length)
      // Pending: the opening is not complete yet.
      entry.frames.push(frame)
      entry.unacked += length
      if (bytes && bytes.length > 0) entry.seen = entry.seen.length === 0 ? bytes : concat(entry.seen, bytes)
      const matched = this.match(entry.seen)
      if (matched === UNDECIDED) {
        if ((flag & (FIN | RST)) !== 0 || entry.frames.length >= MAX_PENDING_FRAMES) promote(id, entry)
        return
      }
      if (!matched) return promote(id, entry)
      const peer = matched.light ? remotePeer() : undefined
      if (!matched.light || !peer) return promote(id, entry)
      const sink = matched.light(peer)
      if (!sink) {
        fastInboundStats.lightRefused++
        table.delete(id)
        return send(WINDOW_UPDATE, RST, id, 0)
      }
      this.stats.light++
      fastInboundStats.light++
      entry.sink = sink
      entry.frames = []
      send(DATA, ACK, id, matched.opening.length, matched.opening)
      const rest = entry.seen.subarray(matched.opening.length)
      entry.seen = EMPTY
      carry(id, entry, sink, flag, rest, 0) // the pending frames' data is in `unacked` already
    }
    fastInboundStats.lightMuxers++
  }

  /**
   * The route whose whole opening the first bytes of a stream start with;
   * UNDECIDED while they are a prefix of some route's opening; undefined when
   * no route can match any more.
   */
  private match(seen: Uint8Array): Route | typeof UNDECIDED | undefined {
    let undecided = false
    for (const route of this.routes) {
      const n = Math.min(seen.length, route.opening.length)
      if (!startsWith(seen, route.opening, n)) continue
      if (n === route.opening.length) return route
      undecided = true
    }
    return undecided ? UNDECIDED : undefined
  }

  private inbound(evt: CustomEvent<Stream>, libp2p: StreamListener, remotePeer: () => PeerId | undefined): void {
    if (this.routes.length === 0) return libp2p(evt)
    const stream = evt.detail
    let seen: Uint8Array = new Uint8Array(0)
    const finish = (route: Route | undefined): void => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', giveUp)
      const peer = route ? remotePeer() : undefined
      if (route) {
        stream.protocol = route.protocol
        lazyWindowUpdates(stream)
        stream.send(route.opening)
        seen = seen.subarray(route.opening.length)
      }
      if (seen.length > 0) stream.unshift(seen)
      if (route && peer) {
        this.stats.fast++
        fastInboundStats.fast++
        route.handler(stream, peer)
      } else {
        this.stats.passed++
        fastInboundStats.passed++
        libp2p(evt) // libp2p negotiates (or, with the protocol set, skips to its handler)
      }
    }
    const onMessage = (msg: { data: Uint8Array | Uint8ArrayList }): void => {
      const data = msg.data instanceof Uint8Array ? msg.data : msg.data.subarray()
      seen = seen.length === 0 ? data : concat(seen, data)
      const route = this.match(seen)
      if (route !== UNDECIDED) finish(route)
    }
    const giveUp = (): void => finish(undefined)
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', giveUp)
  }
}

/** Frame types and flags of yamux (its spec; @libp2p/yamux 8.0.3 dist/src/frame.js). */
const DATA = 0
const WINDOW_UPDATE = 1
const SYN = 1
const ACK = 2
const FIN = 4
const RST = 8
/** The receive window of a yamux stream before any update (the spec's initial window, and go-yamux's). */
const LIGHT_WINDOW = 256 * 1024
/** Streams per connection on the light path, pending or open; beyond it new streams take the usual way. */
export const MAX_LIGHT_STREAMS = 4096
/** Frames a stream may send before its opening is complete; a stream that sends more takes the usual way. */
const MAX_PENDING_FRAMES = 16
const EMPTY = new Uint8Array(0)
/** What `match` returns while a stream's first bytes could still become some route's opening. */
const UNDECIDED = Symbol('undecided')

interface YamuxHeader {
  type: number
  flag: number
  streamID: number
  length: number
}

interface YamuxFrame {
  header: YamuxHeader
  data?: Uint8ArrayList
}

/** The part of @libp2p/yamux's muxer (8.0.3, dist/src/muxer.js) that the light path uses. */
interface YamuxInternals {
  client: boolean
  handleFrame(frame: YamuxFrame): void
  sendFrame(header: YamuxHeader, data?: Uint8Array): void
  abort(...args: unknown[]): unknown
  onTransportClosed(...args: unknown[]): unknown
  close(...args: unknown[]): unknown
}

/**
 * A stream on the light path: its frames while its opening is incomplete
 * (replayed into the muxer if it is not a light route's), the bytes seen so
 * far, its sink once taken, and the data received since the last window update
 * (pending frames included).
 */
interface LightEntry {
  frames: YamuxFrame[]
  seen: Uint8Array
  sink?: LightSink
  unacked: number
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a)
  joined.set(b, a.length)
  return joined
}

/** The part of @libp2p/yamux's stream (8.0.3, dist/src/stream.js) that window updates use. */
interface YamuxWindow {
  state: number
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

const ESTABLISHED = 3 // StreamState.Established

/**
 * Window updates only once half the receive window is used, as go-yamux sends
 * them (`sendWindowUpdate` in its stream.go). @libp2p/yamux sends one after
 * every data frame, so each of Go's one-packet streams cost us a window update
 * frame (a Noise message of its own) besides the echo and the FIN, for a
 * stream that ends right after. The first frame we send still carries the ACK,
 * and a paused stream keeps its own handling: only an established stream with
 * more than half its window left skips the update. Returns whether the stream
 * had the expected shape (a stream of another muxer keeps its own updates).
 */
export function lazyWindowUpdates(stream: unknown): boolean {
  const s = stream as Partial<YamuxWindow>
  if (typeof s.sendWindowUpdate !== 'function' || typeof s.recvWindow !== 'number' || typeof s.recvWindowCapacity !== 'number' || typeof s.state !== 'number') return false
  const eager = s.sendWindowUpdate.bind(stream)
  const y = s as YamuxWindow
  y.sendWindowUpdate = () => {
    if (y.state === ESTABLISHED && y.recvWindowCapacity * 2 >= y.recvWindow) return
    eager()
  }
  fastInboundStats.lazyWindows++
  return true
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
