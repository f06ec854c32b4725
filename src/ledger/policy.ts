import { parseJson } from './json.js'

/**
 * Which buckets are owned under EdgeVPN's ledger ownership, who owns an entry,
 * and when an owner's claim lapses. Buckets not listed (kairos, dhcp, ...) are
 * open: anyone may write, and the strictly higher Version wins.
 */
export type Expiry = 'none' | 'liveness' | 'absolute'

export interface BucketPolicy {
  owned: boolean
  /** The owner an entry's value declares; undefined: the first signer owns the key. */
  ownerOf?: (key: string, value: string) => string
  expiry: Expiry
}

const ownerIsKey = (key: string): string => key

/** The value's `PeerID` field, or "" when it has none. */
export function ownerFromPeerId(_key: string, value: string): string {
  try {
    const v = parseJson(value)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) if (k.toLowerCase() === 'peerid' && typeof x === 'string') return x
    }
  } catch {
    // not JSON: no owner
  }
  return ''
}

const OPEN: BucketPolicy = { owned: false, expiry: 'none' }

const REGISTRY: Record<string, BucketPolicy> = {
  machines: { owned: true, ownerOf: ownerFromPeerId, expiry: 'liveness' },
  services: { owned: true, ownerOf: ownerFromPeerId, expiry: 'liveness' },
  files: { owned: true, ownerOf: ownerFromPeerId, expiry: 'liveness' },
  users: { owned: true, ownerOf: ownerIsKey, expiry: 'liveness' },
  healthcheck: { owned: true, ownerOf: ownerIsKey, expiry: 'absolute' },
  dns: { owned: true, expiry: 'liveness' },
  egress: { owned: true, ownerOf: ownerIsKey, expiry: 'liveness' },
}

export function policyOf(bucket: string): BucketPolicy {
  return Object.hasOwn(REGISTRY, bucket) ? REGISTRY[bucket] : OPEN
}

/**
 * EdgeVPN's liveness: the owner's healthcheck value (RFC 3339, written with the
 * owner's own clock) plus the TTL is still in the future.
 */
export function isLive(healthcheck: Map<string, string>, owner: string, ttlSeconds: number, now: Date): boolean {
  const text = healthcheck.get(owner)
  if (text === undefined) return false
  let t: number
  try {
    const v = parseJson(text)
    if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return false
    t = Date.parse(v)
  } catch {
    return false
  }
  return !Number.isNaN(t) && t + ttlSeconds * 1000 > now.getTime()
}
