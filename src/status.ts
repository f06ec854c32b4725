/**
 * `kairosctl status`: this node, its peers, the VPN's machines and the ledger
 * height, read from an EdgeVPN-compatible API (our bridge's, a Kairos node's
 * socket, a Go node's) or seen by a short-lived peer that joined with the
 * token. Gathering and shaping live here, independent of oclif; the command
 * only picks the flags and prints.
 *
 * Both sources give the same inputs: the API's /api/summary, /api/machines,
 * /api/ledger/healthcheck and /api/peerstore answers (for a joined peer, the
 * answers our API server would give for it).
 */
import chalk from 'chalk'
import { ApiClient, type ApiMachine, type ApiPeer, type ApiSummary } from './api/client.js'
import { peerBackend } from './api/peer-backend.js'
import { route } from './api/server.js'
import { clip, table } from './cli/table.js'
import { ExitCode, UserError } from './errors.js'
import { parseJson } from './ledger/json.js'
import { DEFAULT_OWNERSHIP_TTL_SECONDS } from './ledger/ledger.js'
import { dateNanos, HEALTHCHECK_BUCKET, healthcheckTime, isLive, parseGoRfc3339 } from './ledger/policy.js'
import type { NatReport } from './peer/nat.js'
import type { EdgePeer } from './peer/peer.js'

/** Where `kairosctl bridge` serves its API by default. */
export const DEFAULT_BRIDGE_API = 'http://127.0.0.1:8080'

/**
 * A machine counts as live while its healthcheck is younger than this: EdgeVPN
 * v0.35's ownership TTL, after which nodes stop routing to it and its entries
 * may be taken over.
 */
export const LIVE_TTL_SECONDS = DEFAULT_OWNERSHIP_TTL_SECONDS

// --- the status object (`kairosctl status --json`) ----------------------------

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
  /**
   * Source "network": whether the internet can dial the short-lived peer (AutoNAT: public,
   * private or unknown), the addresses peers observed and the ones UPnP mapped. Null for an API.
   */
  nat: NatReport | null
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
  /** The machine's last healthcheck time as stored in the ledger, or null when it has none (or an unreadable one). */
  healthcheck: string | null
  /** Whole seconds since that healthcheck (negative when the machine's clock is ahead), or null. */
  healthcheckAgeSeconds: number | null
  /** The healthcheck is younger than liveTtlSeconds. */
  live: boolean
}

// --- shaping (pure) -------------------------------------------------------------

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
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** The stored healthcheck time of a peer, with its Unix nanoseconds, when it parses as EdgeVPN's does. */
export function healthcheckOf(health: Readonly<Record<string, string>>, peerId: string): { text: string; nanos: bigint } | undefined {
  if (!Object.hasOwn(health, peerId)) return undefined
  let v
  try {
    v = parseJson(health[peerId])
  } catch {
    return undefined
  }
  if (typeof v !== 'string') return undefined
  const nanos = parseGoRfc3339(v)
  return nanos === undefined ? undefined : { text: v, nanos }
}

/** IPv4 addresses in numeric order, then anything else in text order. */
function addressOrder(a: string, b: string): number {
  const key = (s: string): number | undefined => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
    return m ? m.slice(1).reduce((n, p) => n * 256 + Number(p), 0) : undefined
  }
  const ka = key(a)
  const kb = key(b)
  if (ka !== undefined && kb !== undefined) return ka - kb
  if (ka !== undefined) return -1
  if (kb !== undefined) return 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** Shapes a source's answers into the status object. */
export function buildStatus(inputs: StatusInputs, now: Date = new Date()): Status {
  const nodeId = str(inputs.summary.NodeID) || null
  const nowNanos = dateNanos(now)
  const machines: MachineStatus[] = inputs.machines.map((m) => {
    const peerId = str(m.PeerID)
    const hc = peerId ? healthcheckOf(inputs.healthcheck, peerId) : undefined
    return {
      peerId,
      hostname: str(m.Hostname),
      address: str(m.Address),
      os: str(m.OS),
      arch: str(m.Arch),
      version: str(m.Version),
      self: nodeId !== null && peerId === nodeId,
      // A peer on the gossip topic is connected too. Go's API needs this: it looks the
      // machine up by peer.ID(PeerID), the base58 text cast to an ID, which never
      // matches, so its Connected is always false.
      connected: m.Connected === true || m.OnChain === true,
      onNetwork: m.OnChain === true,
      healthcheck: hc?.text ?? null,
      // Floor, so a healthcheck from a clock a fraction of a second ahead reads 0, not -1.
      healthcheckAgeSeconds: hc ? Math.floor(Number(nowNanos - hc.nanos) / 1e9) : null,
      live: peerId !== '' && isLive(inputs.healthcheck, peerId, LIVE_TTL_SECONDS, now),
    }
  })
  machines.sort((a, b) => addressOrder(a.address, b.address) || (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0))
  const me = machines.find((m) => m.self)
  const others = machines.filter((m) => !m.self)
  return {
    source: inputs.source,
    api: inputs.source === 'api' ? (inputs.api ?? null) : null,
    node: {
      peerId: nodeId,
      shortLived: inputs.source === 'network',
      vpnAddress: me?.address || null,
      hostname: me?.hostname || null,
    },
    ledger: { height: count(inputs.summary.BlockChain) },
    peers: {
      onNetwork: count(inputs.summary.OnChainNodes),
      peerstore: count(inputs.summary.Peers) ?? (inputs.peerstore ? inputs.peerstore.length : null),
      machines: others.length,
      machinesConnected: others.filter((m) => m.connected).length,
      machinesLive: others.filter((m) => m.live).length,
    },
    machines,
    time: healthcheckTime(now),
    liveTtlSeconds: LIVE_TTL_SECONDS,
    nat: inputs.nat ? { ...inputs.nat, observed: [...inputs.nat.observed], mapped: [...inputs.nat.mapped] } : null,
  }
}

