import { parseJson, type JsonValue } from './json.js'

/** A ledger value as people read it. */
export interface ReadableValue {
  /** The value: a string's content, other JSON indented (64-bit integers exact), or the stored text when it is not JSON. */
  text: string
  /** True when the stored value was base64 of JSON (as EdgeVPN's Go client writes) and `text` is what it held. */
  decoded: boolean
}

const PADDED_URL_B64 = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/

/**
 * The JSON inside a Go client value: a JSON string holding canonical padded
 * URL-alphabet base64 (re-encoding gives the same text) of UTF-8 JSON without
 * surrounding whitespace, as json.Marshal writes it. Undefined otherwise, so
 * that a plain string that happens to be valid base64 ("abcd") stays a string.
 */
export function goClientValue(stored: JsonValue): JsonValue | undefined {
  if (typeof stored !== 'string' || stored === '' || !PADDED_URL_B64.test(stored)) return undefined
  const bytes = Buffer.from(stored, 'base64url')
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
  if (Buffer.from(text, 'utf8').toString('base64url') !== stored.replace(/=+$/, '') || text.trim() !== text) return undefined
  try {
    return parseJson(text)
  } catch {
    return undefined
  }
}

/** JSON indented by two spaces, bigints as plain digits. */
export function prettyJson(v: JsonValue, indent = ''): string {
  if (typeof v === 'bigint') return v.toString()
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  const inner = indent + '  '
  const items = Array.isArray(v) ? v.map((e) => prettyJson(e, inner)) : Object.entries(v).map(([k, e]) => `${JSON.stringify(k)}: ${prettyJson(e, inner)}`)
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}']
  return items.length === 0 ? open + close : `${open}\n${items.map((i) => inner + i).join(',\n')}\n${indent}${close}`
}

/** A stored Data text for display: decoded when it is a Go client value, else its string content or indented JSON. */
export function readableValue(dataText: string): ReadableValue {
  let stored: JsonValue
  try {
    stored = parseJson(dataText)
  } catch {
    return { text: dataText, decoded: false }
  }
  const inner = goClientValue(stored)
  const value = inner === undefined ? stored : inner
  return { text: typeof value === 'string' ? value : prettyJson(value), decoded: inner !== undefined }
}
