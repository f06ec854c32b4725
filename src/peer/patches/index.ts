import type { Connection, ConnectionEncrypter, StreamMuxerFactory } from '@libp2p/interface'
import { FastInbound, fastInboundStats } from './fast-inbound.js'
import { gossipOutboundLimitStats, liftOutboundLimit } from './gossip-outbound-limit.js'
import { tcpSocketDialStats } from './tcp-socket-dial.js'
import { noiseReaderStats } from './noise-reader.js'
import { withBatchedWrites, writeBatchingStats } from './write-batching.js'

/**
 * Every place where kairosctl changes libp2p internals, applied by createHost
 * (src/peer/host.ts) through HostPatches. Each patch relies on the inner
 * shape of exact package versions, named in its header and in `writtenAgainst`
 * below; package.json pins those packages with `~`, so that upgrading them is
 * a deliberate change. Each patch counts when it takes effect, and
 * test/integration/libp2p-patches.test.ts fails, naming the patch and the
 * versions, when a counter in `effects` stays at zero on two real hosts.
 */
export interface LibP2pPatch {
  name: string
  /** Where the patch lives, relative to the repository. */
  file: string
  /** Package → the version whose internals the patch was written against. */
  writtenAgainst: Readonly<Record<string, string>>
  /** The patch's counters (all hosts of this process). */
  stats: Readonly<Record<string, number>>
  /** Counters that are above zero once the patch has taken effect. */
  effects: readonly string[]
}

export const libp2pPatches: readonly LibP2pPatch[] = [
  {
    name: 'fast inbound streams',
    file: 'src/peer/patches/fast-inbound.ts',
    writtenAgainst: { libp2p: '3.3.11', '@libp2p/yamux': '8.0.3', '@libp2p/utils': '7.4.1' },
    stats: fastInboundStats,
    effects: ['muxers', 'fast', 'lazyWindows', 'lightMuxers', 'light', 'lightPromoted'],
  },
  {
    name: 'batched socket writes',
    file: 'src/peer/patches/write-batching.ts',
    writtenAgainst: { '@libp2p/tcp': '11.0.28', '@libp2p/noise': '17.0.3', '@libp2p/utils': '7.4.1' },
    stats: writeBatchingStats,
    effects: ['batched', 'flushes', 'merged', 'messagesSaved'],
  },
  {
    name: 'Noise length prefixes read without throwing',
    file: 'src/peer/patches/noise-reader.ts',
    writtenAgainst: { '@libp2p/noise': '17.0.3', '@libp2p/utils': '7.4.1' },
    stats: noiseReaderStats,
    effects: ['patched'],
  },
  {
    name: 'gossipsub outbound message limit',
    file: 'src/peer/patches/gossip-outbound-limit.ts',
    writtenAgainst: { '@libp2p/gossipsub': '17.1.1' },
    stats: gossipOutboundLimitStats,
    effects: ['streams', 'framed'],
  },
  {
    name: 'TCP sockets of our own (hole punching)',
    file: 'src/peer/patches/tcp-socket-dial.ts',
    writtenAgainst: { '@libp2p/tcp': '11.0.28', libp2p: '3.3.11' },
    stats: tcpSocketDialStats,
    effects: ['transports', 'upgraded'],
  },
]

type Factory<C, T> = (components: C) => T

/** The patches of one host: wrap its factories before createLibp2p, then attach the node it made. */
export class HostPatches {
  readonly fast = new FastInbound()

  connectionEncrypter<C>(inner: Factory<C, ConnectionEncrypter>): Factory<C, ConnectionEncrypter> {
    return withBatchedWrites(inner)
  }

  streamMuxer<C>(inner: Factory<C, StreamMuxerFactory>): Factory<C, StreamMuxerFactory> {
    return this.fast.wrap(inner)
  }

  /** `pubsub` is the node's gossipsub service, `maxMessageSize` the largest RPC it may send. */
  attach(node: { getConnections(): Connection[] }, pubsub: unknown, maxMessageSize: number): void {
    liftOutboundLimit(pubsub, maxMessageSize)
    this.fast.attach(node)
  }
}

export { fastInboundOf, type FastHandler, type FastInbound, type LightSink } from './fast-inbound.js'
