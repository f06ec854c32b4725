import { EventEmitter } from 'node:events'
import { gzipSync } from 'node:zlib'
import type { PrivateKey } from '@libp2p/interface'
import { UserError } from '../errors.js'
import { GossipHub, TooLargeError } from '../gossip/hub.js'
import { decodeBlock, encodeBlock, type Block } from '../ledger/block.js'
import { signerFromPrivateKey } from '../ledger/entry.js'
import { Ledger, type ChangeOrigin, type OwnershipMode } from '../ledger/ledger.js'
import { policyOf } from '../ledger/policy.js'
import type { NetworkToken } from '../token/token.js'
import { dhtBootstrap, type DhtBootstrap } from './bootstrap-list.js'
import { RendezvousDiscovery, type RendezvousReport } from './discovery.js'
import { createHost, type PeerHost } from './host.js'
import { loadIdentity } from './identity.js'
import { natReport, type NatReport } from './nat/reachability.js'
import { OwnershipDetector, type NetworkKind } from './ownership.js'

/**
 * `auto` follows the network: the signed rules (enforce) unless the network
 * proves to be a legacy one (docs/ledger.md, "Ownership auto-detection").
 */
export type OwnershipSetting = OwnershipMode | 'auto'

/**
 * Auto mode signs its writes once the network is known to sign, or after this
 * long when no block built by legacy code has been seen (a signing network
 * whose nodes have written nothing yet).
 */
const SIGN_AFTER_MS = 10_000

export interface PeerOptions {
  token: NetworkToken
  /** Identity file (libp2p protobuf private key); a fresh identity when omitted. */
  identityFile?: string
  privateKey?: PrivateKey
  listen?: string[]
  mdns?: boolean
  dht?: boolean
  /** Serve DHT queries (for a network made only of our own peers). */
  dhtServer?: boolean
  bootstrapPeers?: string[]
  /** Map our listen ports on the router with UPnP (off when undefined; the CLI turns it on). */
  natmap?: boolean
  /** Hold a relay reservation so that nodes behind NAT can reach us (the bridge; one-shot commands dial out). */
  relayReservation?: boolean
  ownership?: OwnershipSetting
  /** Ownership liveness TTL in seconds (Go v0.35.4: 480, v0.35.0-3: 120). */
  ownershipTtl?: number
  /** How often the current block is re-broadcast (EdgeVPN's synchronizer). */
  syncIntervalMs?: number
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void
}

export interface PeerEvents {
  /** A block from the network changed our ledger. */
  ledger: []
  /** Any block arrived (changed or not), with the id of the forwarding peer. */
  block: [from: string, block: Block]
}

/**
 * Most entries a block from the network may hold: one per 128 bytes of
 * max_message_size (163 840 by default). A signed entry's 64 random signature
 * bytes alone take 128 bytes of a sealed (hex) message, so no Go node can send
 * a signed ledger with more; a million tiny entries fit in 5 MB and would hold
 * the event loop for over 10 s and take 1 GB (docs/ledger.md).
 */
export function maxEntries(token: NetworkToken): number {
  return Math.floor(token.maxMessageSize / 128)
}

/** What the peer did to find the network, for status lines and error messages. */
export interface DiscoveryReport {
  modes: string[]
  connectedPeers: number
  topicPeers: number
  blocksReceived: number
  blockSenders: number
  /** The DHT rendezvous (absent when the DHT is off), and where its bootstrap peers came from. */
  dht?: RendezvousReport & { source: DhtBootstrap['source'] }
  /** Whether the internet can dial us (AutoNAT), our observed and UPnP-mapped addresses. */
  nat?: NatReport
}

/**
 * A lightweight EdgeVPN peer: a libp2p host on the token's network, its gossip
 * hub, and a replica of the shared ledger. It never routes traffic by itself.
 */
