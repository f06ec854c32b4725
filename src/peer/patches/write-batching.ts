import type { Socket } from 'node:net'
import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { quietLengthDecoder } from './noise-reader.js'

/**
 * One socket write per turn of the event loop instead of one per message.
 *
 * @libp2p/tcp writes every Noise message to the socket as it comes: a length
 * prefix and a ciphertext, two writes, for every yamux frame. With Go's stream
 * per VPN packet, one inbound packet makes us send a window update, the
 * multistream echo and a FIN, each a frame of its own, and those socket writes
 * were a third of the bridge's busy time. Here the TCP connection's writes are
 * collected and handed to the kernel together (one writev) when the current
 * turn of the event loop is over. Bytes and their order are unchanged: only
 * the number of system calls differs.
 *
 * The Noise connection on top is merged into the same batch (mergeNoise): its
 * plaintext writes of one turn (yamux frames) are kept and sealed together at
 * the flush, as one Noise message up to 65519 bytes, rather than one message
 * per frame. Noise is a byte stream to the reader (go-libp2p's secure session
 * and ours read yamux frames across message boundaries), so only the framing
 * of ciphertexts changes: one cipher object, one tag and one length prefix per
 * batch instead of per frame. Raw writes (the end of the handshake) and
 * plaintext keep their order, and a connection that starts closing seals what
 * it holds before Noise's own path takes over, so nonces stay in order.
 *
 * Back-pressure: the connection is told to wait for 'drain' while the socket
 * needs draining (the socket's own 'drain' event follows) or once a turn has
 * collected MAX_PENDING bytes (then the flush sends the 'drain' itself when
 * the socket took everything without filling up).
 *
 * Written against @libp2p/tcp 11.0.28, @libp2p/noise 17.0.3 (its
 * EncryptedMessageStream's encrypt and sendData) and @libp2p/utils 7.4.1. @libp2p/tcp
 * does not export its connection class (TCPSocketMultiaddrConnection in
 * dist/src/socket-to-conn.js), so it is recognised by its shape
 * (isTcpConnection) and its sendData, sendClose and sendReset, which
 * @libp2p/utils' message stream calls, are replaced on the instance. If the
 * shape changes, batching switches itself off without an error:
 * writeBatchingStats counts what happened, and
 * test/integration/libp2p-patches.test.ts fails when nothing was batched.
 */
const MAX_PENDING = 256 * 1024

interface TcpConnection {
  socket: Socket
  writeStatus: string
  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean }
  sendClose(options?: unknown): Promise<void>
  sendReset(err?: Error): void
  safeDispatchEvent(type: 'drain'): void
}

/** The Noise connection of @libp2p/noise (EncryptedMessageStream in dist/src/utils.js). */
interface NoiseConnection {
  stream: unknown
  encrypt(chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList
  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean }
}

function isTcpConnection(stream: unknown): stream is TcpConnection {
  const s = stream as Partial<TcpConnection>
  return typeof s.sendData === 'function' && typeof s.sendClose === 'function' && typeof s.sendReset === 'function' && typeof s.safeDispatchEvent === 'function' && typeof s.socket?.cork === 'function'
}

function isNoiseConnection(stream: unknown, tcp: TcpConnection): stream is NoiseConnection {
  const s = stream as Partial<NoiseConnection>
  return s.stream === tcp && typeof s.encrypt === 'function' && typeof s.sendData === 'function'
}

/**
 * All connections of this process: those batched, those left alone (not
 * recognised as TCP connections), flushes (batches handed to the socket), Noise
 * connections whose messages are merged, and the Noise messages that merging
 * saved (plaintext writes minus the messages sent for them).
 */
export const writeBatchingStats = { batched: 0, skipped: 0, flushes: 0, merged: 0, messagesSaved: 0 }

/** Plaintext for the Noise connection, encrypted when the batch is flushed. */
class Plain {
  readonly parts = new Uint8ArrayList()
  writes = 0
}

/** What batchSocketWrites returns: the batch of one TCP connection. */
export interface WriteBatch {
  /** Merges the Noise messages of one turn (see mergeNoiseMessages); false if `noise` is not the expected shape. */
  mergeNoise(noise: unknown): boolean
}

