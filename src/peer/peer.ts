import { EventEmitter } from 'node:events'
import type { PrivateKey } from '@libp2p/interface'
import { GossipHub } from '../gossip/hub.js'
import { decodeBlock, encodeBlock, type Block } from '../ledger/block.js'
import { signerFromPrivateKey } from '../ledger/entry.js'
import { Ledger, type OwnershipMode } from '../ledger/ledger.js'
import type { NetworkToken } from '../token/token.js'
import { RendezvousDiscovery } from './discovery.js'
import { createHost, type PeerHost } from './host.js'
import { loadIdentity } from './identity.js'
import { OwnershipDetector, type NetworkKind } from './ownership.js'

/**
 * `auto` follows the network: the signed rules (enforce) unless the network
 * proves to be a legacy one (docs/ledger.md, "Ownership auto-detection").
 */
export type OwnershipSetting = OwnershipMode | 'auto'

/** Longest time auto mode holds back signed entries while the network has not shown what it runs. */
const HOLD_SIGNED_MS = 10_000

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

/** What the peer did to find the network, for status lines and error messages. */
export interface DiscoveryReport {
  modes: string[]
  connectedPeers: number
  topicPeers: number
  blocksReceived: number
  blockSenders: number
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
  /** An announcement was held back (holdingSigned) and is owed. */
  private held = false
  private readonly senders = new Set<string>()
  private syncTimer?: NodeJS.Timeout
  private soonTimer?: NodeJS.Timeout
  private readonly hub: GossipHub
  private readonly discovery: RendezvousDiscovery

  private constructor(
    readonly host: PeerHost,
    readonly privateKey: PrivateKey,
    private readonly opts: PeerOptions,
  ) {
    super()
    const setting = opts.ownership ?? 'auto'
    this.effectiveMode = setting === 'auto' ? 'enforce' : setting
    if (setting === 'auto') this.detector = new OwnershipDetector(host.peerId.toString())
    this.ledger = this.newLedger(this.effectiveMode)
    this.hub = new GossipHub(host.services.pubsub, opts.token, host.peerId.toString())
    this.hub.on('payload', (payload, from) => this.receive(payload, from))
    this.hub.on('dropped', (reason, from) => this.log('debug', `dropped gossip from ${from}: ${reason}`))
    this.discovery = new RendezvousDiscovery(host, opts.token, opts.bootstrapPeers ?? [], {
      log: (m) => this.log('debug', m),
    })
    // A peer that just joined the topic gets our ledger at once instead of at the next periodic round.
    const pubsub = host.services.pubsub as unknown as EventTarget
    pubsub.addEventListener('subscription-change', (evt) => {
      const { peerId, subscriptions } = (evt as CustomEvent<{ peerId: { toString(): string }; subscriptions: { topic: string; subscribe: boolean }[] }>).detail
      if (subscriptions.some((s) => s.subscribe && s.topic === this.hub.currentTopic)) {
        this.discovery.remember(peerId.toString())
        this.announceSoon()
      }
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
      (this.opts.dht ?? true) ? 'DHT rendezvous' : '',
      (this.opts.bootstrapPeers ?? []).length > 0 ? `${this.opts.bootstrapPeers!.length} bootstrap peer(s)` : '',
    ].filter(Boolean)
    return {
      modes,
      connectedPeers: this.host.getPeers().length,
      topicPeers: this.hub.subscribers().length,
      blocksReceived: this.blocksReceived,
      blockSenders: this.senders.size,
    }
  }

  /** Peers that sent us at least one block. */
  get syncedFrom(): ReadonlySet<string> {
    return this.senders
  }

  /** What auto mode has learnt about the network (`signed` or `legacy` for a fixed mode). */
  get networkKind(): NetworkKind {
    if (this.detector) return this.detector.kind
    return this.effectiveMode === 'off' ? 'legacy' : 'signed'
  }

  /**
   * Called before a local write. In auto mode, a network that has shown no
   * entries yet cannot tell us how it writes: write legacy entries then, which
   * both legacy nodes and signing nodes (as a first claim of a key in an open
   * bucket) accept, while still merging by the signed rules.
   */
  prepareWrite(): void {
    if (this.detector?.kind !== 'unknown' || this.ledger.signerId === undefined) return
    if (Object.keys(this.ledger.currentData()).length === 0) this.ledger = this.newLedger('enforce', { unsigned: true })
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

  /** Publishes our current block now (besides the periodic re-broadcast). */
  async announce(): Promise<number> {
    if (this.holdingSigned()) {
      this.held = true
      return 0
    }
    const block = this.ledger.lastBlock()
    const json = encodeBlock(block, { legacy: this.effectiveMode === 'off' })
    try {
      return await this.hub.publish(new TextEncoder().encode(json))
    } catch (err) {
      this.log('warn', `could not publish the ledger: ${(err as Error).message}`)
      return 0
    }
  }

  /**
   * Auto mode: signed entries are not published before the network had a
   * chance to show what it runs (every topic neighbour sent a block, or
   * HOLD_SIGNED_MS passed). Another of our peers on a legacy network would
   * otherwise take our signed entries as proof of a signing network.
   */
  private holdingSigned(): boolean {
    if (this.detector?.kind !== 'unknown' || this.ledger.signerId === undefined) return false
    if (performance.now() - this.startedAt >= HOLD_SIGNED_MS) return false
    const neighbours = this.hub.subscribers()
    return neighbours.length === 0 || !neighbours.every((p) => this.senders.has(p))
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

  private newLedger(mode: OwnershipMode, opts: { unsigned?: boolean } = {}): Ledger {
    return new Ledger({
      mode,
      signer: mode === 'off' || opts.unsigned ? undefined : signerFromPrivateKey(this.privateKey),
      ttlSeconds: this.opts.ownershipTtl,
      log: (level, msg) => this.log(level === 'warn' ? 'debug' : level, msg),
    })
  }

  private receive(payload: Uint8Array, from: string): void {
    let block: Block
    try {
      block = decodeBlock(new TextDecoder().decode(payload))
    } catch (err) {
      this.log('debug', `ignored a malformed block from ${from}: ${(err as Error).message}`)
      return
    }
    this.blocksReceived++
    this.senders.add(from)
    if (this.detector) {
      this.detector.observe(from, block)
      this.follow(this.detector.decide(this.hub.subscribers()))
      if (this.held && !this.holdingSigned()) {
        this.held = false
        this.announceSoon()
      }
    }
    let changed = false
    try {
      changed = this.ledger.update(block)
    } catch (err) {
      this.log('debug', `ignored a block from ${from}: ${(err as Error).message}`)
    }
    this.emit('block', from, block)
    if (changed) this.emit('ledger')
  }

  /**
   * Auto mode: switches the replica to what the network has shown. The
   * current state is carried over by merging it into the new replica, so a
   * move to the signed rules drops unsigned entries of owned buckets (their
   * owners re-announce them signed) and keeps everything else.
   */
  private follow(kind: NetworkKind): void {
    const mode: OwnershipMode = kind === 'legacy' ? 'off' : 'enforce'
    const resign = kind === 'signed' && this.ledger.signerId === undefined
    if (mode === this.effectiveMode && !resign) return
    this.log('debug', `network ledger is ${kind === 'legacy' ? 'legacy (unsigned)' : kind === 'signed' ? 'signed (ownership on)' : 'not known yet'}: using ${mode} rules`)
    const previous = this.ledger
    this.effectiveMode = mode
    this.ledger = this.newLedger(mode)
    this.ledger.update(previous.lastBlock())
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
