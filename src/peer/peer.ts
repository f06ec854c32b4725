import { EventEmitter } from 'node:events'
import { gzipSync } from 'node:zlib'
import type { PrivateKey } from '@libp2p/interface'
import { UserError } from '../errors.js'
import { GossipHub, TooLargeError } from '../gossip/hub.js'
import { decodeBlock, encodeBlock, type Block } from '../ledger/block.js'
import { signerFromPrivateKey } from '../ledger/entry.js'
import { Ledger, type ChangeOrigin, type OwnershipMode } from '../ledger/ledger.js'
import type { NetworkToken } from '../token/token.js'
import { dhtBootstrap, type DhtBootstrap } from './bootstrap-list.js'
import { RendezvousDiscovery, type RendezvousReport } from './discovery.js'
import { createHost, type PeerHost } from './host.js'
import { loadIdentity } from './identity.js'

/** `auto` follows the network: signed writes once a signed entry is seen, legacy writes when only legacy ones are. */
export type OwnershipSetting = OwnershipMode | 'auto'

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
  peers: [count: number]
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
}

/**
 * A lightweight EdgeVPN peer: a libp2p host on the token's network, its gossip
 * hub, and a replica of the shared ledger. It never routes traffic by itself.
 */
export class EdgePeer extends EventEmitter<PeerEvents> {
  ledger: Ledger
  /** The write mode in force: fixed, or detected from the network in `auto`. */
  effectiveMode: OwnershipMode
  private detected: boolean
  private blocksReceived = 0
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
    this.detected = setting !== 'auto'
    this.ledger = this.newLedger(this.effectiveMode)
    this.hub = new GossipHub(host.services.pubsub, opts.token, host.peerId.toString())
    this.hub.on('payload', (payload, from) => this.receive(payload, from))
    this.hub.on('dropped', (reason, from) => this.log('debug', `dropped gossip from ${from}: ${reason}`))
    // Like Go EdgeVPN: only explicit peers become gossipsub direct peers (createHost); the
    // public list is only dialled by the rendezvous rounds.
    this.dhtBootstrap = dhtBootstrap(opts.bootstrapPeers ?? [], opts.dht ?? true)
    if (this.dhtBootstrap.source === 'public') this.log('debug', `DHT: no bootstrap peer given, joining the public Amino DHT (${this.dhtBootstrap.peers.length} bootstrap peers)`)
    this.discovery = new RendezvousDiscovery(host, opts.token, this.dhtBootstrap.peers, {
      log: (m) => this.log('debug', m),
    })
    // A peer that just joined the topic gets our ledger at once instead of at the next periodic round.
    const pubsub = host.services.pubsub as unknown as EventTarget
    pubsub.addEventListener('subscription-change', (evt) => {
      const { subscriptions } = (evt as CustomEvent<{ subscriptions: { topic: string; subscribe: boolean }[] }>).detail
      if (subscriptions.some((s) => s.subscribe && s.topic === this.hub.currentTopic)) this.announceSoon()
    })
    host.addEventListener('connection:open', () => this.emit('peers', this.host.getPeers().length))
    host.addEventListener('connection:close', () => this.emit('peers', this.host.getPeers().length))
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
    })
    const peer = new EdgePeer(host, privateKey, opts)
    peer.hub.start()
    peer.discovery.start()
    peer.scheduleSync()
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
    }
  }

  /** Peers that sent us at least one block. */
  get syncedFrom(): ReadonlySet<string> {
    return this.senders
  }

  /**
   * Called before a local write. In auto mode, a network whose ledger showed
   * no entries yet cannot tell us how it writes: write legacy entries then,
   * which both legacy nodes and signing nodes (as a first claim of a key in an
   * open bucket) accept.
   */
  prepareWrite(): void {
    if (this.detected || this.effectiveMode === 'off') return
    const empty = Object.keys(this.ledger.currentData()).length === 0
    if (empty) {
      this.effectiveMode = 'off'
      this.ledger = this.newLedger('off')
    }
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
    if (this.syncTimer) clearTimeout(this.syncTimer)
    this.discovery.stop()
    this.hub.stop()
    await this.host.stop()
  }

  private newLedger(mode: OwnershipMode): Ledger {
    return new Ledger({
      mode,
      signer: mode === 'off' ? undefined : signerFromPrivateKey(this.privateKey),
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
    if (!this.detected) this.detect(block)
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

  /** In auto mode the first block that holds entries tells how the network writes. */
  private detect(block: Block): void {
    let signed = false
    let entries = 0
    for (const bucket of block.storage.values()) {
      for (const entry of bucket.values()) {
        entries++
        if (entry.sig !== null || entry.owner !== '' || entry.version !== 0n || entry.deleted) signed = true
      }
    }
    if (entries === 0) return
    this.detected = true
    if (signed && this.effectiveMode === 'off') {
      // We wrote legacy entries before the network showed its mode; keep them by merging the block into a signing ledger.
      this.effectiveMode = 'enforce'
      const previous = this.ledger
      this.ledger = this.newLedger('enforce')
      this.ledger.update(previous.lastBlock())
    }
    const mode: OwnershipMode = signed ? 'enforce' : 'off'
    this.log('debug', `network ledger is ${signed ? 'signed (ownership on)' : 'legacy (unsigned)'}: writing in ${mode} mode`)
    if (mode !== this.effectiveMode) {
      this.effectiveMode = mode
      this.ledger = this.newLedger(mode)
    }
  }

  private scheduleSync(): void {
    const interval = this.opts.syncIntervalMs ?? 10_000
    this.syncTimer = setTimeout(() => {
      void this.announce().finally(() => this.scheduleSync())
    }, interval * (0.5 + Math.random()))
    this.syncTimer.unref()
  }

  private log(level: 'debug' | 'info' | 'warn', msg: string): void {
    this.opts.log?.(level, msg)
  }
}
