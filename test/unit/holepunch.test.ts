import assert from 'node:assert/strict'
import { test } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeHolePunch, encodeHolePunch, isPublicIPv4 } from '../../src/peer/nat/holepunch.js'

test('DCUtR messages: protobuf HolePunch as go-libp2p writes it (type 1 varint, ObsAddrs 2 bytes)', () => {
  assert.deepEqual(encodeHolePunch(300, []), Uint8Array.of(0x08, 0xac, 0x02))
  const addr = multiaddr('/ip4/11.0.2.1/tcp/4001').bytes
  const connect = encodeHolePunch(100, [addr])
  assert.deepEqual(connect, Uint8Array.of(0x08, 0x64, 0x12, addr.length, ...addr))
  const back = decodeHolePunch(connect)
  assert.equal(back.type, 100)
  assert.equal(multiaddr(back.addrs[0]).toString(), '/ip4/11.0.2.1/tcp/4001')
  // Fields in another order and unknown varint fields are read as protobuf allows.
  assert.deepEqual(decodeHolePunch(Uint8Array.of(0x12, 1, 7, 0x18, 5, 0x08, 0x64)), { type: 100, addrs: [Uint8Array.of(7)] })
})

test('DCUtR messages: malformed bytes are refused, not misread', () => {
  for (const bad of [Uint8Array.of(), Uint8Array.of(0x08), Uint8Array.of(0x08, 0x64, 0x12, 9, 1), Uint8Array.of(0x0d, 0, 0, 0, 0), Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)]) {
    assert.throws(() => decodeHolePunch(bad), Error, Buffer.from(bad).toString('hex'))
  }
})

test('public IPv4: what go-libp2p would dial for a hole punch', () => {
  for (const ip of ['11.0.1.1', '8.8.8.8', '100.63.0.1', '172.32.0.1', '192.169.0.1']) assert.equal(isPublicIPv4(ip), true, ip)
  for (const ip of [
    '10.1.2.3',
    '127.0.0.1',
    '192.168.20.1',
    '172.16.0.1',
    '100.64.0.1',
    '169.254.1.1',
    '0.0.0.0',
    '224.0.0.251',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '198.18.0.1',
    '1.2.3',
    'x.1.2.3',
  ]) {
    assert.equal(isPublicIPv4(ip), false, ip)
  }
})
