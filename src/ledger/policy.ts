import { goFieldKey, parseJson, parseJsonMembers } from './json.js'

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

/** Nanoseconds since the Unix epoch of a Date. */
export function dateNanos(d: Date): bigint {
  return BigInt(d.getTime()) * 1_000_000n
}

function daysFromCivil(y: number, m: number, d: number): number {
  // Proleptic Gregorian day count (Howard Hinnant's algorithm); valid for years 0–9999.
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

const daysIn = (y: number, m: number): number =>
  m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/

/**
 * Parses a time as Go's time.Parse(time.RFC3339, s) accepts it (fractional
 * seconds allowed, with "." or ","; a one-digit hour; offsets up to 24:60),
 * returning Unix nanoseconds, or undefined when Go would fail.
 */
export function parseGoRfc3339(s: string): bigint | undefined {
  const m = RFC3339.exec(s)
  if (!m) return undefined
  const [year, month, day, hour, min, sec] = m.slice(1, 7).map(Number)
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59) return undefined
  let offset = 0
  if (m[8] !== undefined) {
    const oh = Number(m[9])
    const om = Number(m[10])
    if (oh > 24 || om > 60) return undefined
    offset = (oh * 60 + om) * 60 * (m[8] === '-' ? -1 : 1)
  }
  const nanos = m[7] === undefined ? 0n : BigInt(m[7].slice(0, 9).padEnd(9, '0'))
  const secs = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + min * 60 + sec - offset)
  return secs * 1_000_000_000n + nanos
}

/**
 * Anything that yields healthcheck values (Data text by peer id): a ledger
 * (`getKey`), a map or a record of the healthcheck bucket.
 */
export type HealthView =
  | { getKey(bucket: string, key: string): string | undefined }
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>

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

/** Seconds between year 1 and 1970, Go's offset from Unix to its internal time. */
const UNIX_TO_INTERNAL = 62135596800n

/**
 * EdgeVPN's absolute expiry: time.Unix(updatedAt, 0).Add(ttl).Before(now).
 * Emulates Go's int64 arithmetic, including the wrap-around that makes an
 * absurdly large UpdatedAt count as long expired.
 */
export function expiredAbsolute(updatedAt: bigint, ttlSeconds: number, now: Date): boolean {
  const internal = BigInt.asIntN(64, updatedAt + UNIX_TO_INTERNAL)
  const ttlNs = BigInt(Math.round(ttlSeconds * 1e9))
  const max = (1n << 63n) - 1n
  let sec = internal + ttlNs / 1_000_000_000n
  if (sec > max) sec = max // Go's Add saturates
  if (sec < -max) sec = -max
  const nsec = ttlNs % 1_000_000_000n
  const nowNs = dateNanos(now) + UNIX_TO_INTERNAL * 1_000_000_000n
  return sec * 1_000_000_000n + nsec < nowNs
}

/** A healthcheck value as EdgeVPN writes it: UTC RFC 3339 with whole seconds. */
export function healthcheckTime(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z')
}
