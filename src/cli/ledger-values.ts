import { prettyJson, type ReadValue } from '../ledger/readable.js'

/**
 * A value for a table cell, on one line: a plain string as its content; a
 * decoded value as compact JSON followed by "(decoded)"; cut to `max`
 * characters (the marker is kept).
 */
export function cellValue(v: ReadValue, max = Infinity): string {
  const text = v.decoded || typeof v.value !== 'string' ? prettyJson(v.value, 0) : v.value
  const one = text.replace(/\s+/g, ' ')
  const cut = one.length > max ? one.slice(0, max - 1) + '…' : one
  return v.decoded ? `${cut} (decoded)` : cut
}
