import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { ipDestination, PacketFramer } from './packet.js'
import type { Tun } from './tun.js'

/** EdgeVPN's VPN protocol: raw IP packets, one stream per packet. */
export const VPN_PROTOCOL = '/edgevpn/0.1'

export interface RouterOptions {
  host: Libp2p
  tun: Tun
  /** The peer that owns a VPN address (EdgeVPN's `machines` bucket), if it may be routed to. */
  route: (ip: string) => string | undefined
  /** Whether a peer may send us packets (it has a `machines` entry). */
  accept: (peerId: string) => boolean
  /** Packets in flight at most; further packets wait (the kernel queues or drops). */
  maxInFlight?: number
  log?: (msg: string) => void
}

export interface RouterStats {
  sent: number
  received: number
  droppedNoRoute: number
  droppedSendError: number
  rejectedStreams: number
}

/**
 * The data plane: packets read from the TUN go to the owner of their
 * destination address, each on a stream of its own, as Go EdgeVPN sends them
 * (its receiver writes each stream read straight into its TUN, so packets must
 * never share a stream). Inbound streams are read to the end and split on IP
 * packet lengths, so several packets on one stream are all delivered.
 */
export class VpnRouter {
  readonly stats: RouterStats = { sent: 0, received: 0, droppedNoRoute: 0, droppedSendError: 0, rejectedStreams: 0 }
  private running = false
  private inFlight = 0
  private waiters: (() => void)[] = []
  private readonly peerIds = new Map<string, PeerId>()

  constructor(private readonly opts: RouterOptions) {}

  async start(): Promise<void> {
    this.running = true
    await this.opts.host.handle(VPN_PROTOCOL, (stream, connection) => this.inbound(stream, connection), {
      maxInboundStreams: 4096,
      maxOutboundStreams: 4096,
      force: true,
    })
    void this.readLoop()
  }

  async stop(): Promise<void> {
    this.running = false
    for (const w of this.waiters.splice(0)) w()
    await this.opts.host.unhandle(VPN_PROTOCOL).catch(() => {})
  }

  private async readLoop(): Promise<void> {
    const max = this.opts.maxInFlight ?? 256
    while (this.running) {
      let packet: Uint8Array | null
      try {
        packet = await this.opts.tun.read()
      } catch (err) {
        if (this.running) this.opts.log?.(`TUN read failed: ${(err as Error).message}`)
        return
      }
      if (packet === null) return
      const dst = ipDestination(packet)
      const owner = dst === null ? undefined : this.opts.route(dst)
      if (!owner) {
        this.stats.droppedNoRoute++
        continue
      }
      if (this.inFlight >= max) await new Promise<void>((resolve) => this.waiters.push(resolve))
      this.inFlight++
      void this.send(owner, packet).finally(() => {
        this.inFlight--
        this.waiters.shift()?.()
      })
    }
  }

  private peerId(id: string): PeerId {
    let p = this.peerIds.get(id)
    if (!p) {
      p = peerIdFromString(id)
      this.peerIds.set(id, p)
    }
    return p
  }

  private async send(owner: string, packet: Uint8Array): Promise<void> {
    let stream: Stream | undefined
    try {
      stream = await this.opts.host.dialProtocol(this.peerId(owner), VPN_PROTOCOL, {
        negotiateFully: false,
        signal: AbortSignal.timeout(15_000),
      })
      stream.send(packet)
      await stream.close({ signal: AbortSignal.timeout(15_000) })
      this.stats.sent++
    } catch (err) {
      this.stats.droppedSendError++
      stream?.abort(err as Error)
    }
  }

  private async inbound(stream: Stream, connection: Connection): Promise<void> {
    if (!this.opts.accept(connection.remotePeer.toString())) {
      this.stats.rejectedStreams++
      stream.abort(new Error('peer is not in the machines bucket'))
      return
    }
    const framer = new PacketFramer()
    try {
      for await (const chunk of stream) {
        const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
        for (const packet of framer.push(bytes)) {
          await this.opts.tun.write(packet)
          this.stats.received++
        }
      }
      await stream.close().catch(() => {})
    } catch {
      stream.abort(new Error('VPN stream failed'))
    }
  }
}
