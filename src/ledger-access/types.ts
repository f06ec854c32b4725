/**
 * How commands reach a ledger: either by joining the network with the token
 * (a lightweight peer) or through a running EdgeVPN-compatible API. Both give
 * the same view, so every ledger command works the same way over either.
 */

/** bucket → key → Data text (the JSON text stored for the key); tombstones hidden. */
export type LedgerData = Record<string, Record<string, string>>

/** Ownership metadata of a signed entry (undefined fields for legacy entries). */
export interface EntryInfo {
  bucket: string
  key: string
  /** Data text. */
  value: string
  owner?: string
  version?: bigint
  updatedAt?: Date
  signed: boolean
}

export interface WriteOptions {
  /** Wait until another peer is seen holding the change (token access only). */
  confirm?: boolean
  timeoutMs?: number
}

export interface LedgerAccess {
  /** "network (3 peers)" or "API http://127.0.0.1:8080", for messages. */
  describe(): string
  /** The current ledger contents. */
  data(): Promise<LedgerData>
  /** One key's Data text, or undefined when missing. */
  get(bucket: string, key: string): Promise<string | undefined>
  /** Entries with ownership metadata, when the source can tell (token access). */
  entries?(bucket?: string): Promise<EntryInfo[]>
  /**
   * Stores a string value the way EdgeVPN's API does (the ledger holds it as a
   * JSON string, i.e. Data text = Go json.Marshal(value)).
   */
  put(bucket: string, key: string, value: string, opts?: WriteOptions): Promise<void>
  /** Deletes a key, or the whole bucket when key is undefined. */
  delete(bucket: string, key?: string, opts?: WriteOptions): Promise<void>
  /** Resolves with fresh data whenever the ledger changes (or on a poll), until the signal aborts. */
  watch(onChange: (data: LedgerData) => void, signal: AbortSignal): Promise<void>
  close(): Promise<void>
}
