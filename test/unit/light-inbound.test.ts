/**
 * The light way in for inbound streams (src/peer/patches/fast-inbound.ts,
 * `lighten`), frame by frame: a stand-in muxer with @libp2p/yamux's shape
 * (`handleFrame`, `sendFrame`, `client`, the close methods) receives the
 * frames a Go sender sends, and the test reads what goes back and what the
 * muxer itself still sees. The same path between two real hosts is covered by
 * test/integration/fast-inbound.test.ts and the VPN tests.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import type { StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { FastInbound, MAX_LIGHT_STREAMS, type LightSink } from '../../src/peer/patches/fast-inbound.js'

const PROTOCOL = '/kctl-test/light/1'
const PEER = peerIdFromString('12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDhp4Fm5rfzNBALH4Rv')
const [DATA, WINDOW_UPDATE] = [0, 1]
const [SYN, ACK, FIN, RST] = [1, 2, 4, 8]

interface Header {
  type: number
  flag: number
  streamID: number
  length: number
}

/** What multistream-select's lazy client sends first: the header line, then the protocol line. */
function opening(protocol: string): Uint8Array {
  const line = (text: string): number[] => {
    const body = [...new TextEncoder().encode(`${text}\n`)]
    return [body.length, ...body]
  }
  return Uint8Array.from([...line('/multistream/1.0.0'), ...line(protocol)])
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/** A muxer of @libp2p/yamux's shape behind the fast path, with one light route whose sinks are recorded. */
function setup(opener?: (n: number) => boolean) {
  const fast = new FastInbound()
  const seen: Header[] = [] // frames that reached the muxer's own handleFrame
  const sent: { header: Header; data?: Uint8Array }[] = []
  const closers: string[] = []
  const muxer = {
    client: true, // our ids are odd: the peer's are even
    streams: [],
    protocol: '/yamux/1.0.0',
    handleFrame(frame: { header: Header }) {
      seen.push(frame.header)
    },
    sendFrame(header: Header, data?: Uint8Array) {
      sent.push({ header, data })
    },
    abort() {
      closers.push('abort')
    },
    onTransportClosed() {
      closers.push('onTransportClosed')
    },
    close() {
      closers.push('close')
    },
    addEventListener(_type: string, _listener: unknown) {},
  }
  const factory = fast.wrap((): StreamMuxerFactory => ({ protocol: '/yamux/1.0.0', createStreamMuxer: () => muxer as unknown as StreamMuxer }))
  const wrapped = factory({}).createStreamMuxer({} as never) as unknown as typeof muxer
  fast.attach({ getConnections: () => [{ streams: muxer.streams, remotePeer: PEER } as never] })
  const sinks: { bytes: Uint8Array[]; ended: number }[] = []
  fast.handle(
    PROTOCOL,
    () => assert.fail('the stream handler is not used on the light path'),
    (peer): LightSink | undefined => {
      assert.equal(peer.toString(), PEER.toString())
      if (opener && !opener(sinks.length)) return undefined
      const sink = { bytes: [] as Uint8Array[], ended: 0 }
      sinks.push(sink)
      return { data: (b) => sink.bytes.push(b.slice()), end: () => sink.ended++ }
    },
  )
  // libp2p's connection installs its inbound-stream listener: the light path starts here.
  wrapped.addEventListener('stream', () => {})
  const frame = (type: number, flag: number, streamID: number, data?: Uint8Array, length = data?.length ?? 0): void =>
    wrapped.handleFrame({ header: { type, flag, streamID, length }, data: data ? new Uint8ArrayList(data) : undefined } as never)
  return { fast, wrapped, seen, sent, closers, sinks, frame }
}

test("a Go sender's one-packet stream: the echo acknowledges it, the bytes reach the sink, FIN is answered by FIN", () => {
  const { fast, seen, sent, sinks, frame } = setup()
  const packet = Uint8Array.from({ length: 1400 }, (_, i) => i % 251)
  frame(DATA, SYN, 2, concat(opening(PROTOCOL), packet))
  frame(WINDOW_UPDATE, FIN, 2)
  assert.equal(seen.length, 0, 'the muxer saw none of its frames')
  assert.equal(fast.stats.light, 1)
  assert.deepEqual(sent[0].header, { type: DATA, flag: ACK, streamID: 2, length: opening(PROTOCOL).length })
  assert.deepEqual(sent[0].data, opening(PROTOCOL))
  assert.deepEqual(sent[1].header, { type: WINDOW_UPDATE, flag: FIN, streamID: 2, length: 0 })
  assert.equal(sent.length, 2, 'no window update for one packet')
  assert.deepEqual(concat(...sinks[0].bytes), packet)
  assert.equal(sinks[0].ended, 1)
  // A late frame of the finished stream goes to the muxer, which ignores frames of unknown streams.
  frame(WINDOW_UPDATE, 0, 2, undefined, 0)
  assert.equal(seen.length, 1)
})

test('an opening split over frames, after a SYN without data, is still taken; data in the FIN frame arrives', () => {
  const { sent, sinks, frame } = setup()
  const open = opening(PROTOCOL)
  frame(WINDOW_UPDATE, SYN, 4, undefined, 0)
  frame(DATA, 0, 4, open.subarray(0, 5))
  assert.equal(sent.length, 0, 'nothing is sent while the opening is incomplete')
  frame(DATA, 0, 4, concat(open.subarray(5), Uint8Array.of(1, 2, 3)))
  frame(DATA, FIN, 4, Uint8Array.of(4, 5))
  assert.deepEqual(concat(...sinks[0].bytes), Uint8Array.of(1, 2, 3, 4, 5))
  assert.deepEqual(
    sent.map((s) => s.header.flag),
    [ACK, FIN],
  )
})

test('a long stream gets a window update each time half the window is used, and an overrun is reset', () => {
  const { sent, sinks, frame } = setup()
  frame(DATA, SYN, 6, opening(PROTOCOL))
  const chunk = new Uint8Array(32 * 1024)
  for (let i = 0; i < 16; i++) frame(DATA, 0, 6, chunk) // 512 KiB in all
  const updates = sent.filter((s) => s.header.type === WINDOW_UPDATE && s.header.flag === 0)
  assert.ok(updates.length >= 3, `${updates.length} window updates`)
  const credited = updates.reduce((n, u) => n + u.header.length, 0)
  assert.ok(credited >= 512 * 1024 - 128 * 1024 && credited <= 512 * 1024 + opening(PROTOCOL).length, `credited ${credited}`)
  assert.equal(sinks[0].ended, 0)

  // A sender that ignores the window: more than 256 KiB without an update owed is reset.
  const s = setup()
  s.frame(DATA, SYN, 8, opening(PROTOCOL))
  s.frame(DATA, 0, 8, new Uint8Array(100 * 1024))
  s.frame(DATA, 0, 8, new Uint8Array(20 * 1024))
  s.sent.length = 0
  // 120 KiB unacked so far, under half: no update; the next 200 KiB exceed the window.
  s.frame(DATA, 0, 8, new Uint8Array(200 * 1024))
  assert.deepEqual(s.sent.at(-1)!.header, { type: WINDOW_UPDATE, flag: RST, streamID: 8, length: 0 })
  assert.equal(s.sinks[0].ended, 1)
})

test('a refused stream is reset and never reaches the muxer', () => {
  const { fast, seen, sent, frame } = setup(() => false)
  frame(DATA, SYN, 2, concat(opening(PROTOCOL), Uint8Array.of(9)))
  assert.deepEqual(sent, [{ header: { type: WINDOW_UPDATE, flag: RST, streamID: 2, length: 0 }, data: undefined }])
  assert.equal(seen.length, 0)
  assert.equal(fast.stats.light, 0)
})

test('another protocol, or a stream that ends before its opening is complete, is replayed into the muxer frame by frame', () => {
  const { seen, sent, sinks, frame } = setup()
  frame(DATA, SYN, 2, concat(opening('/other/1'), Uint8Array.of(1)))
  assert.deepEqual(
    seen.map((h) => [h.streamID, h.flag]),
    [[2, SYN]],
  )
  frame(WINDOW_UPDATE, SYN, 4, undefined, 0)
  frame(DATA, 0, 4, opening(PROTOCOL).subarray(0, 3))
  assert.equal(seen.length, 1, 'still waiting for the rest of the opening')
  frame(WINDOW_UPDATE, FIN, 4)
  assert.deepEqual(
    seen.map((h) => [h.streamID, h.type, h.flag]),
    [
      [2, DATA, SYN],
      [4, WINDOW_UPDATE, SYN],
      [4, DATA, 0],
      [4, WINDOW_UPDATE, FIN],
    ],
  )
  assert.equal(sent.length, 0)
  assert.equal(sinks.length, 0)
  // A stream that sends empty frames without ever completing its opening is not held on to.
  frame(WINDOW_UPDATE, SYN, 6, undefined, 0)
  for (let i = 0; i < 15; i++) frame(DATA, 0, 6, new Uint8Array(0))
  assert.equal(seen.length, 20, 'its 16 frames replayed')
  frame(DATA, 0, 6, new Uint8Array(0))
  assert.equal(seen.length, 21, 'and the next go to the muxer at once')
  // Our own streams' frames (odd ids here) and session frames are the muxer's.
  frame(DATA, ACK, 3, Uint8Array.of(1))
  frame(2, SYN, 0, undefined, 7)
  assert.equal(seen.length, 23)
})

test(`at most ${MAX_LIGHT_STREAMS} streams per connection take the light path; the next ones take the usual way`, () => {
  const { seen, sinks, frame } = setup()
  for (let i = 0; i < MAX_LIGHT_STREAMS + 3; i++) frame(DATA, SYN, 2 * (i + 1), opening(PROTOCOL))
  assert.equal(sinks.length, MAX_LIGHT_STREAMS)
  assert.equal(seen.length, 3)
})

test("the connection's end ends every light stream once", () => {
  for (const closer of ['abort', 'onTransportClosed', 'close'] as const) {
    const { wrapped, sinks, closers, seen, frame } = setup()
    frame(DATA, SYN, 2, opening(PROTOCOL))
    frame(DATA, SYN, 4, opening(PROTOCOL))
    wrapped[closer]()
    wrapped.abort()
    assert.deepEqual(
      sinks.map((s) => s.ended),
      [1, 1],
      closer,
    )
    assert.equal(closers[0], closer, 'the muxer still closes')
    // New streams after that are the closing muxer's to refuse.
    frame(DATA, SYN, 6, opening(PROTOCOL))
    assert.equal(sinks.length, 2)
    assert.equal(seen.length, 1)
  }
})
