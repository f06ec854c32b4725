/**
 * The status object of `kairosctl status` (what `status --json` prints), and
 * the inputs it is shaped from: the API's /api/summary, /api/machines,
 * /api/ledger/healthcheck and /api/peerstore answers, whichever source gave
 * them (see gather.ts).
 */
import type { ApiMachine, ApiPeer, ApiSummary } from '../api/client.js'
import { DEFAULT_OWNERSHIP_TTL_SECONDS } from '../ledger/ledger.js'
import type { NatReport } from '../peer/nat/reachability.js'

/**
 * A machine counts as live while its healthcheck is younger than this: EdgeVPN
 * v0.35's ownership TTL, after which nodes stop routing to it and its entries
 * may be taken over.
 */
export const LIVE_TTL_SECONDS = DEFAULT_OWNERSHIP_TTL_SECONDS

/**
 * What `status --json` prints. Fields are never left out: what the source
 * cannot tell is null.
 */
export interface Status {
  /** "api": read from a running node's API; "network": kairosctl joined the network itself with the token. */
  source: 'api' | 'network'
  /** The API address read (source "api"), else null. */
  api: string | null
  node: {
    /** Peer ID of the node answering (source "network": the short-lived peer); null when the API does not say. */
    peerId: string | null
    /** True when the node is kairosctl's own short-lived peer, which is not part of the VPN. */
    shortLived: boolean
    /** The node's VPN address: the Address of its machines entry; null when it has none. */
    vpnAddress: string | null
    /** Hostname of its machines entry, or null. */
    hostname: string | null
  }
  /**
   * Source "network": whether the internet can dial the short-lived peer (AutoNAT: public,
   * private or unknown), the addresses peers observed and the ones UPnP mapped. Null for an API.
   */
  nat: NatReport | null
  ledger: {
    /** Index of the node's last ledger block; null when the API does not say. */
    height: number | null
  }
  peers: {
    /** Connected peers on the network's gossip topic (the API's OnChainNodes), or null. */
    onNetwork: number | null
    /** The node's peer store size (the API's Peers; Go counts the node itself too), or null when unknown. */
    peerstore: number | null
    /** Machines other than this node. */
    machines: number
    /** Of those, how many this node has a connection to. */
    machinesConnected: number
    /** Of those, how many have a live healthcheck. */
    machinesLive: number
  }
  machines: MachineStatus[]
  /** When the status was taken (RFC 3339, UTC); healthcheck ages are relative to it. */
  time: string
  /** The healthcheck age, in seconds, under which a machine is live. */
  liveTtlSeconds: number
}

export interface MachineStatus {
  peerId: string
  hostname: string
  /** VPN address. */
  address: string
  os: string
  arch: string
  version: string
  /** This is the node answering. */
  self: boolean
  /** The node answering has a connection to this machine (the API's Connected, or the machine is on the gossip topic). */
  connected: boolean
  /** The machine is on the network's gossip topic (EdgeVPN's OnChain). */
  onNetwork: boolean
  /** How the node answering reaches it: "direct", or only "relayed" (limited, no ledger or VPN traffic); null when not connected or the source cannot tell. */
  link: 'direct' | 'relayed' | null
  /** The machine's last healthcheck time as stored in the ledger, or null when it has none (or an unreadable one). */
  healthcheck: string | null
  /** Whole seconds since that healthcheck (negative when the machine's clock is ahead), or null. */
  healthcheckAgeSeconds: number | null
  /** The healthcheck is younger than liveTtlSeconds. */
  live: boolean
}

/** What a source gives: the API's answers, as loosely typed as Go nodes may send them. */
export interface StatusInputs {
  source: 'api' | 'network'
  api?: string
  summary: Partial<ApiSummary>
  machines: Partial<ApiMachine>[]
  /** The healthcheck bucket: peer id → Data text (a JSON string holding an RFC 3339 time). */
  healthcheck: Record<string, string>
  /** Only used when the summary lacks Peers. */
  peerstore?: Partial<ApiPeer>[]
  /** Our own peer's NAT view (source "network"). */
  nat?: NatReport
  /** Peer id → how we are connected to it, when the source can tell (a peer of our own). */
  links?: Record<string, 'direct' | 'relayed'>
}
