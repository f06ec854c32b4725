import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { rendezvous, rendezvousCid } from '../crypto/derive.js'
import type { NetworkToken } from '../token/token.js'
import type { PeerHost } from './host.js'

/** What the DHT rendezvous found so far, for status lines and errors that name the failed step. */
export interface RendezvousReport {
  /** Bootstrap peers dialled each round, and how many of them answered at least once. */
  bootstrapPeers: number
  bootstrapReached: number
  /** Completed lookups of the rendezvous providers. */
  lookups: number
  /** Distinct other peers announcing this token's rendezvous, and how many we got connected to. */
  providersFound: number
  providersConnected: number
}

export interface DiscoveryOptions {
  /** Longest pause between rendezvous rounds (EdgeVPN's CLI default is 720 s). */
  maxIntervalMs?: number
  log?: (msg: string) => void
}

/**
 * EdgeVPN's DHT discovery: each round advertises the current and the previous
 * OTP rendezvous (as provider records of their CIDs), looks up the providers
 * of both, and dials them; bootstrap peers are dialled at every round too.
 * Rounds start immediately and back off from 5 s up to the maximum.
 */
export class RendezvousDiscovery {
  private readonly ring: string[] = []
  private timer?: NodeJS.Timeout
  private stopped = false
  private delay = 5000
  private readonly abort = new AbortController()
  /** Rendezvous strings used so far (current last), for status and errors. */
  readonly used = new Set<string>()
  private readonly bootstrapReached = new Set<string>()
  private readonly providers = new Set<string>()
  private readonly connectedProviders = new Set<string>()
  private lookups = 0

  constructor(
    private readonly host: PeerHost,
    private readonly token: NetworkToken,
    private readonly bootstrapPeers: string[],
    private readonly opts: DiscoveryOptions = {},
  ) {}

  start(): void {
    void this.round()
  }

  stop(): void {
    this.stopped = true
    this.abort.abort()
    if (this.timer) clearTimeout(this.timer)
  }

  report(): RendezvousReport {
    for (const id of this.providers) {
      if (this.host.getPeers().some((p) => p.toString() === id)) this.connectedProviders.add(id)
    }
    return {
      bootstrapPeers: this.bootstrapPeers.length,
      bootstrapReached: this.bootstrapReached.size,
      lookups: this.lookups,
      providersFound: this.providers.size,
      providersConnected: this.connectedProviders.size,
    }
  }

  private async round(): Promise<void> {
    if (this.stopped) return
    await Promise.all(this.bootstrapPeers.map((addr) => this.dial(addr)))
    if (this.host.services.dht) {
      const current = rendezvous(this.token)
      if (this.ring.at(-1) !== current) this.ring.push(current)
      if (this.ring.length > 2) this.ring.shift()
      await Promise.all(this.ring.map((r) => this.announceAndFind(r)))
    }
    if (this.stopped) return
    const jitter = this.delay * (0.5 + Math.random())
    this.timer = setTimeout(() => void this.round(), jitter)
    this.timer.unref()
    this.delay = Math.min(this.delay * 2, this.opts.maxIntervalMs ?? 720_000)
  }

  private async announceAndFind(value: string): Promise<void> {
    this.used.add(value)
    const cid = await rendezvousCid(value)
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(120_000)])
    const routing = this.host.contentRouting
    const provide = routing.provide(cid, { signal }).catch((err: Error) => this.opts.log?.(`rendezvous advertise failed: ${err.message}`))
    try {
      for await (const provider of routing.findProviders(cid, { signal })) {
        if (provider.id.equals(this.host.peerId)) continue
        this.providers.add(provider.id.toString())
        void this.dialPeer(provider.id)
      }
      this.lookups++
    } catch (err) {
      this.opts.log?.(`rendezvous lookup failed: ${(err as Error).message}`)
    }
    await provide
  }

  private async dial(addr: string): Promise<void> {
    try {
      const conn = await this.host.dial(multiaddr(addr), { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(15_000)]) })
      this.bootstrapReached.add(conn.remotePeer.toString())
    } catch (err) {
      this.opts.log?.(`bootstrap peer ${addr} not reachable: ${(err as Error).message}`)
    }
  }

  private async dialPeer(id: PeerId): Promise<void> {
    if (this.host.getConnections(id).length > 0) {
      this.connectedProviders.add(id.toString())
      return
    }
    try {
      await this.host.dial(id, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(15_000)]) })
      this.connectedProviders.add(id.toString())
    } catch (err) {
      this.opts.log?.(`provider ${id} not reachable: ${(err as Error).message}`)
    }
  }
}
