import { checksum, copyStorage, genesisBlock, goTimeString, type Block, type Storage } from './block.js'
import { canonicalBytes, legacyEntry, verifyEntry, type Entry, type Signer } from './entry.js'
import { goCompare, goJsonStringify } from './json.js'
import { isLive, policyOf, type BucketPolicy } from './policy.js'

/**
 * `off`: unsigned entries, whole-block replacement (EdgeVPN ≤ v0.34, or
 * v0.35 with --ownership off). `observe`/`enforce`: signed entries and a
 * per-key merge; rejected entries are kept (observe) or dropped (enforce).
 */
export type OwnershipMode = 'off' | 'observe' | 'enforce'

export interface LedgerOptions {
  mode: OwnershipMode
  /** Signs our writes (observe/enforce); without it writes are legacy. */
  signer?: Signer & { signSync?(data: Uint8Array): Uint8Array }
  /** Ownership TTL in seconds: Go v0.35.4 uses 480, v0.35.0–3 use 120. */
  ttlSeconds?: number
  now?: () => Date
  log?: (level: 'debug' | 'warn', msg: string) => void
}

/**
 * A replica of the shared ledger that merges blocks from the network exactly
 * as EdgeVPN does for the chosen ownership mode, and produces new blocks for
 * local writes. Malformed input never throws out of `update`.
 */
export class Ledger {
  readonly mode: OwnershipMode
  private last: Block
  private readonly ttl: number
  private readonly now: () => Date
  private readonly signer?: LedgerOptions['signer']
  private readonly log: NonNullable<LedgerOptions['log']>

  constructor(opts: LedgerOptions) {
    this.mode = opts.mode
    this.signer = opts.mode === 'off' ? undefined : opts.signer
    this.ttl = opts.ttlSeconds ?? 480
    this.now = opts.now ?? (() => new Date())
    this.log = opts.log ?? (() => {})
    this.last = genesisBlock(this.now())
  }

  lastBlock(): Block {
    return this.last
  }

  get index(): number {
    return this.last.index
  }

  /** Merges a block from the network. Returns true when our ledger changed. */
  update(incoming: Block): boolean {
    try {
      if (this.mode === 'off') {
        if (incoming.index > this.last.index || (incoming.index === this.last.index && incoming.hash > this.last.hash)) {
          this.last = incoming
          return true
        }
        return false
      }
      return this.commit((cur) => this.merge(cur, incoming))
    } catch (err) {
      this.log('debug', `ignored a block: ${(err as Error).message}`)
      return false
    }
  }

  private merge(cur: Storage, incoming: Block): boolean {
    const health = this.liveValues(cur.get('healthcheck'))
    let changed = false
    for (const [bucket, kv] of incoming.storage) {
      const pol = policyOf(bucket)
      for (const [key, inc] of kv) {
        let b = cur.get(bucket)
        if (!b) cur.set(bucket, (b = new Map()))
        const ex = b.get(key)
        if (ex && sameEntry(ex, inc)) continue
        if (!pol.owned) {
          if (!ex || inc.version > ex.version) {
            b.set(key, inc)
            changed = true
          }
          continue
        }
        const reason = this.reject(bucket, key, inc, ex, pol, health)
        if (reason) {
          if (this.mode === 'observe') {
            this.log('warn', `ownership violation (observe, accepting): ${bucket}/${key} from ${inc.owner || '(unsigned)'}: ${reason}`)
          } else {
            this.log('warn', `ownership violation (rejected): ${bucket}/${key} from ${inc.owner || '(unsigned)'}: ${reason}`)
            continue
          }
        }
        b.set(key, inc)
        changed = true
      }
    }
    return changed
  }

  /** Why an incoming entry for an owned bucket is refused, or undefined to accept it. */
  private reject(bucket: string, key: string, inc: Entry, ex: Entry | undefined, pol: BucketPolicy, health: Map<string, string>): string | undefined {
    if (!verifyEntry(bucket, key, inc)) return 'invalid signature'
    if (inc.deleted) {
      if (!ex) return 'tombstone for unknown key'
      if (inc.owner !== ex.owner && !this.expired(key, ex, pol, health)) return 'tombstone by non-owner of a live entry'
      if (inc.version <= ex.version) return 'stale tombstone'
      return undefined
    }
    if (pol.ownerOf && pol.ownerOf(key, inc.value) !== inc.owner) return 'value owner does not match signer'
    if (!ex) return undefined
    if (ex.deleted) return inc.version <= ex.version ? 'stale re-claim over tombstone' : undefined
    if (inc.owner !== ex.owner && !this.expired(key, ex, pol, health)) return 'overwrite of a live entry owned by another peer'
    if (inc.version < ex.version) return 'rollback to an older version'
    if (inc.version === ex.version) {
      if (inc.owner > ex.owner || (inc.owner === ex.owner && Buffer.compare(Buffer.from(inc.sig ?? []), Buffer.from(ex.sig ?? [])) > 0)) return undefined
      return 'lost deterministic tie-break'
    }
    return undefined
  }

