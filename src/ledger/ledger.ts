import { EventEmitter } from 'node:events'
import { checksum, copyStorage, genesisBlock, type Block, type ChecksumStyle, type Storage } from './block.js'
import { dateNanos, goTimeString } from './go-time.js'
import { compareSig, I64_MAX, I64_MIN, legacyEntry, sameEntry, signEntrySync, U64_MAX, verifyEntry, type Entry, type Signer } from './entry.js'
import { goCompare, goJsonStringify } from './json.js'
import { expiredAbsolute, HEALTHCHECK_BUCKET, isLive, policyOf, type BucketPolicy } from './policy.js'

/**
 * How the ledger merges blocks from the network and writes entries.
 *
 * - `off`: unsigned (legacy) writes; an incoming block replaces ours when its
 *   Index is higher, or equal with a higher Hash (EdgeVPN ≤ v0.34, and v0.35
 *   with ownership off).
 * - `observe`: signed writes; per-key merge; entries that break ownership
 *   rules are accepted with a warning.
 * - `enforce`: signed writes; per-key merge; such entries are dropped with a
 *   warning (EdgeVPN's default since v0.35).
 */
export type OwnershipMode = 'off' | 'observe' | 'enforce'

export type LedgerLogLevel = 'debug' | 'warn'

/** Where a change came from: our own write, or a block merged from the network. */
export type ChangeOrigin = 'local' | 'network'

export interface LedgerOptions {
  mode: OwnershipMode
  /**
   * Signs our writes in `observe`/`enforce` (ignored in `off`). Without one,
   * writes are legacy entries. Signing must be synchronous (libp2p Ed25519
   * keys are); `signSync` is preferred when present.
   */
  signer?: Signer & { signSync?(data: Uint8Array): Uint8Array }
  /** Ownership TTL in seconds: 480 as in EdgeVPN v0.35.4 (v0.35.0–3 use 120). */
  ttlSeconds?: number
  /** Clock for versions, expiry and block timestamps. */
  now?: () => Date
  log?: (level: LedgerLogLevel, msg: string) => void
  /** Called after every new last block (also emitted as the `change` event). */
  onChange?: (block: Block, origin: ChangeOrigin) => void
  /**
   * Asked before a new last block is installed: false refuses it (the ledger
   * stays as it was). Used to keep the ledger within what can be sent; it may
   * throw instead, which makes a local write throw.
   */
  admit?: (block: Block, origin: ChangeOrigin) => boolean
  /** Hash style of the blocks we build; default v0.34 in `off` (what ≤ v0.34 peers compute), else v0.35. */
  checksumStyle?: ChecksumStyle
}

export interface LedgerEvents {
  change: [block: Block, origin: ChangeOrigin]
}

/** One entry with its metadata, for verbose listings. Tombstones included (deleted: true). */
export interface LedgerEntryInfo {
  bucket: string
  key: string
  /** Data text ('' for tombstones). */
  value: string
  /** '' for legacy entries. */
  owner: string
  version: bigint
  /** Unix seconds. */
  updatedAt: bigint
  deleted: boolean
  /** Carries a signature (not necessarily a valid one). */
  signed: boolean
}

export const DEFAULT_OWNERSHIP_TTL_SECONDS = 480

/**
 * A replica of the shared ledger. Like EdgeVPN's MemoryStore it holds only the
 * last block. It merges blocks from the network exactly as EdgeVPN does for
 * the chosen ownership mode and builds new blocks for local writes; it never
 * sends anything itself (listen to `change` to broadcast).
 *
 * `update` never throws. Blocks and entries must be treated as immutable:
 * every change installs a new block with fresh storage maps.
 */
export class Ledger extends EventEmitter<LedgerEvents> {
  readonly mode: OwnershipMode
  readonly ttlSeconds: number
  private last: Block
  private readonly now: () => Date
  private readonly signer?: LedgerOptions['signer']
  private readonly log: NonNullable<LedgerOptions['log']>
  private readonly onChange?: LedgerOptions['onChange']
  private readonly admit?: LedgerOptions['admit']
  private readonly style: ChecksumStyle

  constructor(opts: LedgerOptions) {
    super()
    this.mode = opts.mode
    this.signer = opts.mode === 'off' ? undefined : opts.signer
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_OWNERSHIP_TTL_SECONDS
    this.now = opts.now ?? (() => new Date())
    this.log = opts.log ?? (() => {})
    this.onChange = opts.onChange
    this.admit = opts.admit
    this.style = opts.checksumStyle ?? (opts.mode === 'off' ? 'v0.34' : 'v0.35')
    this.last = genesisBlock(this.now())
  }

