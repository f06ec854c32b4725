import type { LedgerAccess, LedgerData, WriteOptions } from '../ledger-access/types.js'
import { UsageError } from '../errors.js'
import { decodeString, decodeValue, encodeValue, keys, parseGoTime } from './layout.js'

/**
 * Kairos node roles. A node reads `<uuid>-role` and applies each
 * comma-separated part that it has a handler for (unknown parts are only
 * logged). The auto scheduler treats a node whose role is "" (or missing) as
 * unassigned.
 */
export const KNOWN_ROLES = ['master', 'worker', 'master/ha', 'master/clusterinit'] as const

/**
 * `auto` is a real role handler on every Kairos node, but nodes already run
 * it as a persistent role. Writing it as a node's role makes the scheduler
 * consider the node assigned, so it never becomes master or worker: set it
 * only with --force.
 */
export const PSEUDO_ROLES = ['auto'] as const

/** Everything a Kairos node has a handler for (KNOWN_ROLES, then `auto`). */
export const ALL_ROLES = [...KNOWN_ROLES, ...PSEUDO_ROLES] as const

/** Kairos keeps a node in its lists while its advertisement is younger than this. */
export const ADVERTISE_FRESHNESS_MS = 15 * 60_000
const FRESHNESS_NS = BigInt(ADVERTISE_FRESHNESS_MS) * 1_000_000n

export interface AdvertisedNode {
  uuid: string
  /** The advertisement time (millisecond precision). */
  lastSeen: Date
  /** The advertisement time as stored (RFC3339Nano). */
  time: string
}

export interface NodeRole {
  uuid: string
  /** "" when the node has no (readable) role. */
  role: string
  /** "" when the node has published no (readable) IP. */
  ip: string
  lastSeen: Date
}

/**
 * The nodes Kairos's `AdvertizingNodes` returns, sorted by UUID (Go's order
 * is random). Like Go, candidates are the keys ending in `uuid` with every
 * `-uuid` removed; a candidate counts when `<u>-uuid` decodes to `{Time}` and
 * Time + 15 min is strictly after `now`. Unreadable advertisements are skipped.
 */
export function advertisingNodes(data: LedgerData, networkId: string, now: Date = new Date()): AdvertisedNode[] {
  const bucket = data[networkId] ?? {}
  const nowNs = BigInt(now.getTime()) * 1_000_000n
  const seen = new Set<string>()
  const out: AdvertisedNode[] = []
  for (const key of Object.keys(bucket)) {
    if (!key.endsWith('uuid')) continue
    const uuid = key.replaceAll('-uuid', '')
    if (seen.has(uuid)) continue
    seen.add(uuid)
    const text = bucket[keys.advertisement(uuid)]
    if (text === undefined) continue
    let ad: unknown
    try {
      ad = decodeValue(text)
    } catch {
      continue
    }
    const time = ad !== null && typeof ad === 'object' && !Array.isArray(ad) ? (ad as Record<string, unknown>).Time : undefined
    if (typeof time !== 'string') continue
    const ns = parseGoTime(time)
    if (ns === undefined || ns + FRESHNESS_NS <= nowNs) continue
    out.push({ uuid, lastSeen: new Date(Number(ns / 1_000_000n)), time })
  }
  return out.sort((a, b) => compareUuid(a.uuid, b.uuid))
}

/** `role list`: every advertising node with its role and IP (sorted by UUID). */
export function listRoles(data: LedgerData, networkId: string, now: Date = new Date()): NodeRole[] {
  const bucket = data[networkId] ?? {}
  return advertisingNodes(data, networkId, now).map(({ uuid, lastSeen }) => ({
    uuid,
    role: readString(bucket, keys.role(uuid)),
    ip: readString(bucket, keys.ip(uuid)),
    lastSeen,
  }))
}

/** What `service.Client.Get` returns, errors ignored: the string value or "". */
function readString(bucket: Record<string, string>, key: string): string {
  const text = bucket[key]
  if (text === undefined) return ''
  try {
    return decodeString(text)
  } catch {
    return ''
  }
}

function compareUuid(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * Checks a role before it is written. A role may be a comma-separated list
 * (nodes split on "," without trimming). Without `force`, every part must be
 * one of KNOWN_ROLES; `auto`, unknown roles, and the empty role (which makes
 * the auto scheduler treat the node as unassigned) need `force`. A role that
 * nodes could never parse (blank parts, spaces around commas) is rejected
 * even with `force`, except the empty role itself.
 */
export function validateRole(role: string, force: boolean): void {
  const hint = `known roles: ${KNOWN_ROLES.join(', ')}`
  if (role === '') {
    if (force) return
    throw new UsageError('the role is empty', `an empty role un-assigns the node (the auto scheduler will pick a role for it); pass --force to do that, or give one of the ${hint}`)
  }
  const parts = role.split(',')
  if (parts.some((p) => p === '')) throw new UsageError(`role "${role}" has an empty part`, 'separate roles with single commas, e.g. master,worker')
  const spaced = parts.find((p) => p.trim() !== p)
  if (spaced !== undefined) throw new UsageError(`role "${role}" has spaces around "${spaced.trim()}"`, 'Kairos does not trim roles: write them without spaces, e.g. master,worker')
  if (force) return
  const pseudo = parts.filter((p) => (PSEUDO_ROLES as readonly string[]).includes(p))
  if (pseudo.length > 0) {
    throw new UsageError(
      `"auto" is not an assignable role`,
      'every Kairos node already runs auto; written as a role it keeps the scheduler from ever making the node a master or worker (pass --force to set it anyway)',
    )
  }
  const unknown = parts.filter((p) => !(KNOWN_ROLES as readonly string[]).includes(p))
  if (unknown.length > 0) {
    throw new UsageError(`unknown role ${unknown.map((u) => `"${u}"`).join(', ')}`, `${hint} (pass --force to set it anyway; nodes ignore roles they do not know)`)
  }
}

/** Checks a node UUID can be used in a ledger key (and an API path segment). */
export function validateUuid(uuid: string): void {
  if (uuid === '') throw new UsageError('the node UUID is empty', "see 'kairosctl role list'")
  if (/[/\s?#%]/.test(uuid)) throw new UsageError(`"${uuid}" is not a node UUID`, "node UUIDs have no spaces, slashes, '?', '#' or '%' (see 'kairosctl role list')")
}

/**
 * Writes `<uuid>-role` exactly as Kairos's `Set("role", uuid, role)` does
 * (the JSON string of the role, base64 URL-encoded with padding). The role is
 * not validated here (see validateRole); the UUID is.
 */
export async function setRole(access: LedgerAccess, networkId: string, uuid: string, role: string, opts: WriteOptions = {}): Promise<void> {
  validateUuid(uuid)
  await access.put(networkId, keys.role(uuid), encodeValue(role), opts)
}