  private expired(key: string, ex: Entry, pol: BucketPolicy, health: Map<string, string>): boolean {
    if (pol.expiry === 'absolute') return Number(ex.updatedAt) * 1000 + this.ttl * 1000 < this.now().getTime()
    if (pol.expiry === 'liveness') {
      // An unsigned existing entry names its owner in its value (EdgeVPN v0.35.4).
      const owner = ex.owner !== '' ? ex.owner : (pol.ownerOf?.(key, ex.value) ?? '')
      return !isLive(health, owner, this.ttl, this.now())
    }
    return false
  }

  private liveValues(kv: Map<string, Entry> | undefined): Map<string, string> {
    const out = new Map<string, string>()
    for (const [k, e] of kv ?? []) if (!e.deleted) out.set(k, e.value)
    return out
  }

  /** A key's Data text (JSON text); undefined when missing or deleted. */
  getKey(bucket: string, key: string): string | undefined {
    const e = this.last.storage.get(bucket)?.get(key)
    return e && !e.deleted ? e.value : undefined
  }

  /** Live values by bucket and key; tombstones hidden, empty buckets left out. */
  currentData(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {}
    for (const [bucket, kv] of this.last.storage) {
      const live: Record<string, string> = {}
      let any = false
      for (const [key, e] of kv) {
        if (e.deleted) continue
        live[key] = e.value
        any = true
      }
      if (any) out[bucket] = live
    }
    return out
  }

  /** Entries of a bucket with their metadata (tombstones included). */
  entries(bucket: string): [string, Entry][] {
    return [...(this.last.storage.get(bucket) ?? new Map<string, Entry>()).entries()].sort(([a], [b]) => goCompare(a, b))
  }

  /** Stores any JSON-able value (Data text = Go json.Marshal of it). */
  put(bucket: string, key: string, value: unknown): boolean {
    return this.add(bucket, key, goJsonStringify(value))
  }

  /** Stores Data text as is. */
  add(bucket: string, key: string, dataText: string): boolean {
    return this.commit((cur) => {
      let b = cur.get(bucket)
      if (!b) cur.set(bucket, (b = new Map()))
      const prev = b.get(key)
      const next = this.makeEntry(bucket, key, dataText, prev)
      if (prev && sameEntry(prev, next)) return false
      b.set(key, next)
      return true
    })
  }

  delete(bucket: string, key: string): boolean {
    return this.commit((cur) => {
      const b = cur.get(bucket)
      const prev = b?.get(key)
      if (!b || !prev) return false
      if (this.signer) {
        if (prev.deleted) return false
        b.set(key, this.makeTombstone(bucket, key, prev))
        return true
      }
      b.delete(key)
      return true
    })
  }

  deleteBucket(bucket: string): boolean {
    return this.commit((cur) => {
      const b = cur.get(bucket)
      if (!b) return false
      if (this.signer) {
        let changed = false
        for (const [key, prev] of b) {
          if (!prev.deleted) {
            b.set(key, this.makeTombstone(bucket, key, prev))
            changed = true
          }
        }
        return changed
      }
      cur.delete(bucket)
      return true
    })
  }

  private makeEntry(bucket: string, key: string, value: string, prev: Entry | undefined): Entry {
    if (!this.signer) return legacyEntry(value)
    if (prev && prev.owner === this.signer.id && !prev.deleted && prev.value === value && prev.sig !== null) return prev
    return this.sign(bucket, key, { value, deleted: false }, prev)
  }

  private makeTombstone(bucket: string, key: string, prev: Entry): Entry {
    return this.sign(bucket, key, { value: '', deleted: true }, prev)
  }

  private sign(bucket: string, key: string, what: { value: string; deleted: boolean }, prev: Entry | undefined): Entry {
    const signer = this.signer!
    const now = this.now()
    const nowNanos = BigInt(now.getTime()) * 1_000_000n + BigInt(process.hrtime.bigint() % 1_000_000n)
    const version = (prev?.version ?? 0n) + 1n > nowNanos ? (prev?.version ?? 0n) + 1n : nowNanos
    const entry: Entry = { ...what, owner: signer.id, version, updatedAt: BigInt(Math.floor(now.getTime() / 1000)), sig: null }
    const bytes = canonicalBytes(bucket, key, entry)
    const sig = signer.signSync ? signer.signSync(bytes) : signer.sign(bytes)
    if (sig instanceof Promise) throw new Error('the ledger needs a synchronous signer')
    return { ...entry, sig }
  }

  /** Applies a change to a copy of the storage and installs a new block if it changed. */
  private commit(mutate: (cur: Storage) => boolean): boolean {
    const cur = copyStorage(this.last.storage)
    if (!mutate(cur)) return false
    const prev = this.last
    const next = { index: prev.index + 1, timestamp: goTimeString(this.now()), storage: cur, prevHash: prev.hash }
    this.last = { ...next, hash: checksum(next, this.signer ? 'v0.35' : 'v0.34') }
    return true
  }
}

function sameEntry(a: Entry, b: Entry): boolean {
  return (
    a.owner === b.owner &&
    a.version === b.version &&
    a.updatedAt === b.updatedAt &&
    a.deleted === b.deleted &&
    a.value === b.value &&
    Buffer.compare(Buffer.from(a.sig ?? []), Buffer.from(b.sig ?? [])) === 0 &&
    (a.sig === null) === (b.sig === null)
  )
}
