import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { rendezvous, rendezvousCid } from '../crypto/derive.js'
import type { NetworkToken } from '../token/token.js'
import type { PeerHost } from './host.js'

/** What the DHT rendezvous found so far, for status lines and errors that name the failed step. */
export interface RendezvousReport {
  /** Bootstrap peers dialled each round, and how many of them answered at least once. */
  bootstrapPeers: number
  bootstrapReached: number
  /** Completed rounds (each dials the bootstrap peers, then advertises and looks up the rendezvous). */
  rounds: number
  /** Completed lookups of the rendezvous providers. */
  lookups: number
  /** Distinct other peers announcing this token's rendezvous, and how many we got connected to. */
  providersFound: number
  providersConnected: number
  /** Of those, how many we had a direct (not relayed) connection with. */
  providersDirect: number
  /** Lost network peers (bootstrap or topic peers) being redialled now. */
  redialling: number
}

export interface DiscoveryOptions {
  /** Longest pause between rendezvous rounds (EdgeVPN's CLI default is 720 s). */
  maxIntervalMs?: number
  /** First pause before redialling a lost network peer; doubled per failed attempt (default 1 s). */
  redialMinMs?: number
  /** Longest pause between redials (default 10 s). */
  redialMaxMs?: number
  /** Debug lines; `step` marks the steps of reaching the network (shown with --verbose). */
  log?: (msg: string, step?: boolean) => void
}

/** Topic peers remembered for redialling (the oldest is forgotten first). */
const MAX_REMEMBERED = 64
/** A lost topic peer is redialled this long; bootstrap peers as long as we run. */
const TOPIC_REDIAL_MS = 10 * 60_000

