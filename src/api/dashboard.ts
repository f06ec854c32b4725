/**
 * The bridge's dashboard: a small page at the API root and the read-only JSON
 * it polls (`/api/kairosctl/…`, apart from EdgeVPN's `/api/*` routes). The
 * page's files live in ./dashboard/ next to this module (copied to dist by
 * the build). Writes from the page need the bridge's consent flag; EdgeVPN's
 * own write routes are not affected (its clients need them).
 */
import { readFileSync } from 'node:fs'
import type { ApiMachine, ApiSummary } from './client.js'
import type { ApiBackend, ApiReply } from './backend.js'
import { route } from './routes.js'
import { encodePaddedUrlBase64 } from '../kairos/layout.js'
import { goJsonStringify } from '../ledger/json.js'
import { HEALTHCHECK_BUCKET } from '../ledger/policy.js'
import { readableValue } from '../ledger/readable.js'
import { buildStatus } from '../status/build.js'
import type { MachineStatus } from '../status/model.js'
import type { PeerTraffic, RouterStats, VpnSnapshot } from '../vpn/router.js'

export interface DashboardConnection {
  peer: string
  direction: 'inbound' | 'outbound'
  remoteAddr: string
  relayed: boolean
}

/** What the dashboard reads; `bridgeDashboard` builds it from a running bridge. */
export interface DashboardSource {
  backend: ApiBackend
  /** Open libp2p connections. */
  connections(): DashboardConnection[]
  /** The router's counters; undefined without a TUN device. */
  vpn(): VpnSnapshot | undefined
  /** kairosctl's version. */
  version: string
  /** The page may write to the ledger (the bridge was started with --api-allow-writes). */
  writes: boolean
  now?: () => Date
}

export interface PeerView {
  peerId: string
  /** The VPN address of its machines entry, or null. */
  address: string | null
  hostname: string | null
  /** On the network's gossip topic. */
  onNetwork: boolean
  connections: Omit<DashboardConnection, 'peer'>[]
  /** VPN packets and bytes exchanged with it (counted while the bridge runs); null without a TUN device. */
  traffic: PeerTraffic | null
  /** Packets waiting to be sent to it; null without a TUN device. */
  queued: number | null
}

/** GET /api/kairosctl/overview. */
export interface Overview {
  time: string
  liveTtlSeconds: number
  writes: boolean
  node: { peerId: string; vpnAddress: string | null; hostname: string | null; version: string }
  ledger: { height: number; buckets: { name: string; keys: number }[] }
  peers: PeerView[]
  machines: MachineStatus[]
  /** Router totals; null without a TUN device. */
  vpn: RouterStats | null
}

export interface BucketEntry {
  key: string
  /** The value as people read it (see readableValue). */
  text: string
  decoded: boolean
  /** The stored Data text, exactly. */
  raw: string
}

const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

export function overview(src: DashboardSource): Overview {
  const { backend } = src
  const get = <T>(path: string): T => route(backend, 'GET', path, '')?.[1] as T
  const data = backend.data()
  const status = buildStatus(
    {
      source: 'api',
      summary: get<Partial<ApiSummary>>('/api/summary'),
      machines: get<Partial<ApiMachine>[]>('/api/machines'),
      healthcheck: data[HEALTHCHECK_BUCKET] ?? {},
    },
    src.now?.() ?? new Date(),
  )
  const self = backend.nodeId()
  const vpn = src.vpn()
  const conns = src.connections()
  const topic = new Set(backend.topicPeers())
  const ids = new Set([...conns.map((c) => c.peer), ...topic])
  ids.delete(self)
  const byPeer = new Map(status.machines.map((m) => [m.peerId, m]))
  const peers = [...ids].map((peerId): PeerView => {
    const m = byPeer.get(peerId)
    return {
      peerId,
      address: m?.address || null,
      hostname: m?.hostname || null,
      onNetwork: topic.has(peerId),
      connections: conns.filter((c) => c.peer === peerId).map(({ peer: _, ...c }) => c),
      traffic: vpn ? (vpn.traffic.get(peerId) ?? { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0 }) : null,
      queued: vpn ? (vpn.queued.get(peerId) ?? 0) : null,
    }
  })
  // Machines first, in the status's address order; then the other peers by ID.
  const rank = new Map(status.machines.map((m, i) => [m.peerId, i]))
  peers.sort((a, b) => (rank.get(a.peerId) ?? Infinity) - (rank.get(b.peerId) ?? Infinity) || order(a.peerId, b.peerId))
  return {
    time: status.time,
    liveTtlSeconds: status.liveTtlSeconds,
    writes: src.writes,
    node: { peerId: self, vpnAddress: status.node.vpnAddress, hostname: status.node.hostname, version: src.version },
    ledger: {
      height: backend.index(),
      buckets: Object.keys(data)
        .sort(order)
        .map((name) => ({ name, keys: Object.keys(data[name]).length })),
    },
    peers,
    machines: status.machines,
    vpn: vpn ? { ...vpn.stats } : null,
  }
}