  /** Our peer id when we sign writes, else undefined (legacy writes). */
  get signerId(): string | undefined {
    return this.signer?.id
  }

  lastBlock(): Block {
    return this.last
  }

  /** The last block's Index (EdgeVPN's Ledger.Index()). */
  get index(): number {
    return this.last.index
  }

  // ---------------------------------------------------------------- reading

  /** A key's Data text (JSON text); undefined when missing or deleted. */
  getKey(bucket: string, key: string): string | undefined {
    const e = this.last.storage.get(bucket)?.get(key)
    return e && !e.deleted ? e.value : undefined
  }

  /** True when some live entry of the bucket satisfies `match` (EdgeVPN's Exists). */
  exists(bucket: string, match: (value: string) => boolean): boolean {
    for (const e of this.last.storage.get(bucket)?.values() ?? []) if (!e.deleted && match(e.value)) return true
    return false
  }

  /** Live values by bucket and key; tombstones hidden, buckets without live keys left out. */
  currentData(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {}
    for (const [bucket, kv] of this.last.storage) {
      const live: Record<string, string> = {}
      let any = false
      for (const [key, e] of kv) {
        if (e.deleted) continue
        setOwn(live, key, e.value)
        any = true
      }
      if (any) setOwn(out, bucket, live)
    }
    return out
  }

  /** Entries with owner/version/time, sorted by bucket then key; tombstones included. */
  entries(bucket?: string): LedgerEntryInfo[] {
    const out: LedgerEntryInfo[] = []
    const names = bucket === undefined ? [...this.last.storage.keys()].sort(goCompare) : [bucket]
    for (const b of names) {
      const kv = this.last.storage.get(b)
      if (!kv) continue
      for (const key of [...kv.keys()].sort(goCompare)) {
        const e = kv.get(key)!
        out.push({ bucket: b, key, value: e.value, owner: e.owner, version: e.version, updatedAt: e.updatedAt, deleted: e.deleted, signed: e.sig !== null })
      }
    }
    return out
  }

  /** EdgeVPN's IsOwnerLive: always true with ownership off, else the healthcheck liveness rule. */
  isOwnerLive(owner: string): boolean {
    if (this.mode === 'off') return true
    return isLive(this.liveValues(this.last.storage), owner, this.ttlSeconds, this.now())
  }

  // ---------------------------------------------------------------- merging

  /** Merges a block from the network. Returns true when our last block changed. Never throws. */
  update(incoming: Block): boolean {
    try {
      if (!isBlockShape(incoming)) {
        this.log('debug', 'ignored a block: not a block')
        return false
      }
      if (this.mode === 'off') return this.adopt(incoming)
      return this.commit('network', (cur) => this.merge(cur, incoming))
    } catch (err) {
      this.log('debug', `ignored a block: ${(err as Error)?.message ?? String(err)}`)
      return false
    }
  }

  /** Whole-block replacement: higher Index, or equal Index and higher Hash. */
  private adopt(incoming: Block): boolean {
    for (const [bucket, kv] of incoming.storage) {
      for (const [key, e] of kv) {
        if (!isEntryShape(e)) {
          this.log('debug', `ignored a block: malformed entry ${bucket}/${key}`)
          return false
        }
      }
    }
    const last = this.last
    if (!(incoming.index > last.index || (incoming.index === last.index && goCompare(incoming.hash, last.hash) > 0))) return false
    const next = { ...incoming, storage: copyStorage(incoming.storage) }
    if (this.admit && !this.admit(next, 'network')) return false
    this.last = next
    this.changed('network')
    return true
  }

  /** The per-key merge of `observe`/`enforce`. Keys missing from `incoming` are never removed. */
  private merge(cur: Storage, incoming: Block): boolean {
    const health = this.liveValues(cur)
    const now = this.now()
    let changed = false
    for (const [bucket, kv] of incoming.storage) {
      const pol = policyOf(bucket)
      for (const [key, inc] of kv) {
        if (!isEntryShape(inc)) {
          this.log('debug', `ignored a malformed entry ${bucket}/${key}`)
          continue
        }
        let b = cur.get(bucket)
        if (!b) cur.set(bucket, (b = new Map<string, Entry>()))
        const ex = b.get(key)
        // Idle networks re-send the same block every few seconds: skip silently.
        if (ex && sameEntry(ex, inc)) continue
        if (!pol.owned) {
          // Open bucket: nothing is verified; a strictly higher Version wins.
          if (!ex || inc.version > ex.version) {
            b.set(key, inc)
            changed = true
          }
          continue
        }
        const reason = this.reject(bucket, key, inc, ex, pol, health, now)
        if (reason !== undefined) {
          const who = inc.owner || '(unsigned)'
          if (this.mode === 'observe') {
            this.log('warn', `ownership violation (observe, accepting): ${bucket}/${key} from ${who}: ${reason}`)
          } else {
            this.log('warn', `ownership violation (rejected): ${bucket}/${key} from ${who}: ${reason}`)
            continue
          }
        }
        b.set(key, inc)
        changed = true
      }
    }
    return changed
  }

