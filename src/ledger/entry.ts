import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { goFields, goJsonString, isJsonObject, parseJson, type JsonValue } from './json.js'

/**
 * One ledger value. `value` is the Data text: the JSON text of what was
 * stored (a string value "x" is the 3 characters `"x"`). Legacy entries
 * (EdgeVPN ≤ v0.34, or v0.35 with ownership off) carry only the value; signed
 * entries (v0.35 ownership) add owner, version, time, tombstone flag and an
 * Ed25519 signature over canonicalBytes().
 */
export interface Entry {
  value: string
  /** Base58 peer id of the author; '' for legacy entries. */
  owner: string
  /** uint64; UnixNano of the write in practice. */
  version: bigint
  /** int64 unix seconds. */
  updatedAt: bigint
  /** Signed tombstone. */
  deleted: boolean
  /** null is Go's nil slice; an empty array is a present but empty signature. */
  sig: Uint8Array | null
}

/** Signs ledger entries as a libp2p peer. */
export interface Signer {
  /** Base58 peer id; it becomes the entries' Owner. */
  readonly id: string
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>
}

export class EntryError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EntryError'
  }
}

export const U64_MAX = (1n << 64n) - 1n
export const I64_MIN = -(1n << 63n)
export const I64_MAX = (1n << 63n) - 1n

export function legacyEntry(value: string): Entry {
  return { value, owner: '', version: 0n, updatedAt: 0n, deleted: false, sig: null }
}

/** Go writes an entry as a bare JSON string exactly when nothing but the value (and UpdatedAt) is set. */
export function isLegacy(e: Entry): boolean {
  return e.owner === '' && e.sig === null && !e.deleted && e.version === 0n
}

/** Byte-identical entries (all six fields equal): re-broadcasts of these are skipped. */
export function sameEntry(a: Entry, b: Entry): boolean {
  return a.owner === b.owner && a.version === b.version && a.updatedAt === b.updatedAt && a.deleted === b.deleted && a.value === b.value && bytesEqual(a.sig, b.sig)
}

/** Go's bytes.Equal: a nil and an empty signature are equal. */
function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? new Uint8Array(0)
  const y = b ?? new Uint8Array(0)
  return x.length === y.length && Buffer.compare(x, y) === 0
}

/** Go's string(a) > string(b) on signatures (nil = empty). */
export function compareSig(a: Uint8Array | null, b: Uint8Array | null): number {
  return Buffer.compare(a ?? new Uint8Array(0), b ?? new Uint8Array(0))
}

/** A JSON integer as Go decodes it into a sized integer field. */
function integerField(v: JsonValue, what: string, min: bigint, max: bigint, strict: boolean): bigint | undefined {
  if (v === null) return undefined // null leaves a Go field untouched
  let n: bigint
  if (typeof v === 'bigint') n = v
  else if (!strict && typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v)
  else throw new EntryError(`${what} is not an integer`)
  if (n < min || n > max) throw new EntryError(`${what} is out of range`)
  return n
}

/**
 * Go's []byte from JSON: standard base64 with padding ("\r" and "\n" are
 * skipped, non-zero trailing bits allowed), or an array of byte values.
 */
function bytesField(v: JsonValue, strict: boolean): Uint8Array | null | undefined {
  if (v === null) return undefined
  if (typeof v === 'string') {
    const s = v.replace(/[\r\n]/g, '')
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) throw new EntryError('Sig is not base64')
    return new Uint8Array(Buffer.from(s, 'base64'))
  }
  if (Array.isArray(v)) {
    return Uint8Array.from(v, (b) => {
      if (b === null) return 0
      const n = typeof b === 'bigint' ? (b >= 0n && b <= 255n ? Number(b) : -1) : strict ? -1 : b
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 255) throw new EntryError('Sig holds a non-byte')
      return n
    })
  }
  throw new EntryError('Sig is neither base64 nor a byte array')
}

/**
 * Decodes an entry from its parsed wire form, as Go's SignedData.UnmarshalJSON:
 * a JSON string (or null) is a legacy value; an object is a signed entry whose
 * field names match case-insensitively and whose unknown fields are ignored.
 * Throws EntryError where Go returns an error (which drops the whole block).
 * Integer fields accept bigints and integral numbers, unless `strictIntegers`:
 * then only bigints, which with parseJson's `allIntegersAsBigInt` refuses
 * literals such as `1.0` or `1e3` exactly as Go does.
 */
