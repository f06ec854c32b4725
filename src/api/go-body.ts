/** Go's JSON encoding of API answers: struct field order, sorted map keys, Go's decoding into string structs. */
import { goFieldKey, goJsonStringify, parseJsonMembers } from '../ledger/json.js'

/** A body that is already JSON text (the block keeps 64-bit versions exact). */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * What Go's json.Unmarshal makes of a ledger value decoded into a struct of
 * string fields: names matched case-insensitively, the last match wins,
 * non-string values skipped; anything but a JSON object gives the zero struct.
 * EdgeVPN's API answers with such structs, never with the stored JSON itself.
 */
export function goStruct<F extends string>(text: string, fields: readonly F[]): Record<F, string> {
  const out = Object.fromEntries(fields.map((f) => [f, ''])) as Record<F, string>
  const byKey = new Map(fields.map((f) => [goFieldKey(f), f]))
  let members: ReturnType<typeof parseJsonMembers>
  try {
    members = parseJsonMembers(text)
  } catch {
    return out
  }
  for (const [k, v] of members ?? []) {
    const field = byKey.get(goFieldKey(k))
    if (field !== undefined && typeof v === 'string') out[field] = v
  }
  return out
}

/** Marks a plain object as a Go map: its keys are written sorted, as Go's encoder does. */
const GO_MAP = Symbol('go map')
export function goMap<T extends object>(obj: T): T {
  Object.defineProperty(obj, GO_MAP, { value: true, enumerable: false })
  return obj
}

/** Go's JSON for a response body: struct fields in the order built, map keys sorted, Go's string escapes. */
export function encodeBody(body: unknown): string {
  if (body instanceof RawJson) return body.text
  const toGo = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(toGo)
    if (v === null || typeof v !== 'object') return v
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, toGo(x)]))
    const entries = Object.entries(v).map(([k, x]) => [k, toGo(x)] as const)
    return (v as { [GO_MAP]?: boolean })[GO_MAP] ? new Map(entries) : Object.fromEntries(entries)
  }
  return goJsonStringify(toGo(body))
}
