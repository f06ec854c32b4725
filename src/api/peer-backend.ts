import { encodeBlock } from '../ledger/block.js'
import { goJsonStringify } from '../ledger/json.js'
import type { EdgePeer } from '../peer/peer.js'
import type { ApiBackend } from './backend.js'

/**
 * Serves the API from a running peer. Writes behave like EdgeVPN's Persist:
 * applied at once, then re-applied and re-announced every 2 s for 20 s in
 * case a newer block from the network replaced them meanwhile.
 */
export function peerBackend(peer: EdgePeer, persistForMs = 20_000): ApiBackend {
  const keepAnnouncing = (apply: () => void, applied: () => boolean): void => {
    apply()
    void peer.announce()
    const started = Date.now()
    const timer = setInterval(() => {
      if (Date.now() - started > persistForMs) return clearInterval(timer)
      try {
        if (!applied()) apply()
      } catch {
        return clearInterval(timer) // refused (the peer logged why)
      }
      void peer.announce()
    }, 2000)
    timer.unref()
  }
  // The peer store is read asynchronously; the API answers from the latest
  // snapshot (refreshed at most once a second) plus the current connections.
  let stored: string[] = []
  let storedAt = 0
  const knownPeers = (): string[] => {
    if (Date.now() - storedAt > 1000) {
      storedAt = Date.now()
      peer.host.peerStore.all().then(
        (list) => (stored = list.map((p) => p.id.toString())),
        () => undefined,
      )
    }
    return [...new Set([peer.id, ...stored, ...peer.knownPeers()])]
  }
  return {
    nodeId: () => peer.id,
    data: () => peer.ledger.currentData(),
    lastBlockJson: () => encodeBlock(peer.ledger.lastBlock(), { legacy: false }),
    index: () => peer.ledger.lastBlock().index,
    topicPeers: () => peer.topicPeers(),
    knownPeers,
    isConnected: (id) => peer.isConnected(id),
    persist: (bucket, key, value) =>
      keepAnnouncing(
        () => peer.ledger.put(bucket, key, value),
        () => peer.ledger.getKey(bucket, key) === goJsonStringify(value),
      ),
    persistJson: (bucket, key, value) =>
      keepAnnouncing(
        () => peer.ledger.put(bucket, key, value),
        () => peer.ledger.getKey(bucket, key) !== undefined,
      ),
    deleteKey: (bucket, key) =>
      keepAnnouncing(
        () => peer.ledger.delete(bucket, key),
        () => peer.ledger.getKey(bucket, key) === undefined,
      ),
    deleteBucket: (bucket) =>
      keepAnnouncing(
        () => peer.ledger.deleteBucket(bucket),
        () => peer.ledger.currentData()[bucket] === undefined,
      ),
  }
}