export function decodeEntry(wire: JsonValue, opts: { strictIntegers?: boolean } = {}): Entry {
  const strict = opts.strictIntegers === true
  if (wire === null) return legacyEntry('')
  if (typeof wire === 'string') return legacyEntry(wire)
  if (!isJsonObject(wire)) throw new EntryError('entry is neither a string nor an object')
  const e = legacyEntry('')
  for (const [k, v] of goFields(wire)) {
    switch (k) {
      case 'value':
      case 'owner':
        if (v === null) break
        if (typeof v !== 'string') throw new EntryError(`${k} is not a string`)
        e[k] = v
        break
      case 'version':
        e.version = integerField(v, 'Version', 0n, U64_MAX, strict) ?? e.version
        break
      case 'updatedat':
        e.updatedAt = integerField(v, 'UpdatedAt', I64_MIN, I64_MAX, strict) ?? e.updatedAt
        break
      case 'deleted':
        if (v === null) break
        if (typeof v !== 'boolean') throw new EntryError('Deleted is not a boolean')
        e.deleted = v
        break
      case 'sig': {
        const sig = bytesField(v, strict)
        if (sig !== undefined) e.sig = sig
        break
      }
    }
  }
  return e
}

/** decodeEntry() from JSON text, with Go's exact integer rules (`1.0` is not an integer). */
export function decodeEntryJson(text: string): Entry {
  return decodeEntry(parseJson(text, { allIntegersAsBigInt: true }), { strictIntegers: true })
}

/** The entry's wire JSON, byte for byte as Go's SignedData.MarshalJSON. */
export function encodeEntry(e: Entry): string {
  if (isLegacy(e)) return goJsonString(e.value)
  const sig = e.sig === null ? 'null' : `"${Buffer.from(e.sig).toString('base64')}"`
  return `{"Value":${goJsonString(e.value)},"Owner":${goJsonString(e.owner)},"Version":${e.version},"UpdatedAt":${e.updatedAt},"Deleted":${e.deleted},"Sig":${sig}}`
}

function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt.asUintN(64, n))
  return b
}

function field(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8')
  return Buffer.concat([u64(BigInt(bytes.length)), bytes])
}

/**
 * The bytes an entry's signature covers: u64 length + bytes of bucket, key and
 * owner; u64 version; u64 of UpdatedAt (two's complement); one byte 1/0 for
 * Deleted; u64 length + bytes of the value. Big-endian, no prefix.
 */
export function canonicalBytes(bucket: string, key: string, e: Pick<Entry, 'owner' | 'version' | 'updatedAt' | 'deleted' | 'value'>): Uint8Array {
  const b = Buffer.concat([field(bucket), field(key), field(e.owner), u64(e.version), u64(e.updatedAt), Buffer.from([e.deleted ? 1 : 0]), field(e.value)])
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** What signEntry needs: everything but the owner (the signer's id) and the signature. */
export type UnsignedEntry = Omit<Entry, 'owner' | 'sig'>

/** Signs an entry as `signer` (Owner = signer.id). Works with synchronous and asynchronous signers. */
export async function signEntry(signer: Signer, bucket: string, key: string, entry: UnsignedEntry): Promise<Entry> {
  const unsigned: Entry = { ...entry, owner: signer.id, sig: null }
  const sig = await signer.sign(canonicalBytes(bucket, key, unsigned))
  return { ...unsigned, sig: new Uint8Array(sig) }
}

/** signEntry() for a signer that signs synchronously (libp2p Ed25519 keys do); throws otherwise. */
export function signEntrySync(signer: Signer, bucket: string, key: string, entry: UnsignedEntry): Entry {
  const unsigned: Entry = { ...entry, owner: signer.id, sig: null }
  const sig = signer.sign(canonicalBytes(bucket, key, unsigned))
  if (sig instanceof Promise) {
    sig.catch(() => {})
    throw new EntryError('this signer signs asynchronously; the ledger needs a synchronous signer')
  }
  return { ...unsigned, sig: new Uint8Array(sig) }
}

/**
 * True when the entry carries a valid signature by its Owner: the public key
 * is the one embedded in the Owner peer id (Ed25519 ids, `12D3KooW…`). Ids
 * without an embedded key, unparsable owners and missing signatures fail.
 * Key types whose verification is asynchronous in js-libp2p are treated as
 * unverifiable (EdgeVPN hosts use Ed25519).
 */
export function verifyEntry(bucket: string, key: string, e: Entry): boolean {
  if (e.sig === null || e.sig.length === 0 || e.owner === '') return false
  try {
    const pub = peerIdFromString(e.owner).publicKey
    if (!pub) return false
    const ok = pub.verify(canonicalBytes(bucket, key, e), e.sig)
    if (ok instanceof Promise) {
      ok.catch(() => {})
      return false
    }
    return ok === true
  } catch {
    return false
  }
}

/** A signer backed by a libp2p private key (the peer's host identity). Ed25519 keys sign synchronously. */
export function signerFromPrivateKey(key: PrivateKey): Signer & { signSync(data: Uint8Array): Uint8Array } {
  const id = peerIdFromPrivateKey(key).toString()
  const signSync = (data: Uint8Array): Uint8Array => {
    const sig = key.sign(data)
    if (sig instanceof Promise) {
      sig.catch(() => {})
      throw new EntryError(`${key.type} keys sign asynchronously; use an Ed25519 key`)
    }
    return sig
  }
  return { id, sign: (data) => key.sign(data), signSync }
}