export class EdgePeer extends EventEmitter<PeerEvents> {
  ledger: Ledger
  /** The write mode in force: fixed, or detected from the network in `auto`. */
  effectiveMode: OwnershipMode
  /** In auto mode, what the network has shown so far. */
  private readonly detector?: OwnershipDetector
  private blocksReceived = 0
  private readonly startedAt = performance.now()
  private signTimer?: NodeJS.Timeout
  private readonly senders = new Set<string>()
  private syncTimer?: NodeJS.Timeout
  private soonTimer?: NodeJS.Timeout
  private readonly hub: GossipHub
  private readonly discovery: RendezvousDiscovery
  /** The wire form of the last block encoded (for the size check and the next announcement). */
  private encoded?: { block: Block; legacy: boolean; json: Uint8Array; gzipped?: Uint8Array }
  /** Why the last announcement could not be sent; undefined once one was. */
  private sendError?: string
  /** The peer whose block is being merged, for log lines. */
  private mergingFrom?: string
  /** Where the DHT starts: explicit peers, the public Amino list, or nowhere. */
  readonly dhtBootstrap: DhtBootstrap

  private constructor(
    readonly host: PeerHost,
    readonly privateKey: PrivateKey,
    private readonly opts: PeerOptions,
  ) {
    super()
    const setting = opts.ownership ?? 'auto'
    this.effectiveMode = setting === 'auto' ? 'enforce' : setting
    if (setting === 'auto') this.detector = new OwnershipDetector(host.peerId.toString())
    // Auto mode writes unsigned entries until the network is known to sign (see follow()).
    this.ledger = this.newLedger(this.effectiveMode, { unsigned: this.detector !== undefined })
    this.hub = new GossipHub(host.services.pubsub, opts.token, host.peerId.toString())
    this.hub.on('payload', (payload, from) => this.receive(payload, from))
    this.hub.on('dropped', (reason, from) => this.log('debug', `dropped gossip from ${from}: ${reason}`))
    // Like Go EdgeVPN: only explicit peers become gossipsub direct peers (createHost); the
    // public list is only dialled by the rendezvous rounds.
    this.dhtBootstrap = dhtBootstrap(opts.bootstrapPeers ?? [], opts.dht ?? true)
    if (this.dhtBootstrap.source === 'public') this.log('debug', `DHT: no bootstrap peer given, joining the public Amino DHT (${this.dhtBootstrap.peers.length} bootstrap peers)`)
    this.discovery = new RendezvousDiscovery(host, opts.token, this.dhtBootstrap.peers, {
      log: (m, step) => this.log(step ? 'info' : 'debug', m),
    })
    host.services.holePunch.onEvent = (e) => {
      if (e.kind === 'start') this.log('info', `hole punch: ${e.peer} reached us through our relay; starting a hole punch (attempt ${e.attempt})`)
      else if (e.kind === 'request')
        this.log('info', `hole punch: ${e.peer} ${e.started ? 'answered over the relay' : 'asks over a relay'} (its addresses ${e.theirs.join(', ') || 'none'}; ours ${e.ours.join(', ') || 'none'})`)
      else if (e.kind === 'punched') this.log('info', `hole punch: direct connection to ${e.peer} at ${e.addr} after ${e.ms} ms${e.started ? ' (we started it)' : ''}`)
      else this.log('info', `hole punch with ${e.peer} failed: ${e.why}`)
    }
    // A peer that just joined the topic gets our ledger at once instead of at the next periodic round.
    host.services.pubsub.addEventListener('subscription-change', (evt) => {
      const { peerId, subscriptions } = evt.detail
      if (subscriptions.some((s) => s.subscribe && s.topic === this.hub.currentTopic)) {
        this.discovery.remember(peerId.toString())
        this.announceSoon()
      }
    })
  }

  static async start(opts: PeerOptions): Promise<EdgePeer> {
    const privateKey = opts.privateKey ?? (await loadIdentity(opts.identityFile))
    const host = await createHost({
      privateKey,
      listen: opts.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      mdnsName: (opts.mdns ?? true) ? opts.token.mdns : undefined,
      dht: opts.dht ?? true,
      dhtServer: opts.dhtServer,
      bootstrapPeers: opts.bootstrapPeers ?? [],
      maxMessageSize: opts.token.maxMessageSize,
      natmap: opts.natmap,
      relayReservation: opts.relayReservation && (opts.dht ?? true),
    })
    const peer = new EdgePeer(host, privateKey, opts)
    peer.hub.start()
    peer.discovery.start()
    peer.scheduleSync()
    if (peer.detector) {
      peer.signTimer = setTimeout(() => peer.follow(peer.detector!.kind), SIGN_AFTER_MS)
      peer.signTimer.unref()
    }
    return peer
  }

  get id(): string {
    return this.host.peerId.toString()
  }

