import type { LedgerData } from '../ledger-access/types.js'
import { goFields, isJsonObject, parseJson, parseJsonMembers, type JsonValue } from '../ledger/json.js'
import { isLive } from '../ledger/policy.js'
import type { ApiBackend } from './backend.js'
import { DNS_NAMES, DNS_TYPES } from './dns-types.js'
import { goMap, goStruct, RawJson } from './go-body.js'

const ANNOUNCING = { State: 'Announcing' }

/** Healthcheck entries younger than `windowMs` (EdgeVPN's AvailableNodes). */
export function availableNodes(data: LedgerData, windowMs: number, now = Date.now()): string[] {
  const health = data.healthcheck ?? {}
  return Object.keys(health).filter((id) => isLive(health, id, windowMs / 1000, new Date(now)))
}

const MACHINE_FIELDS = ['PeerID', 'Hostname', 'OS', 'Arch', 'Address', 'Version'] as const
/** The Go struct each list endpoint decodes its bucket's values into. */
const LIST_FIELDS = {
  users: ['PeerID', 'Timestamp'],
  services: ['PeerID', 'Name'],
  files: ['PeerID', 'Name'],
} as const

function ledgerView(data: LedgerData): LedgerData {
  return goMap(Object.fromEntries(Object.entries(data).map(([b, kv]) => [b, goMap({ ...kv })])))
}

/**
 * Routes EdgeVPN's API paths to the backend; returns [status, body], or
 * undefined when no route matches (the server then answers as EdgeVPN's does:
 * 404 for GET, 405 for other methods). `path` is what EdgeVPN's router sees
 * (see {@link routedPath}); like its router, segments are not decoded here,
 * inner segments may be empty and the last one may not.
 */
export function route(backend: ApiBackend, method: string, path: string, body: string): [number, unknown] | undefined {
  if (!path.startsWith('/')) return undefined
  const parts = path.slice(1).split('/')
  if (parts[parts.length - 1] === '' || parts[0] !== 'api' || parts.length < 2) return undefined
  const [, what, ...params] = parts
  const data = backend.data()
  if (what === 'ledger') {
    const [a, b, c] = params
    if (method === 'GET' && params.length <= 2) {
      if (a === undefined) return [200, ledgerView(data)]
      if (b === undefined) return [200, Object.hasOwn(data, a) ? goMap({ ...data[a] }) : null]
      return [200, (Object.hasOwn(data, a) && Object.hasOwn(data[a], b) ? data[a][b] : undefined) ?? '']
    }
    if (method === 'PUT' && params.length === 3) {
      backend.persist(a, b, c)
      return [200, ANNOUNCING]
    }
    if (method === 'DELETE' && (params.length === 1 || params.length === 2)) {
      if (b === undefined) backend.deleteBucket(a)
      else backend.deleteKey(a, b)
      return [200, ANNOUNCING]
    }
    return undefined
  }
  if (params.length > 0) return undefined
  if (method === 'POST' && what === 'dns') return postDns(backend, body)
  if (method !== 'GET') return undefined
  const topic = new Set(backend.topicPeers())
  switch (what) {
    case 'summary':
      return [
        200,
        {
          Files: Object.keys(data.files ?? {}).length,
          Machines: Object.keys(data.machines ?? {}).length,
          Users: Object.keys(data.users ?? {}).length,
          Services: Object.keys(data.services ?? {}).length,
          BlockChain: backend.index(),
          OnChainNodes: topic.size,
          Peers: new Set(backend.knownPeers()).size,
          NodeID: backend.nodeId(),
        },
      ]
    case 'machines': {
      const online = new Set(availableNodes(data, 20 * 60_000))
      return [
        200,
        Object.values(data.machines ?? {}).map((text) => {
          const m = goStruct(text, MACHINE_FIELDS)
          return { ...m, Connected: m.PeerID !== '' && backend.isConnected(m.PeerID), OnChain: topic.has(m.PeerID), Online: online.has(m.PeerID) }
        }),
      ]
    }
    case 'nodes': {
      const ids = new Set([...availableNodes(data, 10 * 60_000), ...topic])
      return [200, [...ids].map((ID) => ({ ID, Online: true }))]
    }
    case 'peerstore':
      // Go lists its peer store without looking at connections: Online stays false.
      return [200, [...new Set(backend.knownPeers())].map((ID) => ({ ID, Online: false }))]
    case 'users':
    case 'services':
    case 'files':
      return [200, Object.values(data[what] ?? {}).map((t) => goStruct(t, LIST_FIELDS[what]))]
    case 'blockchain':
      return [200, new RawJson(backend.lastBlockJson())]
    case 'dns':
      return [
        200,
        Object.entries(data.dns ?? {}).map(([Regex, t]) => {
          const records: Record<string, string> = goMap({})
          let members: ReturnType<typeof parseJsonMembers>
          try {
            members = parseJsonMembers(t)
          } catch {
            members = undefined
          }
          // Keys are type numbers; a type the DNS library does not know shows as "".
          for (const [k, v] of members ?? []) if (typeof v === 'string') records[DNS_NAMES.get(k) ?? ''] = v
          return { Regex, Records: records }
        }),
      ]
  }
  return undefined
}

/**
 * POST /api/dns: `{"Regex": "...", "Records": {"A": "10.1.0.1"}}`. Type names
 * are matched exactly as EdgeVPN does (an unknown name is type 0, "None").
 * Unlike EdgeVPN, a body without a Regex is refused rather than stored under "".
 */
function postDns(backend: ApiBackend, body: string): [number, unknown] {
  const bad: [number, unknown] = [400, { message: 'expected {"Regex": "...", "Records": {"A": "..."}}' }]
  let fields: Map<string, JsonValue>
  try {
    const v = parseJson(body)
    if (!isJsonObject(v)) return bad
    fields = goFields(v)
  } catch (err) {
    return [400, { message: (err as Error).message }]
  }
  const regex = fields.get('regex')
  const records = fields.get('records') ?? null
  if (typeof regex !== 'string' || regex === '' || (records !== null && !isJsonObject(records))) return bad
  const entry = new Map<string, string>()
  for (const [name, value] of Object.entries(records ?? {})) {
    if (typeof value !== 'string') return bad
    entry.set(String(DNS_TYPES[name] ?? 0), value)
  }
  backend.persistJson('dns', regex, entry)
  return [200, ANNOUNCING]
}
