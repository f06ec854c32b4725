/**
 * A random walk of the DHT that waits between queries.
 *
 * libp2p's own random walk (the `randomWalk` component, used by the relay
 * transport to find relays and by AutoNAT to find peers that can dial us back)
 * starts the next `getClosestPeers` query as soon as one ends. With a routing
 * table that answers at once (no peers yet, or only peers the consumer skips as
 * already connected) that loop never yields to anything else: a bridge that
 * listens on `/p2p-circuit` sat at 100 % CPU before it printed a line.
 *
 * This one yields each peer once per walker, pauses the query while the
 * walker is not asking for more, and after a query that found nobody new
 * waits before the next one, twice as long each time up to a minute.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { PeerInfo } from '@libp2p/interface'

export interface ClosestPeers {
  getClosestPeers(key: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<PeerInfo>
}

/** The first pause after a query that found no new peer, and the longest. */
export const WALK_PAUSE_MIN_MS = 1_000
export const WALK_PAUSE_MAX_MS = 60_000
/** Peers a walker remembers having yielded (then it forgets them all). */
const SEEN_LIMIT = 4096

export class PacedRandomWalk {
  constructor(
    private readonly routing: () => ClosestPeers,
    private readonly pause = { min: WALK_PAUSE_MIN_MS, max: WALK_PAUSE_MAX_MS },
  ) {}

  readonly [Symbol.toStringTag] = 'kairosctl/random-walk'

  async *walk(options?: { signal?: AbortSignal }): AsyncGenerator<PeerInfo> {
    const signal = options?.signal
    const seen = new Set<string>()
    let wait = 0
    while (true) {
      signal?.throwIfAborted()
      if (wait > 0) await sleep(wait, undefined, { signal })
      let fresh = 0
      try {
        for await (const peer of this.routing().getClosestPeers(crypto.getRandomValues(new Uint8Array(32)), { signal })) {
          const id = peer.id.toString()
          if (seen.has(id)) continue
          if (seen.size >= SEEN_LIMIT) seen.clear()
          seen.add(id)
          fresh++
          yield peer
        }
      } catch (err) {
        if (signal?.aborted) throw err
        // A failed query (no peers to ask, a timeout) counts as one that found nobody.
      }
      wait = fresh > 0 ? 0 : Math.min(this.pause.max, Math.max(this.pause.min, wait * 2))
    }
  }
}

/**
 * The libp2p service factory. Registered under the name `randomWalk`, it takes
 * the place of libp2p's component of that name: services are set up after the
 * components, and the relay transport and AutoNAT look the component up when
 * they walk, not when they are built.
 */
export function pacedRandomWalk(): (components: { peerRouting: ClosestPeers }) => PacedRandomWalk {
  return (components) => new PacedRandomWalk(() => components.peerRouting)
}
