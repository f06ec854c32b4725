/**
 * js gossipsub frames every outbound RPC with it-length-prefixed's default
 * limit of 4 MiB, with no option to change it, and a larger RPC is dropped
 * with only a debug log. Go reads (and sends) RPCs up to the token's
 * max_message_size (EdgeVPN's pubsub.WithMaxMessageSize). Every outbound
 * stream gets a framer with that limit instead.
 *
 * Written against @libp2p/gossipsub 17.1.1. What it relies on: the service
 * keeps its outbound streams in a `streamsOutbound` map (checked: a missing
 * map throws), and an outbound stream frames an RPC in `push` and writes
 * framed bytes with `pushPrefixed`. gossipOutboundLimitStats counts when that
 * worked; test/integration/libp2p-patches.test.ts fails when it stops working.
 */

interface OutboundStreamLike {
  push(data: Uint8Array): void
  pushPrefixed(data: Uint8Array): void
}

/** All hosts of this process: outbound streams given the framer, and RPCs framed by it. */
export const gossipOutboundLimitStats = { streams: 0, framed: 0 }

/** An unsigned-varint length prefix and the data, as it-length-prefixed frames it, refusing more than `max` bytes. */
export function lengthPrefixed(data: Uint8Array, max: number): Uint8Array {
  if (data.length > max) throw new RangeError(`RPC of ${data.length} bytes exceeds max_message_size (${max})`)
  const prefix: number[] = []
  for (let n = data.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      prefix.push(n)
      break
    }
    prefix.push((n % 128) | 128)
  }
  const out = new Uint8Array(prefix.length + data.length)
  out.set(prefix)
  out.set(data, prefix.length)
  return out
}

/** Makes every outbound stream of a gossipsub service frame RPCs up to `max` bytes (see above). */
export function liftOutboundLimit(pubsub: unknown, max: number): void {
  const streams = (pubsub as { streamsOutbound?: unknown }).streamsOutbound
  if (!(streams instanceof Map)) throw new Error('gossipsub has no streamsOutbound map: cannot raise its outbound message limit')
  const set = streams.set.bind(streams) as (id: string, s: OutboundStreamLike) => Map<string, OutboundStreamLike>
  streams.set = (id: string, stream: OutboundStreamLike) => {
    gossipOutboundLimitStats.streams++
    stream.push = (data) => {
      gossipOutboundLimitStats.framed++
      stream.pushPrefixed(lengthPrefixed(data, max))
    }
    return set(id, stream)
  }
}
