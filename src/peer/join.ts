import { UserError } from '../errors.js'
import { setLongTimeout } from '../timers.js'
import type { DiscoveryReport, EdgePeer, PeerOptions } from './peer.js'

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

/** Longest settle time while the network's ownership mode is not known (Go announces every 10 s by default). */
const UNKNOWN_SETTLE_MS = 12_000
/** Once synced, how long no block may have arrived before the ledger is read, and the longest wait for that. */
const QUIET_MS = 500
const MAX_QUIET_WAIT_MS = 3000

/**
 * Waits until a started peer's ledger is synced. "Synced" means: at
 * least one ledger block was received from a peer, and then either every peer
 * on the network's topic has sent one or `settleMs` has passed (up to 12 s
 * while auto mode does not know the network's ownership mode yet, so that the
 * honest neighbours' own blocks are in), and no block arrived for the last
 * half second (up to 3 s more), since the first block of a burst can be an
 * old one replayed from a neighbour's gossip cache. When no block arrived within the
 * timeout, the error says what was tried and what was found.
 */
export function waitSynced(peer: EdgePeer, opts: JoinOptions): Promise<void> {
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
        opts.log?.('info', `first ledger block after ${firstBlockAt - t0} ms (${r.connectedPeers} peers)`)
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
        opts.log?.('info', `synced after ${Date.now() - t0} ms (${allHeard ? 'every topic peer sent a block' : 'settle time passed'})`)
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
      return new UserError(`reached ${dht.bootstrapReached} of ${dht.bootstrapPeers} DHT bootstrap peer(s), but no node of this network announced itself on the DHT within ${secs}s (tried ${tried})`, {
        hint: "check the network token and that the cluster nodes run with the DHT on, or pass --bootstrap-peer with a node's multiaddr",
      })
    }
  }
  if (r.connectedPeers === 0) {
    return new UserError(`no EdgeVPN peers found within ${secs}s (tried ${tried})`, {
      hint: 'check the network token, that a node is reachable from here, or pass --bootstrap-peer /ip4/ADDR/tcp/PORT/p2p/ID',
    })
  }
  return new UserError(`connected to ${r.connectedPeers} peer(s) (${r.topicPeers} on this token's gossip topic) but no ledger block arrived within ${secs}s (tried ${tried})`, {
    hint: r.topicPeers === 0 ? 'the peers found may belong to another network: check the token' : 'retry with a longer --timeout',
  })
}