  /** Why an incoming entry for an owned bucket is refused; undefined to accept it. */
  private reject(bucket: string, key: string, inc: Entry, ex: Entry | undefined, pol: Readonly<BucketPolicy>, health: Map<string, string>, now: Date): string | undefined {
    if (!verifyEntry(bucket, key, inc)) return 'invalid signature'
    if (inc.deleted) {
      if (!ex) return 'tombstone for unknown key'
      if (inc.owner !== ex.owner && !this.expired(key, ex, pol, health, now)) return 'tombstone by non-owner of a live entry'
      if (inc.version <= ex.version) return 'stale tombstone'
      return undefined
    }
    if (pol.ownerOf && pol.ownerOf(key, inc.value) !== inc.owner) return 'value owner does not match signer'
    if (!ex) return undefined // first claim
    // A tombstone is a free slot: anyone may re-claim it with a higher version.
    if (ex.deleted) return inc.version <= ex.version ? 'stale re-claim over tombstone' : undefined
    if (inc.owner !== ex.owner && !this.expired(key, ex, pol, health, now)) return 'overwrite of a live entry owned by another peer'
    if (inc.version < ex.version) return 'rollback to an older version'
    if (inc.version === ex.version) {
      const byOwner = goCompare(inc.owner, ex.owner)
      if (byOwner > 0 || (byOwner === 0 && compareSig(inc.sig, ex.sig) > 0)) return undefined
      return 'lost deterministic tie-break'
    }
    return undefined
  }

  /** Whether the existing entry's claim has lapsed, so another peer may take it over. */
  private expired(key: string, ex: Entry, pol: Readonly<BucketPolicy>, health: Map<string, string>, now: Date): boolean {
    switch (pol.expiry) {
      case 'absolute':
        return expiredAbsolute(ex.updatedAt, this.ttlSeconds, now)
      case 'liveness': {
        // An unsigned existing entry names its owner in its value.
        const owner = ex.owner === '' && pol.ownerOf ? pol.ownerOf(key, ex.value) : ex.owner
        return !isLive(health, owner, this.ttlSeconds, now)
      }
      default:
        return false
    }
  }

  /** The live healthcheck values of a storage. */
  private liveValues(s: Storage): Map<string, string> {
    const out = new Map<string, string>()
    for (const [k, e] of s.get(HEALTHCHECK_BUCKET) ?? []) if (!e.deleted) out.set(k, e.value)
    return out
  }

  // ---------------------------------------------------------------- writing

  /** Stores any JSON-able value; the Data text is Go's json.Marshal of it (see goJsonStringify). */
  put(bucket: string, key: string, value: unknown): boolean {
    return this.add(bucket, key, goJsonStringify(value))
  }

  /** Stores Data text (JSON text) as is. Returns true when a new block was made. */
  add(bucket: string, key: string, dataText: string): boolean {
    return this.addAll(bucket, new Map([[key, dataText]]))
  }

  /** Stores several keys of one bucket in one block, as EdgeVPN's Add does. */
  addAll(bucket: string, values: ReadonlyMap<string, string> | Readonly<Record<string, string>>): boolean {
    const list = values instanceof Map ? [...(values as ReadonlyMap<string, string>).entries()] : Object.entries(values as Readonly<Record<string, string>>)
    return this.commit('local', (cur) => {
      const now = this.now()
      let b = cur.get(bucket)
      if (!b) cur.set(bucket, (b = new Map<string, Entry>()))
      let changed = false
      for (const [key, dataText] of list) {
        const prev = b.get(key)
        const next = this.makeEntry(bucket, key, dataText, prev, now)
        if (!prev || !sameEntry(prev, next)) {
          b.set(key, next)
          changed = true
        }
      }
      return changed
    })
  }

