import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { goJsonString, type JsonValue } from './json.js'

/**
 * One ledger value. `value` is the Data text: the JSON text of what was
 * stored. Legacy (v0.34, or ownership off) entries carry only the value;
 * signed entries (v0.35 ownership) add owner, version, time and signature.
 */
export interface Entry {
  value: string
  owner: string
  version: bigint
  /** Unix seconds. */
  updatedAt: bigint
  deleted: boolean
  sig: Uint8Array | null
}

/** Signs ledger entries as a libp2p peer. */
export interface Signer {
  /** Base58 peer id, the entries' Owner. */
  readonly id: string
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>
}

export function legacyEntry(value: string): Entry {
  return { value, owner: '', version: 0n, updatedAt: 0n, deleted: false, sig: null }
}

/** Go emits a bare JSON string exactly when nothing but the value is set. */
export function isLegacy(e: Entry): boolean {
  return e.owner === '' && e.sig === null && !e.deleted && e.version === 0n
}

export class EntryError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EntryError'
  }
}

const U64 = (1n << 64n) - 1n

function toBig(v: JsonValue | undefined, what: string, signed: boolean): bigint {
  if (v === undefined || v === null) return 0n
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  throw new EntryError(`${what} is not an integer`)
}

/** Decodes an entry from its parsed wire form (a JSON string, or a signed object). */
export function decodeEntry(wire: JsonValue): Entry {
  if (typeof wire === 'string') return legacyEntry(wire)
  if (typeof wire !== 'object' || wire === null || Array.isArray(wire)) throw new EntryError('entry is neither a string nor an object')
  // Go matches field names case-insensitively and ignores unknown ones.
  const f: Record<string, JsonValue> = {}
  for (const [k, v] of Object.entries(wire)) f[k.toLowerCase()] = v
  const str = (k: string): string => {
    const v = f[k]
    if (v === undefined || v === null) return ''
    if (typeof v !== 'string') throw new EntryError(`${k} is not a string`)
    return v
  }
  const version = toBig(f.version, 'Version', false)
  if (version < 0n || version > U64) throw new EntryError('Version is out of range')
  const updatedAt = toBig(f.updatedat, 'UpdatedAt', true)
  const deleted = f.deleted ?? false
  if (typeof deleted !== 'boolean') throw new EntryError('Deleted is not a boolean')
  const sigText = f.sig
  let sig: Uint8Array | null = null
  if (sigText !== undefined && sigText !== null) {
    if (typeof sigText !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(sigText)) throw new EntryError('Sig is not base64')
    sig = new Uint8Array(Buffer.from(sigText, 'base64'))
  }
  return { value: str('value'), owner: str('owner'), version, updatedAt, deleted, sig }
}

/** The entry's wire JSON, byte-compatible with Go's MarshalJSON. */
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

function lenPrefixed(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8')
  return Buffer.concat([u64(BigInt(bytes.length)), bytes])
}

/** The bytes EdgeVPN signs: length-prefixed bucket, key, owner; version; time; deleted flag; value. */
export function canonicalBytes(bucket: string, key: string, e: Entry): Uint8Array {
  return Buffer.concat([
    lenPrefixed(bucket),
    lenPrefixed(key),
    lenPrefixed(e.owner),
    u64(e.version),
    u64(e.updatedAt),
    Buffer.from([e.deleted ? 1 : 0]),
    lenPrefixed(e.deleted ? '' : e.value),
  ])
}

export async function signEntry(signer: Signer, bucket: string, key: string, e: Omit<Entry, 'sig' | 'owner'>): Promise<Entry> {
  const unsigned: Entry = { ...e, owner: signer.id, sig: null }
  return { ...unsigned, sig: await signer.sign(canonicalBytes(bucket, key, unsigned)) }
}

/** True when the entry carries a valid Ed25519 signature by its Owner. */
export function verifyEntry(bucket: string, key: string, e: Entry): boolean {
  if (!e.sig || e.owner === '') return false
  try {
    const pub = peerIdFromString(e.owner).publicKey
    if (!pub) return false
    return pub.verify(canonicalBytes(bucket, key, e), e.sig) === true
  } catch {
    return false
  }
}

/** A signer backed by the peer's libp2p private key. */
export function signerFromPrivateKey(key: PrivateKey): Signer & { signSync(data: Uint8Array): Uint8Array } {
  const id = peerIdFromPrivateKey(key).toString()
  const signSync = (data: Uint8Array): Uint8Array => {
    const sig = key.sign(data)
    if (sig instanceof Promise) throw new Error('asynchronous signing is not supported')
    return sig
  }
  return { id, sign: signSync, signSync }
}