/** A bucket's entries, keys sorted, values readable; undefined for a bucket the ledger does not have. */
export function bucketView(backend: ApiBackend, bucket: string): BucketEntry[] | undefined {
  const data = backend.data()
  if (!Object.hasOwn(data, bucket)) return undefined
  return Object.keys(data[bucket])
    .sort(order)
    .map((key) => ({ key, ...readableValue(data[bucket][key]), raw: data[bucket][key] }))
}

const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/kairosctl/dashboard.js': 'dashboard.js',
  '/kairosctl/dashboard.css': 'dashboard.css',
}
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' }
/** The page loads nothing from elsewhere, runs no inline script, and is not framed. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}
const files = new Map<string, string>()
function asset(name: string): string {
  let text = files.get(name)
  if (text === undefined) {
    text = readFileSync(new URL(`./dashboard/${name}`, import.meta.url), 'utf8')
    files.set(name, text)
  }
  return text
}

const json = (status: number, value: unknown): ApiReply => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  text: JSON.stringify(value) + '\n',
})

export const WRITES_OFF = 'writes from the dashboard are off: start the bridge with --api-allow-writes to allow them'

/**
 * The dashboard's routes, tried before EdgeVPN's: the page and its files,
 * GET /api/kairosctl/overview, GET /api/kairosctl/ledger?bucket=B, and (with
 * consent) PUT /api/kairosctl/ledger?bucket=B&key=K&value=V[&encode=1] and
 * DELETE /api/kairosctl/ledger?bucket=B&key=K. Writes take no body and are not
 * "simple" requests, so another site's page cannot send them without a CORS
 * preflight, which this server never grants. Undefined for other paths.
 */
export function dashboardRoute(src: DashboardSource, method: string, target: string): ApiReply | undefined {
  let url: URL
  try {
    url = new URL(target, 'http://bridge')
  } catch {
    return undefined
  }
  const path = url.pathname
  const file = ASSETS[path]
  if (file !== undefined) {
    if (method !== 'GET' && method !== 'HEAD') return json(405, { error: `${method} is not allowed here` })
    return { status: 200, headers: { 'content-type': TYPES[file.split('.').pop()!], ...PAGE_HEADERS }, text: asset(file) }
  }
  if (!path.startsWith('/api/kairosctl/')) return undefined
  const q = (name: string): string | undefined => url.searchParams.get(name) ?? undefined
  if (path === '/api/kairosctl/overview') {
    if (method !== 'GET') return json(405, { error: `${method} is not allowed here` })
    return json(200, overview(src))
  }
  if (path === '/api/kairosctl/ledger') {
    const bucket = q('bucket')
    if (!bucket) return json(400, { error: 'missing ?bucket=NAME' })
    if (method === 'GET') {
      const entries = bucketView(src.backend, bucket)
      return entries ? json(200, { bucket, entries }) : json(404, { error: `no bucket ${bucket} in the ledger` })
    }
    if (method !== 'PUT' && method !== 'DELETE') return json(405, { error: `${method} is not allowed here` })
    if (!src.writes) return json(403, { error: WRITES_OFF })
    const key = q('key')
    if (!key) return json(400, { error: 'missing &key=NAME' })
    if (method === 'DELETE') {
      src.backend.deleteKey(bucket, key)
      return json(200, { bucket, key, deleted: true })
    }
    const value = q('value')
    if (value === undefined) return json(400, { error: 'missing &value=TEXT' })
    // encode=1: as EdgeVPN's Go client stores a string (base64 of its JSON).
    src.backend.persist(bucket, key, q('encode') === '1' ? encodePaddedUrlBase64(goJsonStringify(value)) : value)
    return json(200, { bucket, key, stored: true })
  }
  return json(404, { error: `no dashboard route ${path}` })
}

let packageVersion: string | undefined
/** kairosctl's version, from its package.json. */
export function kairosctlVersion(): string {
  if (packageVersion === undefined) {
    try {
      packageVersion = String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown')
    } catch {
      packageVersion = 'unknown'
    }
  }
  return packageVersion
}
