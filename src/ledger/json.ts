/**
 * JSON as EdgeVPN's Go code reads and writes it.
 *
 * - Parsing keeps integers outside JavaScript's safe range exact, as `bigint`:
 *   a signed entry's `Version` is a uint64 (UnixNano, about 1.8e18) and
 *   `JSON.parse` would round it, breaking signatures and version comparisons.
 * - Writing follows Go's `encoding/json`: HTML-safe string escapes, bigints as
 *   bare numbers, sorted keys for maps (Go structs keep field order, so plain
 *   objects keep insertion order unless `sortKeys` is asked for).
 */

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue }

export class JsonError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JsonError'
  }
}

export interface ParseOptions {
  /** Return every integer literal as bigint (not only those outside the safe range). */
  allIntegersAsBigInt?: boolean
}

/** Deeper documents are refused (Go allows 10000 levels; ledger data needs fewer than 10). */
const MAX_DEPTH = 1000

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/**
 * Parses JSON text with Go's grammar (RFC 8259: no comments, no trailing commas,
 * no raw control characters in strings). Integers outside Number's safe range
 * come back as `bigint`; other numbers as `number`. With `allIntegersAsBigInt`
 * every integer literal is a `bigint`, so a `number` is always a literal with a
 * fraction or exponent (which Go refuses for integer fields, even `1.0`).
 * Duplicate object keys: the last one wins, as in Go. Escaped lone surrogates
 * become U+FFFD, as in Go. Numbers too large for a double become ±Infinity
 * (Go only complains when it decodes them into a float).
 */
export function parseJson(text: string, opts: ParseOptions = {}): JsonValue {
  return parse(text, opts)
}

/**
 * The members of a top-level JSON object in document order, duplicates
 * included (as Go's decoder sees them); undefined when the text is valid JSON
 * but not an object. Throws JsonError on invalid JSON.
 */
export function parseJsonMembers(text: string, opts: ParseOptions = {}): [string, JsonValue][] | undefined {
  const members: [string, JsonValue][] = []
  const v = parse(text, opts, members)
  return isJsonObject(v) ? members : undefined
}

function parse(text: string, opts: ParseOptions, topMembers?: [string, JsonValue][]): JsonValue {
  const allBig = opts.allIntegersAsBigInt === true
  let i = 0
  const n = text.length
  const fail = (what: string): never => {
    throw new JsonError(`${what} at offset ${i}`)
  }
  const ws = (): void => {
    while (i < n && isWs(text.charCodeAt(i))) i++
  }

  const hex4 = (): number => {
    if (i + 4 > n) fail('bad \\u escape')
    let v = 0
    for (let k = 0; k < 4; k++) {
      const c = text.charCodeAt(i + k)
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1
      if (d < 0) fail('bad \\u escape')
      v = v * 16 + d
    }
    i += 4
    return v
  }

  const str = (): string => {
    i++ // opening quote
    let out = ''
    let start = i
    for (;;) {
      if (i >= n) fail('unterminated string')
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        out += text.slice(start, i++)
        return out
      }
      if (c < 0x20) fail('control character in string')
      if (c !== 0x5c) {
        i++
        continue
      }
      out += text.slice(start, i)
      i++
      const e = text[i++]
      switch (e) {
        case '"':
          out += '"'
          break
        case '\\':
          out += '\\'
          break
        case '/':
          out += '/'
          break
        case 'b':
          out += '\b'
          break
        case 'f':
          out += '\f'
          break
        case 'n':
          out += '\n'
          break
        case 'r':
          out += '\r'
          break
        case 't':
          out += '\t'
          break
        case 'u': {
          const u = hex4()
          if (u >= 0xd800 && u <= 0xdbff) {
            // A high surrogate needs an escaped low surrogate right after it.
            if (text[i] === '\\' && text[i + 1] === 'u') {
              const save = i
              i += 2
              const lo = hex4()
              if (lo >= 0xdc00 && lo <= 0xdfff) {
                out += String.fromCharCode(u, lo)
                break
              }
              i = save
            }
            out += '\ufffd'
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            out += '\ufffd'
          } else {
            out += String.fromCharCode(u)
          }
          break
        }
        default:
          i--
          fail('bad escape')
      }
      start = i
    }
  }

  const num = (): number | bigint => {
    const start = i
    if (text.charCodeAt(i) === 0x2d) i++
    if (text.charCodeAt(i) === 0x30) i++
    else if (isDigit(text.charCodeAt(i))) while (isDigit(text.charCodeAt(i))) i++
    else fail('bad number')
    let integer = true
    if (text.charCodeAt(i) === 0x2e) {
      integer = false
      i++
      if (!isDigit(text.charCodeAt(i))) fail('bad number')
      while (isDigit(text.charCodeAt(i))) i++
    }
    const c = text.charCodeAt(i)
    if (c === 0x65 || c === 0x45) {
      integer = false
      i++
      const s = text.charCodeAt(i)
      if (s === 0x2b || s === 0x2d) i++
      if (!isDigit(text.charCodeAt(i))) fail('bad number')
      while (isDigit(text.charCodeAt(i))) i++
    }
    const lit = text.slice(start, i)
    const v = Number(lit)
    if (integer && (allBig || !Number.isSafeInteger(v))) return BigInt(lit)
    return v
  }

  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep')
    ws()
    if (i >= n) fail('unexpected end of input')
    const c = text[i]
    if (c === '{') {
      i++
      const obj: { [key: string]: JsonValue } = {}
      ws()
      if (text[i] === '}') return (i++, obj)
      for (;;) {
        ws()
        if (text[i] !== '"') fail('expected a string key')
        const key = str()
        ws()
        if (text[i] !== ':') fail('expected ":"')
        i++
        const member = value(depth + 1)
        if (depth === 0) topMembers?.push([key, member])
        // defineProperty: a key named "__proto__" stays an ordinary property.
        Object.defineProperty(obj, key, { value: member, enumerable: true, writable: true, configurable: true })
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') return (i++, obj)
        fail('expected "," or "}"')
      }
    }
    if (c === '[') {
      i++
      const arr: JsonValue[] = []
      ws()
      if (text[i] === ']') return (i++, arr)
      for (;;) {
        arr.push(value(depth + 1))
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') return (i++, arr)
        fail('expected "," or "]"')
      }
    }
    if (c === '"') return str()
    if (text.startsWith('true', i)) return ((i += 4), true)
    if (text.startsWith('false', i)) return ((i += 5), false)
    if (text.startsWith('null', i)) return ((i += 4), null)
    if (c === '-' || isDigit(text.charCodeAt(i))) return num()
    return fail('unexpected character')
  }

  const v = value(0)
  ws()
  if (i !== n) fail('trailing data')
  return v
}

