import type { EntryInfo, LedgerAccess, LedgerData, WriteOptions } from '../access.js'
import { UserError } from '../errors.js'
import type { Block } from '../ledger/block.js'
import type { Entry } from '../ledger/entry.js'
import { goJsonStringify } from '../ledger/json.js'
import { setLongTimeout } from '../timers.js'
import { EdgePeer, type DiscoveryReport, type PeerOptions } from './peer.js'

export interface JoinProgress {
  phase: 'discovering' | 'syncing' | 'synced'
  peers: number
  blocks: number
}

export interface JoinOptions extends PeerOptions {
  /** Give up when no block arrived within this time. */
  timeoutMs: number
  /** After the first block, wait this long for blocks from the other topic peers. */
  settleMs?: number
  onProgress?: (p: JoinProgress) => void
  signal?: AbortSignal
}

/**
 * Joins the network and waits until the ledger is synced. "Synced" means: at
 * least one ledger block was received from a peer, and then either every peer
 * on the network's topic has sent one or `settleMs` has passed (up to 12 s
 * while auto mode does not know the network's ownership mode yet, so that the
 * honest neighbours' own blocks are in), and no block arrived for the last
 * half second (up to 3 s more), since the first block of a burst can be an
 * old one replayed from a neighbour's gossip cache. When no block arrived within the
 * timeout, the error says what was tried and what was found.
 */
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

/** Longest settle time while the network's ownership mode is not known (Go announces every 10 s by default). */
const UNKNOWN_SETTLE_MS = 12_000
/** Once synced, how long no block may have arrived before the ledger is read, and the longest wait for that. */
const QUIET_MS = 500
const MAX_QUIET_WAIT_MS = 3000

function waitSynced(peer: EdgePeer, opts: JoinOptions): Promise<void> {
  const settleMs = opts.settleMs ?? 1500
  const t0 = Date.now()
  return new Promise<void>((resolve, reject) => {
    let firstBlockAt: number | undefined
    let readyAt: number | undefined
    let lastBlockAt = 0
    const progress = (): void => {
      const r = peer.report()
      opts.onProgress?.({ phase: r.blocksReceived > 0 ? 'syncing' : 'discovering', peers: r.connectedPeers, blocks: r.blocksReceived })
    }
    const onBlock = (): void => {
      lastBlockAt = Date.now()
      check()
    }
    const check = (): void => {
      const r = peer.report()
      if (r.blocksReceived === 0) return progress()
      if (firstBlockAt === undefined) {
        firstBlockAt = Date.now()
        opts.log?.('debug', `first ledger block after ${firstBlockAt - t0} ms (${r.connectedPeers} peers)`)
      }
      const topicPeers = peer.topicPeers()
      const allHeard = topicPeers.every((p) => peer.syncedFrom.has(p))
      // While auto mode does not know the network yet, a block from any token holder may have come
      // first: wait for every neighbour's own block (its signed entries win), up to UNKNOWN_SETTLE_MS.
      const settle = peer.networkKind === 'unknown' ? Math.max(settleMs, UNKNOWN_SETTLE_MS) : settleMs
      if (allHeard || Date.now() - firstBlockAt >= settle) {
        // Blocks come in bursts (a neighbour's gossip cache replays its recent messages, oldest
        // first possibly): the first one can be stale. Wait until the burst is over.
        readyAt ??= Date.now()
        const busy = Date.now() - lastBlockAt < QUIET_MS || peer.gossipPending > 0
        if (busy && Date.now() - readyAt < MAX_QUIET_WAIT_MS) return progress()
        finish()
        opts.log?.('debug', `synced after ${Date.now() - t0} ms (${allHeard ? 'every topic peer sent a block' : 'settle time passed'})`)
        opts.onProgress?.({ phase: 'synced', peers: r.connectedPeers, blocks: r.blocksReceived })
        resolve()
      } else progress()
    }
    const ticker = setInterval(check, 100)
    const timeout = setLongTimeout(() => {
      finish()
      // Blocks arrived but a neighbour stayed silent: use what we have.
      if (peer.report().blocksReceived > 0) resolve()
      else reject(syncTimeoutError(peer.report(), opts.timeoutMs))
    }, opts.timeoutMs)
    const onAbort = (): void => {
      finish()
      reject(new UserError('interrupted'))
    }
    const finish = (): void => {
      clearInterval(ticker)
      timeout.clear()
      peer.off('block', onBlock)
      opts.signal?.removeEventListener('abort', onAbort)
    }
    peer.on('block', onBlock)
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    progress()
  })
}