  /** Deletes a key: a signed tombstone when signing, else the key is removed. */
  delete(bucket: string, key: string): boolean {
    return this.commit('local', (cur) => {
      const b = cur.get(bucket)
      const prev = b?.get(key)
      if (!b || !prev) return false
      if (this.signer) {
        if (prev.deleted) return false
        b.set(key, this.makeTombstone(bucket, key, prev, this.now()))
        return true
      }
      b.delete(key)
      return true
    })
  }

  /** Deletes a bucket: tombstones for every live key when signing, else the bucket is removed. */
  deleteBucket(bucket: string): boolean {
    return this.commit('local', (cur) => {
      const b = cur.get(bucket)
      if (!b) return false
      if (this.signer) {
        const now = this.now()
        let changed = false
        for (const key of [...b.keys()].sort(goCompare)) {
          const prev = b.get(key)!
          if (prev.deleted) continue
          b.set(key, this.makeTombstone(bucket, key, prev, now))
          changed = true
        }
        return changed
      }
      cur.delete(bucket)
      return true
    })
  }

  private makeEntry(bucket: string, key: string, value: string, prev: Entry | undefined, now: Date): Entry {
    if (!this.signer) return legacyEntry(value)
    // Re-announcing an unchanged value of ours keeps the entry (and the block) as is.
    if (prev && prev.owner === this.signer.id && !prev.deleted && prev.value === value && prev.sig !== null) return prev
    return this.sign(bucket, key, { value, deleted: false }, prev, now)
  }

  private makeTombstone(bucket: string, key: string, prev: Entry, now: Date): Entry {
    return this.sign(bucket, key, { value: '', deleted: true }, prev, now)
  }

  private sign(bucket: string, key: string, what: { value: string; deleted: boolean }, prev: Entry | undefined, now: Date): Entry {
    const signer = this.signer!
    const unsigned = { ...what, version: versionAfter(prev?.version ?? 0n, now), updatedAt: BigInt(Math.floor(now.getTime() / 1000)) }
    if (signer.signSync) {
      const sync = signer.signSync.bind(signer)
      return signEntrySync({ id: signer.id, sign: sync }, bucket, key, unsigned)
    }
    return signEntrySync(signer, bucket, key, unsigned)
  }

  /** Applies a change to a copy of the storage and installs a new block when it changed. */
  private commit(origin: ChangeOrigin, mutate: (cur: Storage) => boolean): boolean {
    const cur = copyStorage(this.last.storage)
    if (!mutate(cur)) return false
    const prev = this.last
    const next = { index: prev.index + 1, timestamp: goTimeString(this.now()), storage: cur, prevHash: prev.hash }
    const block = { ...next, hash: checksum(next, this.style) }
    if (this.admit && !this.admit(block, origin)) return false
    this.last = block
    this.changed(origin)
    return true
  }

  private changed(origin: ChangeOrigin): void {
    const block = this.last
    // A listener's failure must not undo or interrupt the change.
    try {
      this.onChange?.(block, origin)
    } catch (err) {
      this.log('warn', `change callback failed: ${(err as Error)?.message ?? String(err)}`)
    }
    try {
      this.emit('change', block, origin)
    } catch (err) {
      this.log('warn', `change listener failed: ${(err as Error)?.message ?? String(err)}`)
    }
  }
}

/**
 * The next version of a key: one more than the previous (uint64, wrapping like
 * Go) but at least the current UnixNano, so a writer whose ledger restarted
 * from scratch still out-versions what the network remembers.
 */
export function versionAfter(prev: bigint, now: Date): bigint {
  const v = BigInt.asUintN(64, prev + 1n)
  const n = BigInt.asUintN(64, dateNanos(now))
  return n > v ? n : v
}

function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

function isBlockShape(b: unknown): b is Block {
  if (typeof b !== 'object' || b === null) return false
  const x = b as Partial<Block>
  if (typeof x.index !== 'number' || !Number.isFinite(x.index) || typeof x.hash !== 'string' || typeof x.prevHash !== 'string' || typeof x.timestamp !== 'string') return false
  if (!(x.storage instanceof Map)) return false
  for (const kv of x.storage.values()) if (!(kv instanceof Map)) return false
  return true
}

function isEntryShape(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null) return false
  const x = e as Partial<Entry>
  return (
    typeof x.value === 'string' &&
    typeof x.owner === 'string' &&
    typeof x.version === 'bigint' &&
    x.version >= 0n &&
    x.version <= U64_MAX &&
    typeof x.updatedAt === 'bigint' &&
    x.updatedAt >= I64_MIN &&
    x.updatedAt <= I64_MAX &&
    typeof x.deleted === 'boolean' &&
    (x.sig === null || x.sig instanceof Uint8Array)
  )
}
