import { goFieldKey, parseJson, parseJsonMembers } from './json.js'
import { dateNanos, goUnixAddBefore, parseGoRfc3339 } from './go-time.js'

/**
 * Which buckets EdgeVPN's ledger ownership protects, who owns an entry, and
 * when an owner's claim lapses. Buckets not listed (kairos, dhcp, trustzone,
 * ...) are open: anyone may write them and a strictly higher Version wins.
 */

/**
 * `none`: never expires. `liveness`: expires when the owner's healthcheck is
 * older than the TTL. `absolute`: expires TTL after the entry's own UpdatedAt.
 */
export type Expiry = 'none' | 'liveness' | 'absolute'

export interface BucketPolicy {
  owned: boolean
  /** The owner an entry's value declares; undefined: whoever signs first owns the key. */
  ownerOf?: (key: string, value: string) => string
  expiry: Expiry
  /**
   * Whether a non-owner may claim the key once it expired. Recorded for
   * completeness: EdgeVPN's merge does not consult it (an expired entry may be
   * taken over in every owned bucket).
   */
  reclaimable: boolean
}

/** The owner is the key itself (users, healthcheck, egress). */
export function ownerIsKey(key: string, _value: string): string {
  return key
}

/**
 * The value's `PeerID` field, matched like Go's json.Unmarshal into
 * `struct{ PeerID string }`: case-insensitive name, non-string values skipped,
 * the last string wins; "" when the value is not a JSON object.
 */
export function ownerFromPeerId(_key: string, value: string): string {
  let owner = ''
  try {
    for (const [k, x] of parseJsonMembers(value) ?? []) if (goFieldKey(k) === 'peerid' && typeof x === 'string') owner = x
  } catch {
    return ''
  }
  return owner
}

export const OPEN_POLICY: Readonly<BucketPolicy> = Object.freeze({ owned: false, expiry: 'none', reclaimable: false })

/** EdgeVPN's default registry (v0.35). */
export const BUCKET_POLICIES: Readonly<Record<string, Readonly<BucketPolicy>>> = Object.freeze({
  machines: { owned: true, ownerOf: ownerFromPeerId, expiry: 'liveness', reclaimable: true },
  services: { owned: true, ownerOf: ownerFromPeerId, expiry: 'liveness', reclaimable: true },
  files: { owned: true, ownerOf: ownerFromPeerId, expiry: 'liveness', reclaimable: true },
  users: { owned: true, ownerOf: ownerIsKey, expiry: 'liveness', reclaimable: false },
  healthcheck: { owned: true, ownerOf: ownerIsKey, expiry: 'absolute', reclaimable: false },
  dns: { owned: true, expiry: 'liveness', reclaimable: true },
  egress: { owned: true, ownerOf: ownerIsKey, expiry: 'liveness', reclaimable: false },
})

export const HEALTHCHECK_BUCKET = 'healthcheck'

export function policyOf(bucket: string): Readonly<BucketPolicy> {
  return Object.hasOwn(BUCKET_POLICIES, bucket) ? BUCKET_POLICIES[bucket] : OPEN_POLICY
}

/**
 * Anything that yields healthcheck values (Data text by peer id): a ledger
 * (`getKey`), a map or a record of the healthcheck bucket.
 */
export type HealthView = { getKey(bucket: string, key: string): string | undefined } | ReadonlyMap<string, string> | Readonly<Record<string, string>>

function healthOf(view: HealthView, peerId: string): string | undefined {
  if (view instanceof Map) return (view as ReadonlyMap<string, string>).get(peerId)
  if (typeof (view as { getKey?: unknown }).getKey === 'function') {
    return (view as { getKey(bucket: string, key: string): string | undefined }).getKey(HEALTHCHECK_BUCKET, peerId)
  }
  const rec = view as Readonly<Record<string, string>>
  return Object.hasOwn(rec, peerId) ? rec[peerId] : undefined
}

/**
 * EdgeVPN's liveness: the peer's healthcheck value is a JSON string holding an
 * RFC 3339 time (written with the peer's own clock), and that time plus the
 * TTL is after `now`.
 */
export function isLive(view: HealthView, peerId: string, ttlSeconds: number, now: Date): boolean {
  const text = healthOf(view, peerId)
  if (text === undefined) return false
  let v
  try {
    v = parseJson(text)
  } catch {
    return false
  }
  if (typeof v !== 'string') return false // null unmarshals to "", which does not parse either
  const t = parseGoRfc3339(v)
  if (t === undefined) return false
  return t + BigInt(Math.round(ttlSeconds * 1e9)) > dateNanos(now)
}

/**
 * EdgeVPN's absolute expiry: time.Unix(updatedAt, 0).Add(ttl).Before(now).
 * Emulates Go's int64 arithmetic, including the wrap-around that makes an
 * absurdly large UpdatedAt count as long expired.
 */
export function expiredAbsolute(updatedAt: bigint, ttlSeconds: number, now: Date): boolean {
  return goUnixAddBefore(updatedAt, BigInt(Math.round(ttlSeconds * 1e9)), now)
}
