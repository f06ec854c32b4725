import type { LedgerData } from '../ledger-access/types.js'

/** What the API serves; implemented over an EdgePeer by `peerBackend`. */
export interface ApiBackend {
  nodeId(): string
  data(): LedgerData
  /** The last block as EdgeVPN's JSON (signed entries as objects). */
  lastBlockJson(): string
  index(): number
  /** Peers subscribed to the network's gossip topic ("on chain"). */
  topicPeers(): string[]
  /** Every peer in the host's peer store; like Go's peer store, this node is one of them. */
  knownPeers(): string[]
  isConnected(peerId: string): boolean
  /** Stores a string value as a JSON string and keeps announcing it for a while, like EdgeVPN's Persist. */
  persist(bucket: string, key: string, value: string): void
  /** Stores a JSON value (for DNS records). */
  persistJson(bucket: string, key: string, value: unknown): void
  deleteKey(bucket: string, key: string): void
  deleteBucket(bucket: string): void
  /** Prometheus text for GET /metrics; without it, /metrics is a 404 like any unknown path. */
  metrics?(): string
  /** Routes of our own (the dashboard), tried before EdgeVPN's; `target` is the request target as received. */
  serve?(method: string, target: string): ApiReply | undefined
  /** Routes of our own that answer later (ping); undefined for other targets. `signal` aborts when the client goes away. */
  serveLater?(method: string, target: string, signal: AbortSignal): Promise<ApiReply> | undefined
}

/** A whole HTTP answer: status, headers and body text. */
export interface ApiReply {
  status: number
  headers: Record<string, string>
  text: string
}
