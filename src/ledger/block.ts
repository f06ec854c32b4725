import { createHash } from 'node:crypto'
import { decodeEntry, encodeEntry, isLegacy, legacyEntry, type Entry } from './entry.js'
import { goCompare, goJsonString, parseJson, JsonError, type JsonValue } from './json.js'

export type Storage = Map<string, Map<string, Entry>>

/** A ledger block. A node keeps only its last block. */
export interface Block {
  index: number
  /** Opaque text (Go's time.Time.String()). */
  timestamp: string
  storage: Storage
  hash: string
  prevHash: string
}

export class BlockError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BlockError'
  }
}

/** Parses a block's JSON; entries in either encoding; Storage may be null. */
export function decodeBlock(text: string): Block {
  let v: JsonValue
  try {
    v = parseJson(text)
  } catch (err) {
    throw new BlockError(`block is not JSON: ${(err as JsonError).message}`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BlockError('block is not a JSON object')
  const f: Record<string, JsonValue> = {}
  for (const [k, x] of Object.entries(v)) f[k.toLowerCase()] = x
  const index = f.index ?? 0
  if (typeof index !== 'number' || !Number.isInteger(index)) throw new BlockError('Index is not an integer')
  const str = (k: string): string => {
    const x = f[k]
    if (x === undefined || x === null) return ''
    if (typeof x !== 'string') throw new BlockError(`${k} is not a string`)
    return x
  }
  const storage: Storage = new Map()
  const raw = f.storage
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new BlockError('Storage is not an object')
    for (const [bucket, kv] of Object.entries(raw)) {
      const entries = new Map<string, Entry>()
      if (kv !== null) {
        if (typeof kv !== 'object' || Array.isArray(kv)) throw new BlockError(`bucket ${bucket} is not an object`)
        for (const [key, wire] of Object.entries(kv)) entries.set(key, decodeEntry(wire))
      }
      storage.set(bucket, entries)
    }
  }
  return { index, timestamp: str('timestamp'), storage, hash: str('hash'), prevHash: str('prevhash') }
}

const sorted = <T>(m: Map<string, T>): [string, T][] => [...m.entries()].sort(([a], [b]) => goCompare(a, b))

/**
 * The block as Go marshals it: struct field order, sorted map keys. With
 * `legacy`, every entry is written as a bare string (v0.34 nodes reject a
 * whole block that holds one signed object): signed entries lose their
 * signature, and tombstones are left out, which is how unsigned networks delete.
 */
export function encodeBlock(block: Block, opts: { legacy: boolean }): string {
  const buckets = sorted(block.storage).map(([bucket, kv]) => {
    const entries = sorted(kv)
      .filter(([, e]) => !(opts.legacy && e.deleted))
      .map(([key, e]) => `${goJsonString(key)}:${opts.legacy && !isLegacy(e) ? goJsonString(e.value) : encodeEntry(e)}`)
    return `${goJsonString(bucket)}:{${entries.join(',')}}`
  })
  return `{"Index":${block.index},"Timestamp":${goJsonString(block.timestamp)},"Storage":{${buckets.join(',')}},"Hash":${goJsonString(block.hash)},"PrevHash":${goJsonString(block.prevHash)}}`
}

/** Go's fmt printing of one entry inside the checksum record. */
function fmtEntry(e: Entry, style: 'v0.34' | 'v0.35'): string {
  if (style === 'v0.34') return e.value
  const sig = e.sig === null ? '[]' : `[${[...e.sig].join(' ')}]`
  return `{${e.value} ${e.owner} ${e.version} ${e.updatedAt} ${e.deleted} ${sig}}`
}

/**
 * EdgeVPN's block hash: SHA-256 hex of fmt.Sprint(Index, Timestamp, Storage,
 * PrevHash). v0.34 printed values as plain strings, v0.35 prints the entry
 * struct, so the same content hashes differently. Receivers never check it;
 * it only breaks ties between equal indexes on unsigned networks.
 */
export function checksum(block: Pick<Block, 'index' | 'timestamp' | 'storage' | 'prevHash'>, style: 'v0.34' | 'v0.35' = 'v0.35'): string {
  const storage = `map[${sorted(block.storage).map(([b, kv]) => `${b}:map[${sorted(kv).map(([k, e]) => `${k}:${fmtEntry(e, style)}`).join(' ')}]`).join(' ')}]`
  return createHash('sha256').update(`${block.index}${block.timestamp}${storage}${block.prevHash}`, 'utf8').digest('hex')
}

/** The genesis block every EdgeVPN ledger starts from (its hash is that of an empty block). */
export function genesisBlock(now: Date = new Date()): Block {
  const hash = checksum({ index: 0, timestamp: '', storage: new Map(), prevHash: '' })
  return { index: 0, timestamp: goTimeString(now), storage: new Map(), hash, prevHash: '' }
}

/** Go's time.Time.String() for a UTC time: `2026-08-06 07:06:40.123456789 +0000 UTC`, fraction trimmed. */
export function goTimeString(d: Date, extraNanos = 0): string {
  const iso = d.toISOString() // 2026-08-06T07:06:40.123Z
  const nanos = String(d.getUTCMilliseconds() * 1_000_000 + extraNanos).padStart(9, '0').replace(/0+$/, '')
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${nanos ? '.' + nanos : ''} +0000 UTC`
}

/** Copies storage (maps are copied, entries are immutable values). */
export function copyStorage(s: Storage): Storage {
  return new Map([...s.entries()].map(([b, kv]) => [b, new Map(kv)]))
}

export { legacyEntry }