/** Makes a TCP connection's writes go out once per event-loop turn (see above). */
export function batchSocketWrites(stream: unknown): WriteBatch | undefined {
  if (!isTcpConnection(stream)) {
    writeBatchingStats.skipped++
    return undefined
  }
  writeBatchingStats.batched++
  const { socket } = stream
  const sendClose = stream.sendClose.bind(stream)
  const sendReset = stream.sendReset.bind(stream)
  let pending: (Uint8Array | Plain)[] = []
  let pendingBytes = 0
  let owesDrain = false
  let scheduled: NodeJS.Immediate | undefined
  let noise: NoiseConnection | undefined

  const flush = (): void => {
    scheduled = undefined
    const entries = pending
    pending = []
    pendingBytes = 0
    if (entries.length === 0 || socket.destroyed || socket.writableEnded) return
    writeBatchingStats.flushes++
    socket.cork()
    for (const entry of entries) {
      if (entry instanceof Uint8Array) {
        socket.write(entry)
        continue
      }
      // One contiguous plaintext: one cipher update rather than one per frame part.
      const sealed = noise!.encrypt(entry.parts.subarray())
      writeBatchingStats.messagesSaved += entry.writes - Math.ceil(entry.parts.byteLength / NOISE_MAX_PLAINTEXT)
      for (const buf of sealed) socket.write(buf)
    }
    socket.uncork()
    if (owesDrain) {
      owesDrain = false
      // Otherwise the socket is full and its own 'drain' is on its way.
      if (!socket.writableNeedDrain) stream.safeDispatchEvent('drain')
    }
  }

  const queued = (bytes: number): { sentBytes: number; canSendMore: boolean } => {
    pendingBytes += bytes
    scheduled ??= setImmediate(flush)
    if (socket.writableNeedDrain) return { sentBytes: bytes, canSendMore: false }
    if (pendingBytes < MAX_PENDING) return { sentBytes: bytes, canSendMore: true }
    owesDrain = true
    return { sentBytes: bytes, canSendMore: false }
  }

  stream.sendData = (data) => {
    for (const buf of data) pending.push(buf)
    return queued(data.byteLength)
  }
  const flushNow = (): void => {
    if (scheduled) clearImmediate(scheduled)
    flush()
  }
  stream.sendClose = async (options) => {
    flushNow()
    return sendClose(options)
  }
  stream.sendReset = (err) => {
    if (scheduled) clearImmediate(scheduled)
    scheduled = undefined
    pending = []
    pendingBytes = 0
    sendReset(err)
  }
  return {
    mergeNoise(candidate) {
      if (noise || !isNoiseConnection(candidate, stream)) return false
      noise = candidate
      const sendData = candidate.sendData.bind(candidate)
      candidate.sendData = (data) => {
        if (stream.writeStatus !== 'writable') {
          // A closing or closed connection: what is merged goes first (Noise's
          // nonces are in order), then Noise's own path sends or throws as before.
          flushNow()
          return sendData(data)
        }
        let plain = pending.at(-1)
        if (!(plain instanceof Plain)) pending.push((plain = new Plain()))
        plain.parts.append(data)
        plain.writes++
        return queued(data.byteLength)
      }
      writeBatchingStats.merged++
      return true
    },
  }
}

/** The most plaintext one Noise message carries (65535 bytes less the 16-byte tag). */
const NOISE_MAX_PLAINTEXT = 65535 - 16

/**
 * A connection encrypter whose TCP connections write in batches (see
 * batchSocketWrites), whose Noise messages of a turn are merged, and whose
 * Noise reader does not throw at every message boundary (noise-reader.ts).
 */
export function withBatchedWrites<C>(inner: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components: C) => {
    const encrypter = inner(components)
    return {
      protocol: encrypter.protocol,
      secureInbound: async (connection: MessageStream, options) => {
        const batch = batchSocketWrites(connection)
        const secured = await encrypter.secureInbound(connection, options)
        batch?.mergeNoise(secured.connection)
        quietLengthDecoder(secured.connection)
        return secured
      },
      secureOutbound: async (connection: MessageStream, options) => {
        const batch = batchSocketWrites(connection)
        const secured = await encrypter.secureOutbound(connection, options)
        batch?.mergeNoise(secured.connection)
        quietLengthDecoder(secured.connection)
        return secured
      },
    }
  }
}