/** True for a JSON object (not null, not an array). */
export function isJsonObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Go's case-insensitive struct-field matching folds keys with Unicode simple
 * folding, so besides ASCII case, U+017F (long s) matches "s" and U+212A
 * (Kelvin sign) matches "k". Returns the key folded to compare with a
 * lower-case ASCII field name.
 */
export function goFieldKey(key: string): string {
  let out = ''
  for (const ch of key) {
    if (ch === '\u017f') out += 's'
    else if (ch === '\u212a') out += 'k'
    else if (ch >= 'A' && ch <= 'Z') out += ch.toLowerCase()
    else out += ch
  }
  return out
}

/**
 * The fields of a JSON object as Go would match them against a struct:
 * folded names (see goFieldKey), later duplicates overriding earlier ones.
 */
export function goFields(obj: { [key: string]: JsonValue }): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>()
  for (const [k, v] of Object.entries(obj)) out.set(goFieldKey(k), v)
  return out
}

/** A string as Go's json.Marshal writes it (HTML-safe escapes, U+2028/U+2029 escaped). */
export function goJsonString(s: string): string {
  let out = '"'
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    let esc: string | undefined
    if (c === 0x22) esc = '\\"'
    else if (c === 0x5c) esc = '\\\\'
    else if (c < 0x20) {
      esc = c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : c === 0x09 ? '\\t' : c === 0x08 ? '\\b' : c === 0x0c ? '\\f' : '\\u00' + c.toString(16).padStart(2, '0')
    } else if (c === 0x3c) esc = '\\u003c'
    else if (c === 0x3e) esc = '\\u003e'
    else if (c === 0x26) esc = '\\u0026'
    else if (c === 0x2028) esc = '\\u2028'
    else if (c === 0x2029) esc = '\\u2029'
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A valid pair passes through; a lone surrogate is not UTF-8: Go writes U+FFFD.
      const next = s.charCodeAt(i + 1)
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
      esc = '\\ufffd'
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc
      start = i + 1
    }
  }
  return out + s.slice(start) + '"'
}

export interface GoJsonOptions {
  /** Sort the keys of plain objects too (Go does so for maps; struct fields keep declaration order). */
  sortKeys?: boolean
}

/** Go's RFC 3339 with trimmed nanoseconds, as time.Time marshals (UTC). */
function goTimeJson(d: Date): string {
  const iso = d.toISOString()
  const ms = iso.slice(20, 23).replace(/0+$/, '')
  return `${iso.slice(0, 19)}${ms ? '.' + ms : ''}Z`
}

/**
 * Go's json.Marshal for plain values. Objects keep insertion order (build them
 * in Go field order) unless `sortKeys`; `Map`s are always written with sorted
 * keys, like Go maps. bigints are bare numbers, strings are Go-escaped,
 * `Uint8Array` is standard base64 (Go `[]byte`), `Date` is RFC 3339 (Go
 * `time.Time`). Object properties whose value is `undefined` are skipped.
 */
export function goJsonStringify(v: unknown, opts: GoJsonOptions = {}): string {
  const enc = (x: unknown, depth: number): string => {
    if (depth > MAX_DEPTH) throw new JsonError('value nested too deep')
    if (x === null || x === undefined) return 'null'
    switch (typeof x) {
      case 'string':
        return goJsonString(x)
      case 'bigint':
        return x.toString()
      case 'boolean':
        return x ? 'true' : 'false'
      case 'number':
        if (!Number.isFinite(x)) throw new JsonError(`cannot encode ${x}`)
        return Object.is(x, -0) ? '0' : JSON.stringify(x)
      case 'object':
        break
      default:
        throw new JsonError(`cannot encode a ${typeof x}`)
    }
    if (Array.isArray(x)) return '[' + x.map((e) => enc(e, depth + 1)).join(',') + ']'
    if (x instanceof Uint8Array) return '"' + Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64') + '"'
    if (x instanceof Date) return '"' + goTimeJson(x) + '"'
    let pairs: [string, unknown][]
    if (x instanceof Map) {
      pairs = [...x.entries()].map(([k, e]) => [String(k), e])
      pairs.sort(([a], [b]) => goCompare(a, b))
    } else {
      pairs = Object.entries(x).filter(([, e]) => e !== undefined)
      if (opts.sortKeys) pairs.sort(([a], [b]) => goCompare(a, b))
    }
    return '{' + pairs.map(([k, e]) => goJsonString(k) + ':' + enc(e, depth + 1)).join(',') + '}'
  }
  return enc(v, 0)
}

/** Byte-wise (UTF-8) string order, as Go compares strings and sorts map keys. */
export function goCompare(a: string, b: string): number {
  if (a === b) return 0
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