/**
 * Why joining gave up, naming the step that failed: no bootstrap peer answered,
 * nobody announced the rendezvous, the announced nodes could not be reached,
 * or peers were reached but sent no ledger.
 */
export function syncTimeoutError(r: DiscoveryReport, timeoutMs: number): UserError {
  const secs = Math.round(timeoutMs / 1000)
  const tried = r.modes.length > 0 ? r.modes.join(', ') : 'no discovery method'
  const dht = r.dht
  if (dht && r.topicPeers === 0) {
    if (dht.providersFound > 0 && dht.providersConnected === 0) {
      return new UserError(
        `found ${dht.providersFound} node(s) of this network through the DHT rendezvous but could not connect to any within ${secs}s, ` +
          'neither directly nor through a relay (they are behind NAT and announce no relay address yet)',
        { hint: 'retry in a minute, make one node reachable (a public address or a forwarded port), or pass --bootstrap-peer with the multiaddr of a node this machine can reach' },
      )
    }
    if (dht.providersConnected > 0 && dht.providersDirect === 0) {
      return new UserError(
        `found ${dht.providersFound} node(s) of this network through the DHT rendezvous and reached ${dht.providersConnected} through a relay, ` +
          `but no direct connection came up within ${secs}s: hole punching failed (one of the NATs may be symmetric), and the ledger never travels over a relay`,
        { hint: 'make one node reachable (a public address or a forwarded port), or pass --bootstrap-peer with the multiaddr of a node this machine can reach' },
      )
    }
    if (dht.bootstrapPeers > 0 && dht.bootstrapReached === 0 && r.connectedPeers === 0) {
      return new UserError(`could not reach any of the ${dht.bootstrapPeers} DHT bootstrap peer(s) within ${secs}s (tried ${tried})`, {
        hint:
          dht.source === 'public'
            ? "check this machine's internet access and DNS (the public bootstrap peers are /dnsaddr names), or pass --bootstrap-peer"
            : 'check the --bootstrap-peer addresses and that those peers are running and reachable from here',
      })
    }
    if (dht.bootstrapReached > 0 && dht.providersFound === 0) {
      return new UserError(
        `reached ${dht.bootstrapReached} of ${dht.bootstrapPeers} DHT bootstrap peer(s), but no node of this network announced itself on the DHT within ${secs}s (tried ${tried})`,
        { hint: 'check the network token and that the cluster nodes run with the DHT on, or pass --bootstrap-peer with a node\'s multiaddr' },
      )
    }
  }
  if (r.connectedPeers === 0) {
    return new UserError(`no EdgeVPN peers found within ${secs}s (tried ${tried})`, {
      hint: 'check the network token, that a node is reachable from here, or pass --bootstrap-peer /ip4/ADDR/tcp/PORT/p2p/ID',
    })
  }
  return new UserError(
    `connected to ${r.connectedPeers} peer(s) (${r.topicPeers} on this token's gossip topic) but no ledger block arrived within ${secs}s (tried ${tried})`,
    { hint: r.topicPeers === 0 ? 'the peers found may belong to another network: check the token' : 'retry with a longer --timeout' },
  )
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
      seen: (block) => keys.every((k) => {
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
  private async publishAndConfirm(
    opts: WriteOptions,
    what: string,
    check: { reapply: () => void; seen: (block: Block) => boolean },
  ): Promise<void> {
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
        if (Date.now() > end) throw new UserError(`could not publish ${what}: no peer on the network's topic took it within ${Math.round(timeoutMs / 1000)}s`, { hint: 'retry without --no-wait to wait for a confirmation' })
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
        reject(new UserError(`published ${what}, but no peer confirmed the change within ${Math.round(timeoutMs / 1000)}s`, {
          hint: this.peer.effectiveMode === 'off'
            ? 'the network may hold a newer ledger; retry'
            : 'an entry owned by another live node cannot be overwritten; check with `kairosctl ledger ls --verbose`',
        }))
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
