import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatIPv6, ipDestination, ipSource, ipVersion, packetLength, PacketFramer, splitPackets } from '../../src/vpn/packet.js'

/** An IPv4 packet of `total` bytes (header 20 + options). */
function v4(src: number[], dst: number[], total: number, fill = 0xab, ihl = 5): Uint8Array {
  const p = new Uint8Array(total).fill(fill)
  p[0] = 0x40 | ihl
  p[1] = 0
  p[2] = total >> 8
  p[3] = total & 0xff
  p[9] = 17
  p.set(src, 12)
  p.set(dst, 16)
  return p
}

/** An IPv6 packet with `payload` bytes after the 40-byte header. */
function v6(src: number[], dst: number[], payload: number, fill = 0xcd): Uint8Array {
  const p = new Uint8Array(40 + payload).fill(fill)
  p[0] = 0x60
  p[1] = p[2] = p[3] = 0
  p[4] = payload >> 8
  p[5] = payload & 0xff
  p[6] = 58
  p[7] = 64
  p.set(src, 8)
  p.set(dst, 24)
  return p
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const a6 = (hex: string) => Array.from(Buffer.from(hex.replace(/:/g, ''), 'hex'))

test('addresses of IPv4 packets', () => {
  const p = v4([10, 1, 0, 254], [10, 1, 0, 2], 60)
  assert.equal(ipVersion(p), 4)
  assert.equal(ipSource(p), '10.1.0.254')
  assert.equal(ipDestination(p), '10.1.0.2')
})

test('addresses of IPv6 packets, written as Go writes them', () => {
  const p = v6(a6('fd00:0000:0000:0000:0000:0000:0000:0001'), a6('2001:0db8:0000:0000:0001:0000:0000:0001'), 8)
  assert.equal(ipVersion(p), 6)
  assert.equal(ipSource(p), 'fd00::1')
  assert.equal(ipDestination(p), '2001:db8::1:0:0:1')
  assert.equal(formatIPv6(new Uint8Array(16)), '::')
  assert.equal(formatIPv6(new Uint8Array(a6('0000:0000:0000:0000:0000:0000:0000:0001'))), '::1')
  assert.equal(formatIPv6(new Uint8Array(a6('fe80:0000:0000:0000:0000:0000:0000:0000'))), 'fe80::')
  assert.equal(formatIPv6(new Uint8Array(a6('2001:0db8:0000:0001:0001:0001:0001:0001'))), '2001:db8:0:1:1:1:1:1')
  assert.equal(formatIPv6(new Uint8Array(a6('2001:0000:0000:0001:0000:0000:0000:0001'))), '2001:0:0:1::1')
  assert.equal(formatIPv6(new Uint8Array(a6('2001:0db8:0000:0000:0001:0000:0000:0001'))), '2001:db8::1:0:0:1')
  assert.equal(formatIPv6(new Uint8Array(a6('0000:0000:0000:0000:0000:ffff:0a01:0002'))), '10.1.0.2')
})

test('no address for non-IP or truncated packets', () => {
  assert.equal(ipDestination(new Uint8Array(0)), null)
  assert.equal(ipDestination(new Uint8Array(19).fill(0x45)), null)
  assert.equal(ipDestination(new Uint8Array(39).fill(0x60)), null)
  assert.equal(ipDestination(new Uint8Array(40).fill(0x50)), null)
  assert.equal(ipSource(v4([1, 2, 3, 4], [5, 6, 7, 8], 20, 0, 4)), null) // IHL < 5
})

test('packetLength', () => {
  assert.equal(packetLength(v4([1, 1, 1, 1], [2, 2, 2, 2], 84)), 84)
  assert.equal(packetLength(v6([], [], 1000)), 1040)
  assert.equal(packetLength(new Uint8Array([0x45, 0])), 'short')
  assert.equal(packetLength(new Uint8Array([0x60, 0, 0, 0, 0])), 'short')
  assert.equal(packetLength(new Uint8Array(0)), 'short')
  assert.equal(packetLength(new Uint8Array([0x45, 0, 0, 19])), 'invalid')
  assert.equal(packetLength(new Uint8Array([0x46, 0, 0, 20])), 'invalid') // shorter than its 24-byte header
  assert.equal(packetLength(new Uint8Array([0x44, 0, 0, 40])), 'invalid')
  assert.equal(packetLength(new Uint8Array([0x00])), 'invalid')
  assert.equal(packetLength(new Uint8Array([0xff, 0xff])), 'invalid')
})

test('splitPackets: concatenated packets of both versions', () => {
  const a = v4([10, 0, 0, 1], [10, 0, 0, 2], 84, 1)
  const b = v6(a6('fd00::1'.padEnd(32, '0')), a6('fd00::2'.padEnd(32, '0')), 24, 2)
  const c = v4([10, 0, 0, 3], [10, 0, 0, 4], 20, 3)
  const d = v6([], [], 0, 4) // header only: a valid 40-byte packet
  const { packets, rest, dropped } = splitPackets(concat(a, b, c, d))
  assert.equal(packets.length, 4)
  assert.deepEqual(packets[0], a)
  assert.deepEqual(packets[1], b)
  assert.deepEqual(packets[2], c)
  assert.deepEqual(packets[3], d)
  assert.equal(rest.length, 0)
  assert.equal(dropped, 0)
})

test('splitPackets: an incomplete tail is kept as rest', () => {
  const a = v4([10, 0, 0, 1], [10, 0, 0, 2], 84)
  const b = v4([10, 0, 0, 1], [10, 0, 0, 3], 100)
  const buf = concat(a, b.subarray(0, 50))
  const { packets, rest, dropped } = splitPackets(buf)
  assert.equal(packets.length, 1)
  assert.deepEqual(rest, b.subarray(0, 50))
  assert.equal(dropped, 0)
  // Fewer bytes than the length field needs.
  assert.deepEqual(splitPackets(concat(a, new Uint8Array([0x45, 0]))).rest, new Uint8Array([0x45, 0]))
})

test('splitPackets: empty input', () => {
  const { packets, rest, dropped } = splitPackets(new Uint8Array(0))
  assert.equal(packets.length, 0)
  assert.equal(rest.length, 0)
  assert.equal(dropped, 0)
})

test('splitPackets: garbage drops the rest and terminates', () => {
  const a = v4([10, 0, 0, 1], [10, 0, 0, 2], 84)
  const cases: Uint8Array[] = [
    new Uint8Array([0x00, 0x00, 0x00, 0x00]), // bad version nibble
    new Uint8Array([0x45, 0x00, 0x00, 0x00, 1, 2, 3]), // total length 0 (would never advance)
    new Uint8Array([0x45, 0x00, 0x00, 0x13]), // total length 19 < header
    new Uint8Array([0x41, 0x00, 0x01, 0x00]), // IHL 1
    new Uint8Array(1000).fill(0xff),
  ]
  for (const garbage of cases) {
    const { packets, rest, dropped } = splitPackets(concat(a, garbage, a))
    assert.equal(packets.length, 1)
    assert.deepEqual(packets[0], a)
    assert.equal(rest.length, 0)
    assert.equal(dropped, garbage.length + a.length)
  }
  // Random bytes, many times: always terminates and never returns more bytes than it got.
  let seed = 42
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff
  for (let i = 0; i < 2000; i++) {
    const buf = new Uint8Array(1 + (rand() % 200)).map(() => rand())
    const { packets, rest, dropped } = splitPackets(buf)
    assert.equal(packets.reduce((n, p) => n + p.length, 0) + rest.length + dropped, buf.length)
  }
})

test('PacketFramer: packets split across chunks, byte by byte and in odd slices', () => {
  const packets = [v4([10, 0, 0, 1], [10, 0, 0, 2], 84, 1), v6([], [], 1200, 2), v4([10, 0, 0, 1], [10, 0, 0, 9], 1400, 3), v6([], [], 0, 4)]
  const stream = concat(...packets)
  for (const step of [1, 3, 7, 64, 1000, stream.length]) {
    const framer = new PacketFramer()
    const out: Uint8Array[] = []
    for (let o = 0; o < stream.length; o += step) {
      for (const p of framer.push(stream.subarray(o, o + step))) out.push(p.slice())
    }
    assert.equal(out.length, packets.length, `step ${step}`)
    out.forEach((p, i) => assert.deepEqual(p, packets[i], `step ${step} packet ${i}`))
    assert.equal(framer.buffered, 0)
    assert.equal(framer.end(), 0)
    assert.equal(framer.dropped, 0)
  }
})

test('PacketFramer: zero-length chunks and a truncated end', () => {
  const framer = new PacketFramer()
  assert.deepEqual(framer.push(new Uint8Array(0)), [])
  const a = v4([10, 0, 0, 1], [10, 0, 0, 2], 84)
  assert.deepEqual(framer.push(a.subarray(0, 10)), [])
  assert.deepEqual(framer.push(new Uint8Array(0)), [])
  assert.equal(framer.buffered, 10)
  assert.equal(framer.end(), 10)
  assert.equal(framer.dropped, 10)
})

test('PacketFramer: the pending tail is a copy, safe when the caller reuses its buffer', () => {
  const framer = new PacketFramer()
  const a = v4([10, 0, 0, 1], [10, 0, 0, 2], 84, 7)
  const chunk = new Uint8Array(100)
  chunk.set(a.subarray(0, 50))
  framer.push(chunk.subarray(0, 50))
  chunk.fill(0) // reused by the caller
  chunk.set(a.subarray(50))
  const out = framer.push(chunk.subarray(0, 34))
  assert.equal(out.length, 1)
  assert.deepEqual(out[0], a)
})

test('PacketFramer: garbage poisons the stream', () => {
  const framer = new PacketFramer()
  const a = v4([10, 0, 0, 1], [10, 0, 0, 2], 84)
  const out = framer.push(concat(a, new Uint8Array([0x12, 0x34])))
  assert.equal(out.length, 1)
  assert.equal(framer.corrupt, true)
  assert.equal(framer.dropped, 2)
  assert.deepEqual(framer.push(a), [])
  assert.equal(framer.dropped, 2 + a.length)
})
