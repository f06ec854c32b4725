/**
 * A hostile network member for tests: a plain libp2p peer that holds the
 * token and publishes whatever the test crafts on the network's current gossip
 * topic. It runs no ledger and no validation of its own, so it also serves as
 * an observer that records every message gossipsub hands it (to check what an
 * honest peer forwarded).
 *
 *   const h = await startHostilePeer({ token, t })
 *   await h.dial(peer.p2pAddr)
 *   await h.waitForTopicPeer(peer.peerId)
 *   await h.publishBlock({ Index: 1, Storage: { b: { k: '"v"' } } })  // sealed and gzip'd like EdgeVPN
 *   await h.publish(envelope(token, payload, { gzip: false }))         // any bytes, as is
 *   h.received                                                         // what reached it
 *
 * Loopback only: it listens on 127.0.0.1 and runs no mDNS, DHT or bootstrap list.
 */
import '../../src/polyfill.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { readFileSync } from 'node:fs'
import { createGzip, gzipSync } from 'node:zlib'
import { gossipTopic, sealKey } from '../../src/crypto/derive.js'
import { seal } from '../../src/crypto/seal.js'
import type { GossipMessage } from '../../src/gossip/hub.js'
import { checksum, encodeBlock, type Block, type ChecksumStyle } from '../../src/ledger/block.js'
import { goTimeString } from '../../src/ledger/go-time.js'
import { legacyEntry } from '../../src/ledger/entry.js'
import { goJsonStringify } from '../../src/ledger/json.js'
import { createHost, type PeerHost } from '../../src/peer/host.js'
import type { NetworkToken } from '../../src/token/token.js'
import { waitUntil } from './wait.js'

interface AfterContext {
  after(fn: () => unknown): void
}

export interface HostilePeer {
  id: string
  /** `/ip4/127.0.0.1/tcp/PORT/p2p/ID`. */
  p2pAddr: string
  host: PeerHost
  /** The network's topic now. */
  topic(): string
  dial(addr: string): Promise<void>
  /** Waits (bounded) until `peerId` is subscribed to the topic as this peer sees it. */
  waitForTopicPeer(peerId: string, timeoutMs?: number): Promise<void>
  /** Publishes bytes as they are; resolves with the number of peers they were sent to. */
  publish(data: Uint8Array): Promise<number>
  /** Publishes a payload in EdgeVPN's envelope (see {@link envelope}). */
  publishPayload(payload: Uint8Array | string, opts?: EnvelopeOptions): Promise<number>
  /** Publishes a ledger block: JSON text, or an object turned into JSON. */
  publishBlock(block: string | object, opts?: EnvelopeOptions): Promise<number>
  /** Publishes a block (JSON text, or a Block in the legacy encoding) every `intervalMs` until stop(). */
  flood(block: Block | string, intervalMs: number): void
  /** Waits (bounded) until some peer is on the topic, so that what we publish goes out. */
  onTopic(timeoutMs?: number): Promise<void>
  /** Messages received on the topic (raw data, author and forwarding peer). */
  received: { data: Uint8Array; from: string }[]
  stop(): Promise<void>
}

/**
 * A block of unsigned entries, hashed the way v0.34 does (the most convincing
 * legacy block), with a high index so whole-block replacement prefers it.
 * Values are stored as given when they are strings (Data text), else as Go's
 * json.Marshal of them.
 */
export function forgedBlock(buckets: Record<string, Record<string, unknown>>, opts: { index?: number; style?: ChecksumStyle } = {}): Block {
  const storage: Block['storage'] = new Map()
  for (const [b, kv] of Object.entries(buckets)) {
    storage.set(b, new Map(Object.entries(kv).map(([k, v]) => [k, legacyEntry(typeof v === 'string' ? v : goJsonStringify(v))])))
  }
  const body = { index: opts.index ?? 1_000_000, timestamp: goTimeString(new Date()), storage, prevHash: 'f'.repeat(64) }
  return { ...body, hash: checksum(body, opts.style ?? 'v0.34') }
}

