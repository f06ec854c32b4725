import { checksum, type Block } from '../ledger/block.js'
import { isLegacy, verifyEntry } from '../ledger/entry.js'
import { HEALTHCHECK_BUCKET } from '../ledger/policy.js'

/**
 * What `--ownership auto` has learnt about the network's ledger:
 * `unknown` (read and write by the signed rules), `signed` (final) or
 * `legacy` (unsigned whole-block replacement, as EdgeVPN ≤ v0.34).
 */
export type NetworkKind = 'unknown' | 'signed' | 'legacy'

/** Authors remembered (oldest forgotten first). */
const MAX_AUTHORS = 1024

/**
 * Decides from evidence a hostile token holder cannot fake on its own
 * whether the network signs its ledger (docs/ledger.md, "Ownership auto-detection"):
 *
 * - `signed`, for good, once a block holds an entry that verifies and that
 *   another peer signed;
 * - `legacy` only while no such entry arrived, the latest block of every
 *   author we heard was built by legacy code, and every peer next to us on the
 *   topic has sent one. A block counts as built by legacy code when it holds
 *   unsigned entries only and either carries a v0.34 block hash or holds its
 *   author's own healthcheck unsigned (v0.35 with ownership off). A v0.35 node
 *   with ownership on never sends such a block, so one honest v0.35 node keeps
 *   us on the signed rules whatever others send.
 */
export class OwnershipDetector {
  private signed = false
  /** Per author, whether its latest block with entries was built by legacy code. */
  private readonly latest = new Map<string, boolean>()
  private current: NetworkKind = 'unknown'

  constructor(private readonly selfId: string) {}

  get kind(): NetworkKind {
    return this.current
  }

  /** Records a block published by `author` (the gossip message's signed origin). */
  observe(author: string, block: Block): void {
    if (this.signed || author === this.selfId) return
    let entries = 0
    let legacyOnly = true
    for (const [bucket, kv] of block.storage) {
      for (const [key, e] of kv) {
        entries++
        if (isLegacy(e)) continue
        legacyOnly = false
        if (e.owner !== this.selfId && verifyEntry(bucket, key, e)) {
          this.signed = true
          this.latest.clear()
          return
        }
      }
    }
    if (entries === 0) return
    const ownHealth = block.storage.get(HEALTHCHECK_BUCKET)?.get(author)
    const legacy = legacyOnly && (ownHealth !== undefined || block.hash === checksum(block, 'v0.34'))
    this.latest.delete(author)
    this.latest.set(author, legacy)
    if (this.latest.size > MAX_AUTHORS) this.latest.delete(this.latest.keys().next().value!)
  }

  /** Whether some author's latest block was built by legacy code. */
  legacySeen(): boolean {
    return [...this.latest.values()].some(Boolean)
  }

  /** Re-evaluates with the peers currently next to us on the topic. */
  decide(topicNeighbours: readonly string[]): NetworkKind {
    if (this.signed) return (this.current = 'signed')
    // Once legacy, a neighbour that has not spoken yet does not undo it; a block from signing code does.
    const silentOk = this.current === 'legacy'
    const legacy = topicNeighbours.length > 0 && topicNeighbours.every((p) => this.latest.get(p) ?? silentOk) && [...this.latest.values()].every(Boolean)
    return (this.current = legacy ? 'legacy' : 'unknown')
  }
}