  get topic(): string | undefined {
    return this.hub.currentTopic
  }

  report(): DiscoveryReport {
    const modes = [
      (this.opts.mdns ?? true) ? 'mDNS' : '',
      (this.opts.dht ?? true) ? (this.dhtBootstrap.source === 'public' ? 'DHT rendezvous (public Amino DHT)' : 'DHT rendezvous') : '',
      (this.opts.bootstrapPeers ?? []).length > 0 ? `${this.opts.bootstrapPeers!.length} bootstrap peer(s)` : '',
    ].filter(Boolean)
    return {
      modes,
      connectedPeers: this.host.getPeers().length,
      topicPeers: this.hub.subscribers().length,
      blocksReceived: this.blocksReceived,
      blockSenders: this.senders.size,
      dht: (this.opts.dht ?? true) ? { ...this.discovery.report(), source: this.dhtBootstrap.source } : undefined,
      nat: natReport(this.host.services.addressInfo.addresses(), this.opts.natmap ?? false, this.host.services.holePunch.observedIps()),
    }
  }

  /** Peers that sent us at least one block. */
  get syncedFrom(): ReadonlySet<string> {
    return this.senders
  }

  /** Gossip messages received but not yet opened and merged. */
  get gossipPending(): number {
    return this.hub.pending
  }

  /** What auto mode has learnt about the network (`signed` or `legacy` for a fixed mode). */
  get networkKind(): NetworkKind {
    if (this.detector) return this.detector.kind
    return this.effectiveMode === 'off' ? 'legacy' : 'signed'
  }

  /** Every peer the host has heard of (its peer store). */
  knownPeers(): string[] {
    return this.host.getPeers().map(String)
  }

  isConnected(peerId: string): boolean {
    return this.host.getPeers().some((p) => p.toString() === peerId)
  }

  /** Topic peers (ids) currently subscribed to the network's gossip topic. */
  topicPeers(): string[] {
    return this.hub.subscribers()
  }

  /** Why our ledger cannot be published at the moment (too large); undefined when it can. */
  get unsendable(): string | undefined {
    return this.sendError
  }

  /** Publishes our current block now (besides the periodic re-broadcast). */
  async announce(): Promise<number> {
    const wire = this.wireForm(this.ledger.lastBlock())
    wire.gzipped ??= gzipSync(wire.json)
    try {
      const sent = await this.hub.publish(wire.json, wire.gzipped)
      if (this.sendError) this.log('info', 'the ledger can be published again')
      this.sendError = undefined
      return sent
    } catch (err) {
      const reason = (err as Error).message
      // Logged once per reason, not at every periodic re-broadcast.
      if (reason !== this.sendError) this.log('warn', `could not publish the ledger: ${reason}`)
      this.sendError = reason
      return 0
    }
  }