export interface EnvelopeOptions {
  /** gzip the payload first (default true, as EdgeVPN does). */
  gzip?: boolean
  /** Seal with this key (default the token's current key); `false` leaves the payload unsealed (latin1 in `Message`). */
  key?: string | false
}

/** EdgeVPN's envelope of a payload: gzip'd, sealed (unless told otherwise), wrapped in `{"Message",…}`. */
export function envelope(token: NetworkToken, payload: Uint8Array | string, opts: EnvelopeOptions = {}): Uint8Array {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
  const body = (opts.gzip ?? true) ? gzipSync(bytes) : bytes
  const message = opts.key === false ? Buffer.from(body).toString('latin1') : seal(opts.key ?? sealKey(token, new Date()), body)
  return new TextEncoder().encode(JSON.stringify({ Message: message, SenderID: '', Annotations: null }))
}

/** gzip data that inflates to `inflatedBytes` zeros (about 1 KB per MB), built without holding the inflated bytes. */
export async function gzipBomb(inflatedBytes: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 })
  const parts: Buffer[] = []
  gz.on('data', (c: Buffer) => parts.push(c))
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve)
    gz.on('error', reject)
  })
  const chunk = Buffer.alloc(1 << 20)
  for (let left = inflatedBytes; left > 0; left -= chunk.length) {
    if (!gz.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => gz.once('drain', r))
  }
  gz.end()
  await done
  return Buffer.concat(parts)
}

/** `bootstrapPeers` are dialled at start and kept as gossipsub direct peers. */
export async function startHostilePeer(opts: { token: NetworkToken; bootstrapPeers?: string[]; t?: AfterContext }): Promise<HostilePeer> {
  const { token } = opts
  const host = await createHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dht: false,
    bootstrapPeers: opts.bootstrapPeers ?? [],
    maxMessageSize: token.maxMessageSize,
  })
  const pubsub = host.services.pubsub
  let subscribed: string | undefined
  const topic = (): string => {
    const now = gossipTopic(token, new Date())
    if (now !== subscribed) {
      if (subscribed) pubsub.unsubscribe(subscribed)
      pubsub.subscribe(now)
      subscribed = now
    }
    return now
  }
  topic()
  const received: HostilePeer['received'] = []
  pubsub.addEventListener('message', (evt: CustomEvent<GossipMessage>) => {
    if (evt.detail.topic === subscribed) received.push({ data: evt.detail.data, from: evt.detail.from?.toString() ?? '' })
  })
  const publish = async (data: Uint8Array): Promise<number> => (await pubsub.publish(topic(), data)).recipients.length
  const publishPayload = (payload: Uint8Array | string, o?: EnvelopeOptions): Promise<number> => publish(envelope(token, payload, o))
  let stopped: Promise<void> | undefined
  const floods: NodeJS.Timeout[] = []
  const peer: HostilePeer = {
    id: host.peerId.toString(),
    p2pAddr: `${host.getMultiaddrs()[0].toString()}`,
    host,
    topic,
    dial: async (addr) => {
      await host.dial(multiaddr(addr))
    },
    waitForTopicPeer: (peerId, timeoutMs = 15_000) => waitUntil(() => pubsub.getSubscribers(topic()).some((p) => p.toString() === peerId), { timeoutMs, what: `${peerId} on the topic` }),
    publish,
    publishPayload,
    publishBlock: (block, o) => publishPayload(typeof block === 'string' ? block : JSON.stringify(block), o),
    flood(block, intervalMs) {
      const text = typeof block === 'string' ? block : encodeBlock(block, { legacy: true })
      const t = setInterval(() => void publishPayload(text).catch(() => 0), intervalMs)
      t.unref()
      floods.push(t)
    },
    onTopic: (timeoutMs = 30_000) => waitUntil(() => pubsub.getSubscribers(topic()).length > 0, { timeoutMs, what: 'a peer on the topic next to the hostile peer' }),
    received,
    stop: () => {
      for (const t of floods) clearInterval(t)
      return (stopped ??= Promise.resolve(host.stop()))
    },
  }
  opts.t?.after(() => peer.stop())
  return peer
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}
