import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ifreqFor, IFF_NO_PI, IFF_TUN, tunSetIff } from '../../../src/vpn/tun/ioctl.js'

test('ifreq layout and TUNSETIFF number', () => {
  const ifr = ifreqFor('kairos0')
  assert.equal(ifr.length, 40)
  assert.equal(ifr.toString('latin1', 0, 7), 'kairos0')
  assert.ok(ifr.subarray(7, 16).every((b) => b === 0))
  assert.equal(ifr.readUInt16LE(16), IFF_TUN | IFF_NO_PI)
  assert.equal(ifr.readUInt16LE(16), 0x1001)
  assert.equal(tunSetIff('x64'), 0x400454ca)
  assert.equal(tunSetIff('arm64'), 0x400454ca)
  assert.equal(tunSetIff('ppc64'), 0x800454ca)
})
