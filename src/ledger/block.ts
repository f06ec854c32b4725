import { createHash } from 'node:crypto'
import { decodeEntry, encodeEntry, EntryError, isLegacy, type Entry } from './entry.js'
import { goTimeString } from './go-time.js'
import { goCompare, goFieldKey, goJsonString, isJsonObject, JsonError, parseJson, type JsonValue } from './json.js'

/** bucket → key → entry. */
export type Storage = Map<string, Map<string, Entry>>

/** A ledger block. A node keeps only its last block. */
export interface Block {
  index: number
  /** Opaque text; new blocks carry Go's time.Time.String() of a UTC time. */
  timestamp: string
  storage: Storage
  hash: string
  prevHash: string
}

export type ChecksumStyle = 'v0.34' | 'v0.35'

export class BlockError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BlockError'
  }
}

const I64_MIN = -(1n << 63n)
const I64_MAX = (1n << 63n) - 1n

/**
 * Parses a block's JSON as Go's json.Unmarshal into Block does: field names
 * match case-insensitively, unknown fields are ignored, `Storage` and buckets
 * may be null, entries may be legacy strings or signed objects. Throws
 * BlockError wherever Go fails (Go then ignores the whole block).
 *
 * Differences from Go, none visible on the wire: a null bucket becomes an empty
 * one, and an Index beyond 2^53 loses precision (Go accepts any int64). With
 * `maxEntries`, a block holding more entries is refused (Go has no limit).
 */
export function decodeBlock(text: string, opts: { maxEntries?: number } = {}): Block {
  const maxEntries = opts.maxEntries ?? Infinity
  let entryCount = 0
  let v: JsonValue
  try {
    v = parseJson(text, { allIntegersAsBigInt: true })
  } catch (err) {
    throw new BlockError(`block is not JSON: ${(err as JsonError).message}`)
  }
  const block: Block = { index: 0, timestamp: '', storage: new Map(), hash: '', prevHash: '' }
  if (v === null) return block // Go: unmarshalling null into a struct is a no-op
  if (!isJsonObject(v)) throw new BlockError('block is not a JSON object')
  const str = (name: string, x: JsonValue, prev: string): string => {
    if (x === null) return prev
    if (typeof x !== 'string') throw new BlockError(`${name} is not a string`)
    return x
  }
  for (const [name, x] of Object.entries(v)) {
    switch (goFieldKey(name)) {
      case 'index': {
        if (x === null) break
        const n = typeof x === 'bigint' ? x : undefined // a number here had a fraction or exponent
        if (n === undefined || n < I64_MIN || n > I64_MAX) throw new BlockError('Index is not an int64')
        block.index = Number(n)
        break
      }
      case 'timestamp':
        block.timestamp = str('Timestamp', x, block.timestamp)
        break
      case 'hash':
        block.hash = str('Hash', x, block.hash)
        break
      case 'prevhash':
        block.prevHash = str('PrevHash', x, block.prevHash)
        break
      case 'storage':
        if (x === null) break
        if (!isJsonObject(x)) throw new BlockError('Storage is not an object')
        for (const [bucket, kv] of Object.entries(x)) {
          // Like Go, a second Storage field (e.g. "storage") adds buckets to the first; a repeated bucket replaces.
          const entries = new Map<string, Entry>()
          if (kv !== null) {
            if (!isJsonObject(kv)) throw new BlockError(`bucket ${bucket} is not an object`)
            for (const [key, wire] of Object.entries(kv)) {
              if (++entryCount > maxEntries) throw new BlockError(`block has more than ${maxEntries} entries`)
              try {
                entries.set(key, decodeEntry(wire, { strictIntegers: true }))
              } catch (err) {
                throw new BlockError(`${bucket}/${key}: ${(err as EntryError).message}`)
              }
            }
          }
          block.storage.set(bucket, entries)
        }
        break
    }
  }
  return block
}

const sorted = <T>(m: Map<string, T>): [string, T][] => [...m.entries()].sort(([a], [b]) => goCompare(a, b))

/**
 * The block as Go's json.Marshal writes it: fields `Index, Timestamp, Storage,
 * Hash, PrevHash`, map keys sorted.
 *
 * With `legacy: true` the output is decodable by EdgeVPN ≤ v0.34, which fails
 * on the whole block if a single entry is an object: every live entry is
 * written as its bare value string (a signed entry loses owner, version and
 * signature), and tombstones are left out, since on an unsigned network a
 * deleted key is simply absent.
 */
export function encodeBlock(block: Block, opts: { legacy: boolean }): string {
  const buckets = sorted(block.storage).map(([bucket, kv]) => {
    const entries: string[] = []
    for (const [key, e] of sorted(kv)) {
      if (opts.legacy && e.deleted) continue
      entries.push(`${goJsonString(key)}:${opts.legacy && !isLegacy(e) ? goJsonString(e.value) : encodeEntry(e)}`)
    }
    return `${goJsonString(bucket)}:{${entries.join(',')}}`
  })
  return `{"Index":${block.index},"Timestamp":${goJsonString(block.timestamp)},"Storage":{${buckets.join(',')}},"Hash":${goJsonString(block.hash)},"PrevHash":${goJsonString(block.prevHash)}}`
}

/** How Go's fmt prints one entry inside the checksum record. */
function fmtEntry(e: Entry, style: ChecksumStyle): string {
  // v0.34 stored a plain string type: it prints as the raw text.
  if (style === 'v0.34') return e.value
  // v0.35 prints the SignedData struct: {Value Owner Version UpdatedAt Deleted [sig bytes]}.
  const sig = `[${e.sig === null ? '' : [...e.sig].join(' ')}]`
  return `{${e.value} ${e.owner} ${e.version} ${e.updatedAt} ${e.deleted} ${sig}}`
}

/** The text EdgeVPN hashes: fmt.Sprint(Index, Timestamp, Storage, PrevHash). */
export function checksumInput(block: Pick<Block, 'index' | 'timestamp' | 'storage' | 'prevHash'>, style: ChecksumStyle): string {
  const storage = `map[${sorted(block.storage)
    .map(
      ([b, kv]) =>
        `${b}:map[${sorted(kv)
          .map(([k, e]) => `${k}:${fmtEntry(e, style)}`)
          .join(' ')}]`,
    )
    .join(' ')}]`
  return `${block.index}${block.timestamp}${storage}${block.prevHash}`
}

/**
 * EdgeVPN's block hash: lowercase hex SHA-256 of checksumInput(). v0.34 and
 * v0.35 print entries differently, so the same content hashes differently.
 * Receivers never verify it; it only breaks ties between equal indexes when
 * ownership is off.
 */
export function checksum(block: Pick<Block, 'index' | 'timestamp' | 'storage' | 'prevHash'>, style: ChecksumStyle): string {
  return createHash('sha256').update(checksumInput(block, style), 'utf8').digest('hex')
}

/** The hash every EdgeVPN genesis block carries: that of an empty block, sha256("0map[]"). */
export const GENESIS_HASH = checksum({ index: 0, timestamp: '', storage: new Map(), prevHash: '' }, 'v0.35')

/** A genesis block (Index 0, no data, the constant genesis hash). */
export function genesisBlock(now: Date = new Date()): Block {
  return { index: 0, timestamp: goTimeString(now), storage: new Map(), hash: GENESIS_HASH, prevHash: '' }
}

/** Copies storage: maps are copied, entries are shared (treat them as immutable). */
export function copyStorage(s: Storage): Storage {
  return new Map([...s.entries()].map(([b, kv]) => [b, new Map(kv)]))
}

export { legacyEntry } from './entry.js'