// --- rendering (pure) -----------------------------------------------------------

/** "12s ago", "14m ago", "3h ago", "2d ago"; "just now"; "5s ahead" for a clock ahead of ours. */
export function formatAge(seconds: number): string {
  const span = (s: number): string =>
    s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`
  if (seconds < -1) return `${span(-seconds)} ahead`
  if (seconds < 1) return 'just now'
  return `${span(seconds)} ago`
}

/** The tail of a peer ID, enough to tell machines apart in a table. */
export function shortPeerId(id: string): string {
  return id.length > 10 ? `…${id.slice(-8)}` : id
}

/** Ledger text is written by other machines: no control characters (escape sequences) reach the terminal, and cells stay short. */
function safe(text: string, max = 60): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it replaces
  return clip(text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?'), max)
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** The status as people read it: a few lines about this node, then a table of machines. */
export function renderStatus(s: Status, opts: { verbose?: boolean } = {}): string {
  const lines: [string, string][] = []
  if (s.node.shortLived) {
    lines.push(['node', `${safe(s.node.peerId ?? 'unknown')} (a short-lived peer kairosctl joined with the network token)`])
    lines.push(['vpn', 'none: a short-lived peer is not part of the VPN'])
    lines.push(['via', 'the network token'])
  } else {
    lines.push(['node', s.node.peerId === null ? 'unknown (the API does not report its NodeID)' : safe(s.node.peerId)])
    lines.push(['vpn', s.node.vpnAddress ? `${safe(s.node.vpnAddress)}${s.node.hostname ? ` (${safe(s.node.hostname)})` : ''}` : 'none: this node has no machines entry'])
    lines.push(['via', `API ${safe(s.api ?? 'unknown', 200)}`])
  }
  const p = s.peers
  const peerParts = [
    p.onNetwork === null ? undefined : `${p.onNetwork} connected on the network`,
    p.peerstore === null ? undefined : `${p.peerstore} in the peer store`,
  ].filter(Boolean)
  lines.push(['peers', peerParts.length > 0 ? peerParts.join(', ') : 'unknown (the API does not report peer counts)'])
  lines.push(['machines', p.machines === 0 ? 'no other machine' : `${p.machinesConnected} of ${plural(p.machines, 'other machine')} connected, ${p.machinesLive} live`])
  lines.push(['ledger', s.ledger.height === null ? 'unknown height' : `block ${s.ledger.height}`])
  if (s.nat) lines.push(['reach', renderNat(s.nat)])
  const width = Math.max(...lines.map(([k]) => k.length))
  let out = lines.map(([k, v]) => `${chalk.dim(k.padEnd(width))}  ${v}`).join('\n') + '\n'

  if (s.machines.length === 0) return out + '\nno machines in the ledger (nothing has joined the VPN yet)\n'
  const headers = ['ADDRESS', 'HOSTNAME', 'PEER', ...(opts.verbose ? ['OS/ARCH', 'VERSION'] : []), 'HEALTHCHECK', 'CONNECTED']
  const rows = s.machines.map((m) => {
    const age = m.healthcheckAgeSeconds === null ? 'none' : formatAge(m.healthcheckAgeSeconds) + (m.live ? '' : ' (stale)')
    const connected = m.self ? 'this node' : m.connected ? 'yes' : 'no'
    const extra = opts.verbose ? [m.os || m.arch ? safe(`${m.os || '?'}/${m.arch || '?'}`, 30) : '-', safe(m.version, 30) || '-'] : []
    const peer = opts.verbose ? safe(m.peerId, 100) : shortPeerId(safe(m.peerId, 100))
    return [safe(m.address, 40) || '-', safe(m.hostname, 40) || '-', peer || '-', ...extra, age, connected]
  })
  out += '\n' + table(headers, rows)
  return out
}

function renderNat(n: NatReport): string {
  const what = n.reachability === 'public' ? 'public (dialable from the internet)' : n.reachability === 'private' ? 'private (behind NAT, not dialable from the internet)' : 'unknown (not verified yet)'
  const parts = [what]
  if (n.mapped.length > 0) parts.push(`UPnP mapped ${n.mapped.map((a) => safe(a, 80)).join(', ')}`)
  else parts.push(n.natmap ? 'no UPnP mapping' : 'UPnP off')
  if (n.observed.length > 0) parts.push(`observed ${n.observed.map((a) => safe(a, 80)).join(', ')}`)
  return parts.join('; ')
}

// --- gathering -----------------------------------------------------------------

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Asks an API for the status inputs (four requests in parallel); answers of the wrong shape count as empty. */
export async function inputsFromApi(client: ApiClient, timeoutMs?: number): Promise<StatusInputs> {
  let answers
  try {
    answers = await Promise.all([
      client.summary(timeoutMs),
      client.machines(timeoutMs),
      client.ledgerBucket(HEALTHCHECK_BUCKET, timeoutMs),
      // Only a fallback for a summary without Peers; an API without it is no reason to fail.
      client.peerstore(timeoutMs).catch(() => undefined),
    ])
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new UserError(`the API at ${client.address} answered something other than JSON`, { hint: 'is it an EdgeVPN API?', cause: err })
    }
    throw err
  }
  const [summary, machines, healthcheck, peerstore] = answers
  return {
    source: 'api',
    api: client.address,
    summary: isRecord(summary) ? summary : {},
    machines: Array.isArray(machines) ? machines.filter(isRecord) : [],
    healthcheck: isRecord(healthcheck) ? Object.fromEntries(Object.entries(healthcheck).filter((e): e is [string, string] => typeof e[1] === 'string')) : {},
    peerstore: Array.isArray(peerstore) ? peerstore : undefined,
  }
}

/** The same inputs for a peer we run ourselves: what our API server would answer for it. */
export function inputsFromPeer(peer: EdgePeer): StatusInputs {
  const backend = peerBackend(peer)
  const get = <T>(path: string): T | undefined => route(backend, 'GET', path, '')?.[1] as T | undefined
  return {
    source: 'network',
    summary: get<Partial<ApiSummary>>('/api/summary') ?? {},
    machines: get<Partial<ApiMachine>[]>('/api/machines') ?? [],
    healthcheck: get<Record<string, string> | null>(`/api/ledger/${HEALTHCHECK_BUCKET}`) ?? {},
    nat: peer.report().nat,
  }
}

/** Whether an ApiClient error means nothing listens at the address. */
function nothingListens(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code
  return code === 'ECONNREFUSED' || code === 'ENOENT'
}

/** What joining the network gives (a PeerLedgerAccess). */
export interface JoinedPeer {
  peer: EdgePeer
  close(): Promise<void>
}

export interface GatherOptions {
  /** --api: read this API. */
  api?: string
  /** Set when --network-token is given: joins the network and returns the synced peer. */
  join?: () => Promise<JoinedPeer>
  /** Without either: the bridge's API (default {@link DEFAULT_BRIDGE_API}) ... */
  defaultApi?: string
  /** ... then this socket when the file exists (a Kairos node's EdgeVPN daemon). */
  kairosSocket?: { path: string; exists: () => boolean }
  /** Per API request (default 10 s). */
  timeoutMs?: number
  progress?: (line: string) => void
  now?: () => Date
}

/**
 * Gathers the status the way openLedger reaches a ledger: --api, else the
 * token, else (unlike openLedger) the bridge's default API, then the Kairos
 * socket. Nothing answering is one UserError with a hint.
 */
export async function gatherStatus(opts: GatherOptions): Promise<Status> {
  const now = opts.now ?? (() => new Date())
  const fromApi = async (address: string): Promise<Status> => {
    const client = new ApiClient(address) // a malformed address is a usage error here
    opts.progress?.(`asking the API at ${client.address}…`)
    return buildStatus(await inputsFromApi(client, opts.timeoutMs), now())
  }

  if (opts.api !== undefined) {
    try {
      return await fromApi(opts.api)
    } catch (err) {
      if (!nothingListens(err)) throw err
      throw new UserError(`no EdgeVPN API answers at ${opts.api}`, {
        hint: 'is the node or `kairosctl bridge` running? Or pass --network-token to join the network directly',
        cause: err,
      })
    }
  }

  if (opts.join) {
    const joined = await opts.join()
    try {
      return buildStatus(inputsFromPeer(joined.peer), now())
    } finally {
      await joined.close().catch(() => {})
    }
  }

  const fallback = opts.defaultApi ?? DEFAULT_BRIDGE_API
  try {
    return await fromApi(fallback)
  } catch (err) {
    if (!nothingListens(err)) throw err
    const socket = opts.kairosSocket
    if (socket?.exists()) return fromApi(`unix://${socket.path}`)
    throw new UserError(`no bridge API answers at ${fallback}`, {
      exitCode: ExitCode.Failure,
      hint: 'start one with `sudo kairosctl bridge --network-token "$TOKEN"`, or pass --api URL or --network-token',
      cause: err,
    })
  }
}