/**
 * EdgeVPN's DHT discovery: each round advertises the current and the previous
 * OTP rendezvous (as provider records of their CIDs), looks up the providers
 * of both, and dials them; bootstrap peers are dialled at every round too.
 * Rounds start immediately and back off from 5 s up to the maximum.
 *
 * A network peer that disconnects (a bootstrap peer, or a peer seen on the
 * gossip topic) is redialled on its own schedule, 1 s after the loss and
 * then doubling up to 10 s, until it is back (topic peers for 10 minutes), so
 * a restart or a pause of a node does not partition the ledger until the next
 * round.
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
  private readonly directProviders = new Set<string>()
  private lookups = 0
  private rounds = 0
  /** Peers to redial when lost: bootstrap peers (with their address) and remembered topic peers. */
  private readonly bootstrapAddrs = new Map<string, Multiaddr>()
  private readonly topicPeers = new Set<string>()
  private readonly redials = new Map<string, NodeJS.Timeout>()
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => this.lost(evt.detail.toString())
  /** Our addresses through a relay already announced by a round (bounded: a few relays at a time). */
  private readonly relayAddrs = new Set<string>()
  private roundRunning = false
  private roundAgain = false
  private readonly onSelfUpdate = (): void => {
    const fresh = this.host
      .getMultiaddrs()
      .map(String)
      .filter((a) => a.includes('/p2p-circuit') && !this.relayAddrs.has(a))
    if (fresh.length === 0) return
    if (this.relayAddrs.size > 64) this.relayAddrs.clear()
    for (const a of fresh) this.relayAddrs.add(a)
    this.opts.log?.(`relay: holding a slot; nodes behind NAT can reach us at ${fresh.join(', ')}`, true)
    // Provider records carry our addresses as they were: announce the new ones now, not at the next round.
    this.roundSoon()
  }

  constructor(
    private readonly host: PeerHost,
    private readonly token: NetworkToken,
    private readonly bootstrapPeers: string[],
    private readonly opts: DiscoveryOptions = {},
  ) {}

  start(): void {
    for (const addr of this.bootstrapPeers) {
      try {
        const ma = multiaddr(addr)
        const id = ma.getComponents().find((c) => c.name === 'p2p')?.value
        if (id) this.bootstrapAddrs.set(id, ma)
      } catch {
        // reported by the first dial
      }
    }
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.host.addEventListener('self:peer:update', this.onSelfUpdate)
    void this.round()
  }

  /** Starts the next round within a second (after the one under way, if any); the backoff stays. */
  private roundSoon(): void {
    if (this.stopped) return
    if (this.roundRunning) {
      this.roundAgain = true
      return
    }
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.round(), 1000)
    this.timer.unref()
  }

  stop(): void {
    this.stopped = true
    this.abort.abort()
    if (this.timer) clearTimeout(this.timer)
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
    this.host.removeEventListener('self:peer:update', this.onSelfUpdate)
    for (const t of this.redials.values()) clearTimeout(t)
    this.redials.clear()
  }

  /** A peer seen on the network's gossip topic: redialled when it is lost. */
  remember(id: string): void {
    this.topicPeers.delete(id)
    this.topicPeers.add(id)
    if (this.topicPeers.size > MAX_REMEMBERED) this.topicPeers.delete(this.topicPeers.values().next().value!)
  }

  private lost(id: string): void {
    if (this.stopped || this.redials.has(id)) return
    const bootstrap = this.bootstrapAddrs.get(id)
    if (!bootstrap && !this.topicPeers.has(id)) return
    const giveUpAt = bootstrap ? Infinity : Date.now() + TOPIC_REDIAL_MS
    this.opts.log?.(`lost ${id}; redialling`)
    this.redial(id, bootstrap, this.opts.redialMinMs ?? 1000, giveUpAt)
  }

  private redial(id: string, addr: Multiaddr | undefined, delay: number, giveUpAt: number): void {
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the callback catches the dial's errors itself
    const timer = setTimeout(async () => {
      const target = addr ?? peerIdFromString(id)
      if (this.stopped || this.host.getConnections(peerIdFromString(id)).length > 0) return this.redials.delete(id)
      try {
        await this.host.dial(target, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(5_000)]) })
        this.redials.delete(id)
        this.opts.log?.(`redialled ${id}`)
      } catch (err) {
        if (this.stopped || Date.now() >= giveUpAt) return this.redials.delete(id)
        this.opts.log?.(`redial of ${id} failed: ${(err as Error).message}`)
        this.redial(id, addr, Math.min(delay * 2, this.opts.redialMaxMs ?? 10_000), giveUpAt)
      }
    }, delay)
    timer.unref()
    this.redials.set(id, timer)
  }

  report(): RendezvousReport {
    for (const id of this.providers) {
      const connections = this.host.getConnections(peerIdFromString(id))
      if (connections.length > 0) this.connectedProviders.add(id)
      if (connections.some((c) => c.limits === undefined)) this.directProviders.add(id)
    }
    return {
      bootstrapPeers: this.bootstrapPeers.length,
      bootstrapReached: this.bootstrapReached.size,
      rounds: this.rounds,
      lookups: this.lookups,
      providersFound: this.providers.size,
      providersConnected: this.connectedProviders.size,
      providersDirect: this.directProviders.size,
      redialling: this.redials.size,
    }
  }

  private async round(): Promise<void> {
    if (this.stopped) return
    this.roundRunning = true
    try {
      await Promise.all(this.bootstrapPeers.map((addr) => this.dial(addr)))
      if (this.host.services.dht) {
        const current = rendezvous(this.token)
        if (this.ring.at(-1) !== current) this.ring.push(current)
        if (this.ring.length > 2) this.ring.shift()
        await Promise.all(this.ring.map((r) => this.announceAndFind(r)))
      }
    } finally {
      this.roundRunning = false
    }
    if (this.stopped) return
    this.rounds++
    const jitter = this.roundAgain ? 1000 : this.delay * (0.5 + Math.random())
    this.roundAgain = false
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
        const id = provider.id.toString()
        if (!this.providers.has(id)) {
          const relayed = provider.multiaddrs.filter((a) => a.toString().includes('/p2p-circuit')).length
          this.opts.log?.(`rendezvous: found ${id} on the DHT (${provider.multiaddrs.length} address(es), ${relayed} through a relay)`, true)
        }
        this.providers.add(id)
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
      const id = conn.remotePeer.toString()
      if (!this.bootstrapReached.has(id)) {
        this.bootstrapReached.add(id)
        this.opts.log?.(`bootstrap: reached ${addr} (${this.bootstrapReached.size} of ${this.bootstrapPeers.length})`, true)
      }
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
      const conn = await this.host.dial(id, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(15_000)]) })
      this.connectedProviders.add(id.toString())
      this.opts.log?.(
        conn.limits === undefined
          ? `connected to ${id.toString()} directly (${conn.remoteAddr.toString()})`
          : `connected to ${id.toString()} through a relay (limited: waiting for a hole punch before the ledger can flow)`,
        true,
      )
    } catch (err) {
      this.opts.log?.(`provider ${id.toString()} not reachable: ${(err as Error).message}`)
    }
  }
}
