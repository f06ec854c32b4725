import { randomUUID } from 'node:crypto'
import { decodeValue, encodePaddedUrlBase64 } from '../kairos/layout.js'
import { parseJson } from './json.js'

/**
 * Ledger values as people read them (the CLI, the bridge dashboard). A value is JSON text ("Data"). EdgeVPN's
 * Go client (`api/client` Put, used by Kairos) stores json.Marshal(v) as padded
 * URL-alphabet base64 inside a JSON string, so a Kairos IP reads
 * `"IjEwLjEuMC4xIg=="`. Such values are shown decoded, and marked; the rules
 * are in docs/ledger.md ("Values people can read").
 */
export interface ReadValue {
  /** The parsed value; for a decoded value, the value inside the base64. */
  value: unknown
  /** The stored Data text, exactly. */
  raw: string
  /** True when `value` was decoded from base64 of JSON. */
  decoded: boolean
}

/**
 * The value inside a Data text that is a JSON string holding canonical padded
 * URL-alphabet base64 (re-encoding gives the same text) of UTF-8 JSON without
 * surrounding whitespace, as Go's json.Marshal writes it; undefined otherwise.
 */
export function decodeGoValue(dataText: string): { value: unknown } | undefined {
  let value: unknown
  try {
    value = decodeValue(dataText)
  } catch {
    return undefined
  }
  const b64 = JSON.parse(dataText) as string
  const json = Buffer.from(b64, 'base64url').toString('utf8')
  if (encodePaddedUrlBase64(json) !== b64 || json.trim() !== json) return undefined
  return { value }
}

/** A Data text as shown: decoded when it is base64 of JSON (unless `raw`), otherwise parsed. */
export function readValue(dataText: string, raw = false): ReadValue {
  const inner = raw ? undefined : decodeGoValue(dataText)
  if (inner) return { value: inner.value, raw: dataText, decoded: true }
  let value: unknown = dataText
  try {
    value = parseJson(dataText)
  } catch {
    // not JSON (only a broken writer stores that): show the text
  }
  return { value, raw: dataText, decoded: false }
}

/** JSON text with bigints (64-bit integers) written as plain numbers. */
export function prettyJson(value: unknown, indent = 2): string {
  // Each bigint becomes a string no value contains (a fresh random tag), then its digits.
  const tag = randomUUID()
  const big: string[] = []
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${tag}:${big.push(v.toString()) - 1}` : v), indent)
  return big.reduce((t, digits, i) => t.replace(`"${tag}:${i}"`, digits), text)
}

/** A value for `ledger get`: a string as its content, anything else pretty-printed. */
export function showValue(v: ReadValue): string {
  return typeof v.value === 'string' ? v.value : prettyJson(v.value)
}

/** A Data text for display: the decoded or stored value as showValue writes it, and whether it was decoded. */
export function readableValue(dataText: string): { text: string; decoded: boolean } {
  const v = readValue(dataText)
  return { text: showValue(v), decoded: v.decoded }
}
