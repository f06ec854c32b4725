import { UserError } from '../errors.js'
import type { Block } from '../ledger/block.js'
import type { Entry } from '../ledger/entry.js'
import { goJsonStringify } from '../ledger/json.js'
import { waitSynced, type JoinOptions } from '../peer/join.js'
import { EdgePeer } from '../peer/peer.js'
import { setLongTimeout } from '../timers.js'
import type { EntryInfo, LedgerAccess, LedgerData, WriteOptions } from './types.js'

/** Joins the network and waits until the ledger is synced (see waitSynced()), then reads and writes it as a member. */
export async function joinNetwork(opts: JoinOptions): Promise<PeerLedgerAccess> {
  const peer = await EdgePeer.start(opts)
  try {
    await waitSynced(peer, opts)
  } catch (err) {
    await peer.stop().catch(() => {})
    throw err
  }
  return new PeerLedgerAccess(peer)
}

/** How long a `--no-wait` write on a legacy ledger is still re-applied until a peer holds it. */
const LEGACY_NO_WAIT_MS = 6000
/** How long a confirmed write on a legacy ledger waits for the other topic peers once one holds it. */
const LEGACY_SETTLE_MS = 10_000

/** Ledger access as a member of the network. */
export class PeerLedgerAccess implements LedgerAccess {
  constructor(readonly peer: EdgePeer) {}

  describe(): string {
    return `network (${this.peer.report().connectedPeers} peers)`
  }

  async data(): Promise<LedgerData> {
    return this.peer.ledger.currentData()
  }

  async get(bucket: string, key: string): Promise<string | undefined> {
    return this.peer.ledger.getKey(bucket, key)
  }

  async entries(bucket?: string): Promise<EntryInfo[]> {
    const out: EntryInfo[] = []
    const storage = this.peer.ledger.lastBlock().storage
    const names = bucket === undefined ? [...storage.keys()].sort() : [bucket]
    for (const b of names) {
      const entries = storage.get(b)
      if (!entries) continue
      for (const k of [...entries.keys()].sort()) {
        const e = entries.get(k)!
        if (e.deleted) continue
        const signed = e.sig !== null
        out.push({
          bucket: b,
          key: k,
          value: e.value,
          signed,
          owner: signed ? e.owner : undefined,
          version: signed ? e.version : undefined,
          updatedAt: signed ? new Date(Number(e.updatedAt) * 1000) : undefined,
        })
      }
    }
    return out
  }

  async put(bucket: string, key: string, value: string, opts: WriteOptions = {}): Promise<void> {
    const text = goJsonStringify(value)
    const mine = (): Entry | undefined => this.peer.ledger.lastBlock().storage.get(bucket)?.get(key)
    this.peer.ledger.put(bucket, key, value)
    // What we wrote, not what our replica holds now: a newer block that replaced our write is
    // merged (or adopted) before it is checked, and must not count as a confirmation.
    let written = mine()
    await this.publishAndConfirm(opts, `${bucket}/${key}`, {
      reapply: () => {
        if (this.peer.ledger.getKey(bucket, key) === text) return
        this.peer.ledger.put(bucket, key, value)
        written = mine()
      },
      seen: (block) => {
        const theirs = block.storage.get(bucket)?.get(key)
        if (!written || !theirs || theirs.deleted || theirs.value !== text) return false
        return this.peer.effectiveMode === 'off' || (theirs.owner === written.owner && theirs.version >= written.version)
      },
    })
  }

  async delete(bucket: string, key?: string, opts: WriteOptions = {}): Promise<void> {
    const keys = key === undefined ? Object.keys(this.peer.ledger.currentData()[bucket] ?? {}) : [key]
    if (key === undefined) this.peer.ledger.deleteBucket(bucket)
    else this.peer.ledger.delete(bucket, key)
    await this.publishAndConfirm(opts, key === undefined ? bucket : `${bucket}/${key}`, {
      reapply: () => {
        for (const k of keys) if (this.peer.ledger.getKey(bucket, k) !== undefined) this.peer.ledger.delete(bucket, k)
      },
      seen: (block) =>
        keys.every((k) => {
          const theirs = block.storage.get(bucket)?.get(k)
          return theirs === undefined || theirs.deleted
        }),
    })
  }

