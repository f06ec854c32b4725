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
}

type StreamListener = (evt: CustomEvent<Stream>) => void
type MuxerFactoryInit<C> = (components: C) => StreamMuxerFactory

const byHost = new WeakMap<object, FastInbound>()

/**
 * All hosts of this process: muxers whose inbound-stream listener was
 * intercepted, streams taken by the fast path, streams handed to libp2p, and
 * fast-path streams whose window updates were made lazy.
 */
export const fastInboundStats = { muxers: 0, fast: 0, passed: 0, lazyWindows: 0 }

/** The fast path of a host made by createHost (undefined for other libp2p nodes). */
export function fastInboundOf(host: object): FastInbound | undefined {
  return byHost.get(host)
}

export class FastInbound {
  /** Inbound streams taken by the fast path, and those handed to libp2p. */
  readonly stats = { fast: 0, passed: 0 }
  private readonly routes: Route[] = []
  private connections?: () => Connection[]

  /** Binds this fast path to its host, where the connection (and so the remote peer) of a muxer is found. */
  attach(host: { getConnections(): Connection[] }): void {
    this.connections = () => host.getConnections()
    byHost.set(host, this)
  }

  handle(protocol: string, handler: FastHandler): void {
    this.unhandle(protocol)
    const header = mssLine(MSS_HEADER)
    const line = mssLine(protocol)
    const opening = new Uint8Array(header.length + line.length)
    opening.set(header)
    opening.set(line, header.length)
    this.routes.push({ protocol, opening, handler })
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
    }
    return muxer
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
      if (seen.length === 0) seen = data
      else {
        const joined = new Uint8Array(seen.length + data.length)
        joined.set(seen)
        joined.set(data, seen.length)
        seen = joined
      }
      let undecided = false
      for (const route of this.routes) {
        const n = Math.min(seen.length, route.opening.length)
        if (!startsWith(seen, route.opening, n)) continue
        if (n === route.opening.length) return finish(route)
        undecided = true
      }
      if (!undecided) finish(undefined)
    }
    const giveUp = (): void => finish(undefined)
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', giveUp)
  }
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
