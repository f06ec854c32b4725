/**
 * PeerLink hands a packet to its stream only when the stream sends it at
 * once, whole, in one frame: the Go receiver writes each frame into its TUN.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { AbstractStream } from '@libp2p/utils'
import { emptyRouterStats, PeerLink } from '../../src/vpn/router.js'

/** A stream whose send window, drain state and buffer the test controls. */
class FakeStream extends EventTarget {
  status = 'open'
  writeStatus = 'writable'
  writableNeedsDrain = false
  writeBufferLength = 0
  /** Like yamux: the send window less the 12-byte frame header. */
  maxMessageSize = 256 * 1024 - 12
  readonly frames: Uint8Array[] = []
  send(data: Uint8Array): boolean {
    assert.ok(data.length <= this.maxMessageSize, 'a packet was handed over that would not fit one frame')
    assert.equal(this.writeBufferLength, 0, 'a packet was handed over while data was still buffered')
    this.frames.push(data)
    this.maxMessageSize -= data.length
    return true
  }
  async onDrain(): Promise<void> {
    await new Promise((resolve) => this.addEventListener('drain', resolve, { once: true }))
  }
  drain(): void {
    this.writableNeedsDrain = false
    this.dispatchEvent(new Event('drain'))
  }
  async close(): Promise<void> {
    this.status = 'closed'
    this.dispatchEvent(new Event('close'))
  }
  abort(): void {
    this.status = 'aborted'
    this.dispatchEvent(new Event('close'))
  }
}

const packet = (n: number, size = 1200): Uint8Array => new Uint8Array(size).fill(n % 256)
const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 2))
  }
}

function link(limit = 64) {
  const streams: FakeStream[] = []
  const s = emptyRouterStats()
  const l = new PeerLink({
    open: async () => {
      const stream = new FakeStream()
      streams.push(stream)
      return stream as unknown as Stream
    },
    limit,
    stats: s,
    log: () => {},
  })
  return { l, s, streams }
}

describe('PeerLink', () => {
  test('sends packets in order on one stream, one frame each', async () => {
    const { l, s, streams } = link()
    for (let i = 0; i < 20; i++) l.push(packet(i))
    await until(() => s.sent === 20)
    assert.equal(streams.length, 1)
    assert.deepEqual(
      streams[0].frames.map((f) => f[0]),
      Array.from({ length: 20 }, (_, i) => i),
    )
  })

  test('waits for a window update instead of splitting a packet', async () => {
    const { l, s, streams } = link()
    l.push(packet(1))
    await until(() => s.sent === 1)
    const stream = streams[0]
    stream.maxMessageSize = 1000 // less than a packet
    l.push(packet(2))
    l.push(packet(3))
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(s.sent, 1, 'nothing sent while the window is too small')
    assert.equal(l.queued, 2)
    stream.maxMessageSize = 256 * 1024 - 12
    await until(() => s.sent === 3)
    assert.deepEqual(
      stream.frames.map((f) => f[0]),
      [1, 2, 3],
    )
  })

  test('waits for drain when the connection is full or data is buffered', async () => {
    const { l, s, streams } = link()
    l.push(packet(1))
    await until(() => s.sent === 1)
    const stream = streams[0]
    stream.writableNeedsDrain = true
    l.push(packet(2))
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(s.sent, 1)
    stream.drain()
    await until(() => s.sent === 2)
    stream.writeBufferLength = 10
    l.push(packet(3))
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(s.sent, 2, 'nothing handed over while the stream still buffers data')
    stream.writeBufferLength = 0
    await until(() => s.sent === 3)
  })

  test('drops packets beyond the queue limit, like a full NIC queue', async () => {
    const { l, s, streams } = link(4)
    l.push(packet(0))
    await until(() => s.sent === 1)
    streams[0].writableNeedsDrain = true
    for (let i = 1; i <= 10; i++) l.push(packet(i))
    assert.equal(l.queued, 4)
    assert.equal(s.droppedQueueFull, 6)
    streams[0].drain()
    await until(() => s.sent === 5)
  })

  test('opens a new stream when the peer closes the old one', async () => {
    const { l, s, streams } = link()
    l.push(packet(1))
    await until(() => s.sent === 1)
    await streams[0].close()
    l.push(packet(2))
    await until(() => s.sent === 2)
    assert.equal(streams.length, 2)
    assert.equal(streams[1].frames[0][0], 2)
  })

  test('close() stops sending and closes the stream', async () => {
    const { l, s, streams } = link()
    l.push(packet(1))
    await until(() => s.sent === 1)
    l.close()
    l.push(packet(2))
    await new Promise((r) => setTimeout(r, 10))
    assert.equal(s.sent, 1)
    assert.equal(streams[0].status, 'closed')
  })

  test('a connection that fills up again and again: one wait per drain, the stream kept, memory bounded', async () => {
    // libp2p's own stream class, with a transport the test opens and shuts like a valve: while
    // shut, a send is taken but reports that the connection is full (as yamux does when its
    // connection needs draining), and opening it dispatches 'drain' (as the muxer does).
    class ValveStream extends AbstractStream {
      shut = false
      constructor() {
        super({ id: 'valve', direction: 'outbound', log: defaultLogger().forComponent('test:valve') })
      }
      sendData(data: { byteLength: number }) {
        return { sentBytes: data.byteLength, canSendMore: !this.shut }
      }
      open(): void {
        this.shut = false
        this.safeDispatchEvent('drain')
      }
      sendReset(): void {}
      async sendCloseWrite(): Promise<void> {}
      async sendCloseRead(): Promise<void> {}
      sendPause(): void {}
      sendResume(): void {}
    }
    const stream = new ValveStream()
    const s = emptyRouterStats()
    const l = new PeerLink({ open: async () => stream, limit: 64, stats: s, log: () => {} })
    l.push(packet(0))
    await until(() => s.sent === 1)
    const heapBefore = process.memoryUsage().heapUsed
    let next = 1
    for (let round = 1; round <= 4; round++) {
      stream.shut = true
      // The first packet is taken and fills the connection; the rest wait, up to the queue limit.
      for (let i = 0; i < 200; i++) l.push(packet(next++))
      // Let the link run for a while against the full connection.
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
      assert.equal(l.queued, 64, `round ${round}: the queue holds its limit`)
      assert.ok(s.drainWaits <= round, `round ${round}: ${s.drainWaits} waits for ${round} drains (a wait must not return before its drain)`)
      stream.open()
      await until(() => l.queued === 0)
    }
    assert.equal(stream.status, 'open', 'the stream was never given up')
    assert.equal(s.droppedSendError, 0)
    assert.equal(s.sent, 1 + 4 * 65)
    assert.equal(s.droppedQueueFull, 4 * (200 - 65))
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 32 * 1024 * 1024, 'heap growth stays small')
  })
})