  /**
   * Publishes the ledger and, unless told not to, re-announces every 2 s until
   * a block from another peer shows the change (re-applying it if a newer
   * block replaced ours meanwhile), or the timeout passes.
   */
  private async publishAndConfirm(opts: WriteOptions, what: string, check: { reapply: () => void; seen: (block: Block) => boolean }): Promise<void> {
    const unsendable = (): UserError | undefined => {
      const why = this.peer.unsendable
      return why === undefined ? undefined : new UserError(`could not publish ${what}: ${why}`, { hint: 'delete keys or write smaller values' })
    }
    let timeoutMs = opts.timeoutMs ?? 30_000
    let softTimeout = false
    let sent = await this.peer.announce()
    const refused = unsendable()
    if (refused) throw refused
    if (opts.confirm === false) {
      // Not waiting for a confirmation still means handing the change to at least one peer.
      const end = Date.now() + timeoutMs
      while (sent === 0) {
        if (Date.now() > end)
          throw new UserError(`could not publish ${what}: no peer on the network's topic took it within ${Math.round(timeoutMs / 1000)}s`, {
            hint: 'retry without --no-wait to wait for a confirmation',
          })
        await new Promise((r) => setTimeout(r, 250))
        sent = await this.peer.announce()
      }
      // A legacy ledger replaces whole blocks: one announcement loses to a block of the same
      // height written at the same moment. Give it a short while to be taken, without failing.
      if (this.peer.effectiveMode !== 'off') return
      timeoutMs = Math.min(timeoutMs, LEGACY_NO_WAIT_MS)
      softTimeout = true
    }
    // A legacy ledger replaces whole blocks, so one peer holding the change is not enough: a
    // peer that wrote a block of the same height at the same moment announces its own, and the
    // next block built on it drops the change again. There, wait until every peer on the topic
    // that sends blocks has shown the change in its latest block (re-applying meanwhile).
    const legacy = this.peer.effectiveMode === 'off'
    const latest = new Map<string, boolean>()
    const everyoneHolds = (): boolean => {
      if (!legacy) return true
      const onTopic = new Set(this.peer.topicPeers())
      for (const sender of this.peer.syncedFrom) {
        if (sender === this.peer.id || !onTopic.has(sender)) continue
        if (latest.get(sender) !== true) return false
      }
      return true
    }
    await new Promise<void>((resolve, reject) => {
      let settle: NodeJS.Timeout | undefined
      const onBlock = (from: string, block: Block): void => {
        if (from === this.peer.id) return
        const holds = check.seen(block)
        latest.set(from, holds)
        if (!holds) return
        if (everyoneHolds()) return done()
        // Someone holds it; a silent or stuck peer does not turn that into a failure.
        settle ??= setTimeout(done, LEGACY_SETTLE_MS)
      }
      const fail = (err: unknown): void => {
        cleanup()
        reject(err)
      }
      const timer = setInterval(() => {
        try {
          check.reapply()
        } catch (err) {
          return fail(err)
        }
        void this.peer.announce().then(() => {
          const err = unsendable()
          if (err) fail(err)
        })
      }, 2000)
      const timeout = setLongTimeout(() => {
        cleanup()
        if (softTimeout) return resolve()
        reject(
          new UserError(`published ${what}, but no peer confirmed the change within ${Math.round(timeoutMs / 1000)}s`, {
            hint:
              this.peer.effectiveMode === 'off'
                ? 'the network may hold a newer ledger; retry'
                : 'an entry owned by another live node cannot be overwritten; check with `kairosctl ledger ls --verbose`',
          }),
        )
      }, timeoutMs)
      const cleanup = (): void => {
        clearInterval(timer)
        clearTimeout(settle)
        timeout.clear()
        this.peer.off('block', onBlock)
      }
      const done = (): void => {
        cleanup()
        resolve()
      }
      this.peer.on('block', onBlock)
    })
  }

  async watch(onChange: (data: LedgerData) => void, signal: AbortSignal): Promise<void> {
    const emit = (): void => onChange(this.peer.ledger.currentData())
    emit()
    this.peer.on('ledger', emit)
    try {
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve()
        signal.addEventListener('abort', () => resolve(), { once: true })
      })
    } finally {
      this.peer.off('ledger', emit)
    }
  }

  close(): Promise<void> {
    return this.peer.stop()
  }
}
