/**
 * A hostile token holder: a bare libp2p peer on the network's gossip topic
 * that publishes whatever ledger blocks a test crafts. It keeps no ledger and
 * answers nobody; it is what any holder of the token can run.
 *
 *   const evil = await startHostilePeer({ token, bootstrapPeers: [go.p2pAddrs[0]], t })
 *   await evil.publish(forgedBlock({ kairos: { key: '"forged"' } }, { index: 1_000_000 }))
 *   evil.flood(forgedBlock(...), 100)   // again every 100 ms until stop()
 */
import '../../src/polyfill.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { GossipHub } from '../../src/gossip/hub.js'
import { checksum, encodeBlock, goTimeString, type Block, type ChecksumStyle } from '../../src/ledger/block.js'
import { legacyEntry } from '../../src/ledger/entry.js'
import { goJsonStringify } from '../../src/ledger/json.js'
import { createHost, type PeerHost } from '../../src/peer/host.js'
import type { NetworkToken } from '../../src/token/token.js'
import { waitFor } from './wait.js'

export interface HostilePeer {
  peerId: string
  host: PeerHost
  /** Publishes one block (JSON text or a Block, sent in the legacy encoding); resolves with the number of recipients. */
  publish(block: Block | string): Promise<number>
  /** Publishes the block every `intervalMs` until stop(). */
  flood(block: Block | string, intervalMs: number): void
  /** Waits (bounded) until a peer on the topic would receive what we publish. */
  onTopic(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

/**
 * A block of unsigned entries, hashed the way v0.34 does (the most
 * convincing legacy block), with a high index so whole-block replacement
 * prefers it. Values are stored as given when they are strings (Data text),
 * else as Go's json.Marshal of them.
 */
export function forgedBlock(
  buckets: Record<string, Record<string, unknown>>,
  opts: { index?: number; style?: ChecksumStyle } = {},
): Block {
  const storage: Block['storage'] = new Map()
  for (const [b, kv] of Object.entries(buckets)) {
    storage.set(b, new Map(Object.entries(kv).map(([k, v]) => [k, legacyEntry(typeof v === 'string' ? v : goJsonStringify(v))])))
  }
  const body = { index: opts.index ?? 1_000_000, timestamp: goTimeString(new Date()), storage, prevHash: 'f'.repeat(64) }
  return { ...body, hash: checksum(body, opts.style ?? 'v0.34') }
}

export async function startHostilePeer(opts: {
  token: NetworkToken
  bootstrapPeers: string[]
  t?: { after(fn: () => unknown): void }
}): Promise<HostilePeer> {
  const host = await createHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dht: false,
    bootstrapPeers: opts.bootstrapPeers,
    maxMessageSize: opts.token.maxMessageSize,
  })
  const hub = new GossipHub(host.services.pubsub, opts.token, host.peerId.toString())
  hub.start()
  const timers: NodeJS.Timeout[] = []
  const text = (block: Block | string): string => (typeof block === 'string' ? block : encodeBlock(block, { legacy: true }))
  const publish = (block: Block | string): Promise<number> => hub.publish(new TextEncoder().encode(text(block))).catch(() => 0)
  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const t of timers) clearInterval(t)
      hub.stop()
      await host.stop().catch(() => {})
    })()
    return stopped
  }
  opts.t?.after(stop)
  return {
    peerId: host.peerId.toString(),
    host,
    publish,
    flood(block, intervalMs) {
      const t = setInterval(() => void publish(block), intervalMs)
      t.unref()
      timers.push(t)
    },
    onTopic: (timeoutMs = 30_000) =>
      waitFor(() => (hub.subscribers().length > 0 ? true : undefined), { timeoutMs, intervalMs: 100, what: 'a peer on the topic next to the hostile peer' }).then(() => {}),
    stop,
  }
}