  private announceSoon(): void {
    if (this.soonTimer) return
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined
      void this.announce()
    }, 200)
    this.soonTimer.unref()
  }

  async stop(): Promise<void> {
    if (this.soonTimer) clearTimeout(this.soonTimer)
    if (this.signTimer) clearTimeout(this.signTimer)
    if (this.syncTimer) clearTimeout(this.syncTimer)
    this.discovery.stop()
    this.hub.stop()
    await this.host.stop()
  }

  private newLedger(mode: OwnershipMode, opts: { unsigned?: boolean } = {}): Ledger {
    return new Ledger({
      mode,
      signer: mode === 'off' || opts.unsigned ? undefined : signerFromPrivateKey(this.privateKey),
      // Unsigned blocks hashed as v0.34 does: our other peers count them as a legacy node's.
      checksumStyle: mode === 'off' || opts.unsigned ? 'v0.34' : 'v0.35',
      ttlSeconds: this.opts.ownershipTtl,
      log: (level, msg) => this.log(level === 'warn' ? 'debug' : level, msg),
      admit: (block, origin) => this.admit(block, origin),
    })
  }

  private wireForm(block: Block): NonNullable<EdgePeer['encoded']> {
    const legacy = this.effectiveMode === 'off'
    if (this.encoded?.block !== block || this.encoded.legacy !== legacy) {
      this.encoded = { block, legacy, json: new TextEncoder().encode(encodeBlock(block, { legacy })) }
    }
    return this.encoded
  }

  /**
   * Keeps the ledger within what one gossip message can carry (docs/ledger.md):
   * a block from the network that would grow it past that is refused (and
   * logged), a local write that would is an error.
   */
  private admit(block: Block, origin: ChangeOrigin): boolean {
    const wire = this.wireForm(block)
    const n = wire.json.length
    // gzip never grows data by more than this: no need to compress to know it fits.
    if (GossipHub.envelopeSize(n + (n >> 10) + 64) <= this.hub.sendLimit) return true
    wire.gzipped = gzipSync(wire.json)
    const size = GossipHub.envelopeSize(wire.gzipped.length)
    if (size <= this.hub.sendLimit) return true
    this.encoded = undefined // not installed: keep no copy of it
    const why = new TooLargeError(size, this.opts.token.maxMessageSize).message
    if (origin === 'local') {
      this.log('warn', `refused a local write: ${why}`)
      throw new UserError(`refused the write: ${why}`, { hint: 'delete keys or write smaller values' })
    }
    this.log('warn', `refused a ledger block from ${this.mergingFrom ?? 'the network'}: merged, ${why}`)
    return false
  }

  private receive(payload: Uint8Array, from: string): void {
    let block: Block
    try {
      block = decodeBlock(new TextDecoder().decode(payload), { maxEntries: maxEntries(this.opts.token) })
    } catch (err) {
      this.log('debug', `ignored a malformed block from ${from}: ${(err as Error).message}`)
      return
    }
    this.blocksReceived++
    this.senders.add(from)
    if (this.opts.log) this.log('debug', `block ${block.index} from ${from} (${[...block.storage.values()].reduce((n, kv) => n + kv.size, 0)} entries)`)
    if (this.detector) {
      this.detector.observe(from, block)
      this.follow(this.detector.decide(this.hub.subscribers()))
    }
    let changed = false
    this.mergingFrom = from
    try {
      changed = this.ledger.update(block)
    } catch (err) {
      this.log('debug', `ignored a block from ${from}: ${(err as Error).message}`)
    } finally {
      this.mergingFrom = undefined
    }
    this.emit('block', from, block)
    if (changed) this.emit('ledger')
  }

  /**
   * Auto mode: switches the replica to what the network has shown. Until the
   * network is known to sign, writes are unsigned: legacy nodes take them, and
   * so do signing nodes as first claims in open buckets, while an unknown peer
   * of ours publishing signed entries would look like a signing node to our
   * other peers on a legacy network. The current state is carried over by
   * merging it into the new replica; on the way to signed writes our own
   * unsigned entries of owned buckets are written again, signed.
   */
  private follow(kind: NetworkKind): void {
    const mode: OwnershipMode = kind === 'legacy' ? 'off' : 'enforce'
    const sign = mode === 'enforce' && (kind === 'signed' || (performance.now() - this.startedAt >= SIGN_AFTER_MS && !this.detector!.legacySeen()))
    if (mode === this.effectiveMode && sign === (this.ledger.signerId !== undefined)) return
    this.log(
      'debug',
      `network ledger is ${kind === 'legacy' ? 'legacy (unsigned)' : kind === 'signed' ? 'signed (ownership on)' : 'not known yet'}: ${mode} rules, ${sign ? 'signed' : 'unsigned'} writes`,
    )
    const previous = this.ledger
    this.effectiveMode = mode
    this.ledger = this.newLedger(mode, { unsigned: !sign })
    this.ledger.update(previous.lastBlock())
    if (!sign || previous.mode === 'off') return
    // In an enforce-merge replica, unsigned entries of owned buckets can only be our own writes.
    for (const [bucket, kv] of previous.lastBlock().storage) {
      const pol = policyOf(bucket)
      if (!pol.owned || !pol.ownerOf) continue
      for (const [key, e] of kv) if (e.sig === null && !e.deleted && pol.ownerOf(key, e.value) === this.id) this.ledger.add(bucket, key, e.value)
    }
    this.announceSoon()
  }

  private scheduleSync(): void {
    const interval = this.opts.syncIntervalMs ?? 10_000
    this.syncTimer = setTimeout(
      () => {
        void this.announce().finally(() => this.scheduleSync())
      },
      interval * (0.5 + Math.random()),
    )
    this.syncTimer.unref()
  }

  private log(level: 'debug' | 'info' | 'warn', msg: string): void {
    this.opts.log?.(level, msg)
  }
}
