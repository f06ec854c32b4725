import type { Socket } from 'node:net'
import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

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
 * Back-pressure: the connection is told to wait for 'drain' while the socket
 * needs draining (the socket's own 'drain' event follows) or once a turn has
 * collected MAX_PENDING bytes (then the flush sends the 'drain' itself when
 * the socket took everything without filling up).
 *
 * Written against @libp2p/tcp 11.0.28 and @libp2p/utils 7.4.1. @libp2p/tcp
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
  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean }
  sendClose(options?: unknown): Promise<void>
  sendReset(err?: Error): void
  safeDispatchEvent(type: 'drain'): void
}

function isTcpConnection(stream: unknown): stream is TcpConnection {
  const s = stream as Partial<TcpConnection>
  return typeof s.sendData === 'function' && typeof s.sendClose === 'function' && typeof s.sendReset === 'function' && typeof s.safeDispatchEvent === 'function' && typeof s.socket?.cork === 'function'
}

/**
 * All connections of this process: those batched, those left alone (not
 * recognised as TCP connections), and flushes (batches handed to the socket).
 */
export const writeBatchingStats = { batched: 0, skipped: 0, flushes: 0 }

/** Makes a TCP connection's writes go out once per event-loop turn (see above). */
export function batchSocketWrites(stream: unknown): void {
  if (!isTcpConnection(stream)) {
    writeBatchingStats.skipped++
    return
  }
  writeBatchingStats.batched++
  const { socket } = stream
  const sendClose = stream.sendClose.bind(stream)
  const sendReset = stream.sendReset.bind(stream)
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  let owesDrain = false
  let scheduled: NodeJS.Immediate | undefined

  const flush = (): void => {
    scheduled = undefined
    const bufs = pending
    pending = []
    pendingBytes = 0
    if (bufs.length === 0 || socket.destroyed || socket.writableEnded) return
    writeBatchingStats.flushes++
    socket.cork()
    for (const buf of bufs) socket.write(buf)
    socket.uncork()
    if (owesDrain) {
      owesDrain = false
      // Otherwise the socket is full and its own 'drain' is on its way.
      if (!socket.writableNeedDrain) stream.safeDispatchEvent('drain')
    }
  }

  stream.sendData = (data) => {
    for (const buf of data) pending.push(buf)
    pendingBytes += data.byteLength
    scheduled ??= setImmediate(flush)
    if (socket.writableNeedDrain) return { sentBytes: data.byteLength, canSendMore: false }
    if (pendingBytes < MAX_PENDING) return { sentBytes: data.byteLength, canSendMore: true }
    owesDrain = true
    return { sentBytes: data.byteLength, canSendMore: false }
  }
  stream.sendClose = async (options) => {
    if (scheduled) clearImmediate(scheduled)
    flush()
    return sendClose(options)
  }
  stream.sendReset = (err) => {
    if (scheduled) clearImmediate(scheduled)
    scheduled = undefined
    pending = []
    pendingBytes = 0
    sendReset(err)
  }
}

/** A connection encrypter whose TCP connections write in batches (see batchSocketWrites). */
export function withBatchedWrites<C>(inner: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components: C) => {
    const encrypter = inner(components)
    return {
      protocol: encrypter.protocol,
      secureInbound: async (connection: MessageStream, options) => {
        batchSocketWrites(connection)
        return encrypter.secureInbound(connection, options)
      },
      secureOutbound: async (connection: MessageStream, options) => {
        batchSocketWrites(connection)
        return encrypter.secureOutbound(connection, options)
      },
    }
  }
}
