/**
 * JSON that keeps 64-bit integers exact. EdgeVPN's signed entries carry a
 * uint64 Version (UnixNano, about 1.8e18), beyond JavaScript's safe integers:
 * parsing with JSON.parse would round it and break signatures. Here integers
 * outside the safe range come back as bigint, and bigints are written back as
 * bare numbers. Strings are written as Go's encoding/json writes them.
 */

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue }

export class JsonError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JsonError'
  }
}

/** Parses JSON text; integers outside Number's safe range become bigint. */
export function parseJson(text: string): JsonValue {
  let i = 0
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++
  }
  const fail = (what: string): never => {
    throw new JsonError(`${what} at offset ${i}`)
  }
  const value = (depth: number): JsonValue => {
    if (depth > 64) fail('nesting too deep')
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const obj: { [key: string]: JsonValue } = {}
      ws()
      if (text[i] === '}') return i++, obj
      for (;;) {
        ws()
        if (text[i] !== '"') fail('expected a string key')
        const key = string()
        ws()
        if (text[i++] !== ':') fail('expected ":"')
        Object.defineProperty(obj, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true })
        ws()
        if (text[i] === ',') { i++; continue }
        if (text[i] === '}') return i++, obj
        fail('expected "," or "}"')
      }
    }
    if (c === '[') {
      i++
      const arr: JsonValue[] = []
      ws()
      if (text[i] === ']') return i++, arr
      for (;;) {
        arr.push(value(depth + 1))
        ws()
        if (text[i] === ',') { i++; continue }
        if (text[i] === ']') return i++, arr
        fail('expected "," or "]"')
      }
    }
    if (c === '"') return string()
    if (text.startsWith('true', i)) return (i += 4), true
    if (text.startsWith('false', i)) return (i += 5), false
    if (text.startsWith('null', i)) return (i += 4), null
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (!m) fail('unexpected character')
    i += m![0].length
    if (m![1] === undefined && m![2] === undefined) {
      const n = Number(m![0])
      return Number.isSafeInteger(n) ? n : BigInt(m![0])
    }
    return Number(m![0])
  }
  const string = (): string => {
    const start = ++i
    let simple = true
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') { simple = false; i += 2 } else i++
    }
    if (i >= text.length) fail('unterminated string')
    const raw = text.slice(start, i++)
    if (simple) return raw
    try {
      return JSON.parse(`"${raw}"`) as string
    } catch {
      return fail('bad string escape')
    }
  }
  const v = value(0)
  ws()
  if (i !== text.length) fail('trailing data')
  return v
}

/** A string as Go's json.Marshal writes it (HTML-safe escapes, \u2028/\u2029 escaped). */
export function goJsonString(s: string): string {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16).padStart(4, '0')
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd' // lone surrogate: Go writes U+FFFD
    else out += ch
  }
  return out + '"'
}

/**
 * Go's json.Marshal for plain values: objects keep their insertion order (as
 * Go structs keep field order; pass sorted objects where Go would have a map),
 * bigints are bare numbers, strings are Go-escaped.
 */
export function goJsonStringify(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'string') return goJsonString(v)
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new JsonError('cannot encode a non-finite number')
    return JSON.stringify(v)
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (Array.isArray(v)) return '[' + v.map(goJsonStringify).join(',') + ']'
  if (v instanceof Map) return goJsonStringify(Object.fromEntries([...v.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
  if (typeof v === 'object') {
    return '{' + Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => goJsonString(k) + ':' + goJsonStringify(x)).join(',') + '}'
  }
  throw new JsonError(`cannot encode a ${typeof v}`)
}

/** Byte-wise (UTF-8) string order, as Go compares strings and sorts map keys. */
export function goCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
