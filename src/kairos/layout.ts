import { goJsonStringify, parseJson, type JsonValue } from '../ledger/json.js'

/**
 * How Kairos keeps cluster state in the EdgeVPN ledger, through EdgeVPN's
 * service client (`api/client/service`):
 *
 * - the bucket is the network id (default `kairos`);
 * - `Set(thing, uuid, v)` writes key `<uuid>-<thing>`, and `Get(thing, uuid)`
 *   reads the same key (it reverses its arguments and joins them with `-`);
 * - every value travels as
 *     Go value → json.Marshal → base64 (URL alphabet, padded) → the API's PUT
 *   and the API stores that base64 string as a JSON string, so the ledger's
 *   Data text for a key is `"<base64>"`.
 *
 * Everything here is pure: no I/O.
 */
export const DEFAULT_NETWORK_ID = 'kairos'

/** The keys Kairos uses inside the network-id bucket. */
export const keys = {
  /** `Set("role", uuid, role)`: the node's role (a string, possibly a comma-separated list). */
  role: (uuid: string): string => `${uuid}-role`,
  /** `Set("ip", uuid, ip)`: the node's edgevpn0 IP (or kube-vip EIP). */
  ip: (uuid: string): string => `${uuid}-ip`,
  /** `Advertize(uuid)`: `{"Time": <RFC3339Nano UTC>}`, refreshed every ~20 s. */
  advertisement: (uuid: string): string => `${uuid}-uuid`,
  /** `Set("master", "ip", ip)`: the IP of the master that published the kubeconfig. */
  masterIp: 'ip-master',
  /** `Set("kubeconfig", "master", b64)`: RawURL base64 of the master's k3s.yaml. */
  kubeconfig: 'master-kubeconfig',
  /** `Set("nodetoken", "token", t)`: the k3s node token. */
  nodeToken: 'token-nodetoken',
  /** k0s join tokens. */
  controllerToken: 'token-controllertoken',
  workerToken: 'token-workertoken',
  /** `Set("auto", "leader", uuid)`: the UUID of the auto-role leader. */
  autoLeader: 'leader-auto',
} as const

/** The key the Go service client's `Set(thing, uuid, …)` writes. */
export function serviceKey(thing: string, uuid: string): string {
  return `${uuid}-${thing}`
}

/** Which step of the decoding chain rejected a value. */
export type DecodeLayer = 'ledger text' | 'base64' | 'value JSON'

export class LayoutError extends Error {
  constructor(
    readonly layer: DecodeLayer,
    message: string,
  ) {
    super(message)
    this.name = 'LayoutError'
  }
}

const PADDED_URL_B64 = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/

/** base64 with the URL alphabet and `=` padding (Go's base64.URLEncoding). */
export function encodePaddedUrlBase64(bytes: Uint8Array | string): string {
  const b64 = Buffer.from(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('base64url')
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4)
}

/**
 * The string to store for a Go value: what the Go client's `Put` sends as the
 * last path segment, and what `LedgerAccess.put(bucket, key, value)` takes.
 * json.Marshal escapes `<`, `>`, `&`, U+2028 and U+2029 as `\u003c` etc.;
 * goJsonStringify does the same, so the bytes match. Objects keep their key
 * order (Go structs marshal in field order).
 */
export function encodeValue(value: unknown): string {
  return encodePaddedUrlBase64(goJsonStringify(value))
}

/** The ledger Data text that storing `encodeValue(value)` produces (a JSON string). */
export function encodeDataText(value: unknown): string {
  return JSON.stringify(encodeValue(value))
}

/**
 * Reverses the chain from a ledger Data text to the Go value, as the Go
 * client's GetBucketKey followed by json.Unmarshal does:
 * Data text → JSON string `<b64>` → base64.URLEncoding (padded) → JSON text → value.
 * Throws a LayoutError naming the layer that failed.
 */
export function decodeValue(dataText: string): JsonValue {
  let b64: JsonValue
  try {
    b64 = parseJson(dataText)
  } catch (err) {
    throw new LayoutError('ledger text', `the stored text is not JSON (${(err as Error).message})`)
  }
  if (typeof b64 !== 'string') {
    throw new LayoutError('ledger text', `the stored value is ${describeJson(b64)}, not the base64 string a Kairos client stores`)
  }
  if (!PADDED_URL_B64.test(b64)) {
    throw new LayoutError('base64', `"${clip(b64)}" is not padded URL-alphabet base64`)
  }
  const bytes = Buffer.from(b64, 'base64url')
  let json: string
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new LayoutError('value JSON', 'the decoded bytes are not UTF-8 text')
  }
  try {
    return parseJson(json)
  } catch (err) {
    throw new LayoutError('value JSON', `the decoded text "${clip(json)}" is not JSON (${(err as Error).message})`)
  }
}

/** decodeValue, then require a string (what `service.Client.Get` unmarshals into). */
export function decodeString(dataText: string): string {
  const v = decodeValue(dataText)
  if (typeof v !== 'string') throw new LayoutError('value JSON', `the value is ${describeJson(v)}, not a string`)
  return v
}

/**
 * Go's time.Time as json.Marshal writes it for a UTC time: RFC3339Nano, with
 * trailing zeros of the fraction trimmed (and no fraction when it is zero).
 * `nanos` adds sub-millisecond precision (0–999999).
 */
export function goTimeText(date: Date, nanos = 0): string {
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = (String(date.getUTCMilliseconds()).padStart(3, '0') + String(nanos).padStart(6, '0')).replace(/0+$/, '')
  return iso.slice(0, 19) + (frac ? `.${frac}` : '') + 'Z'
}

/** The value `Advertize(uuid)` stores under `<uuid>-uuid`. */
export function advertisementValue(date: Date): { Time: string } {
  return { Time: goTimeText(date) }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/

/**
 * Parses an RFC3339 time (any number of fractional digits, as Go accepts) to
 * nanoseconds since the Unix epoch. Undefined when Go's time parsing would fail.
 */
export function parseGoTime(text: string): bigint | undefined {
  const m = RFC3339.exec(text)
  if (!m) return undefined
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number)
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined
  const ms = Date.UTC(year, month - 1, day, hour, minute, second)
  const check = new Date(ms)
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined
  let ns = BigInt(ms) * 1_000_000n + BigInt((m[7] ?? '').slice(0, 9).padEnd(9, '0') || '0')
  if (m[9]) {
    const offH = Number(m[10])
    const offM = Number(m[11])
    if (offH > 23 || offM > 59) return undefined
    const off = BigInt((offH * 60 + offM) * 60) * 1_000_000_000n
    ns = m[9] === '+' ? ns - off : ns + off
  }
  return ns
}

function describeJson(v: JsonValue): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  if (typeof v === 'bigint') return 'a number'
  return `a ${typeof v}`
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s
}
