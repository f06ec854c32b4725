import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseGoRfc3339 } from '../../src/ledger/go-time.js'
import { BUCKET_POLICIES, expiredAbsolute, isLive, ownerFromPeerId, ownerIsKey, policyOf } from '../../src/ledger/policy.js'

describe('bucket policy registry', () => {
  test('owned buckets, owner rules, expiry kinds', () => {
    assert.deepEqual(Object.keys(BUCKET_POLICIES).sort(), ['dns', 'egress', 'files', 'healthcheck', 'machines', 'services', 'users'])
    for (const b of ['machines', 'services', 'files']) assert.deepEqual(policyOf(b), { owned: true, ownerOf: ownerFromPeerId, expiry: 'liveness', reclaimable: true })
    for (const b of ['users', 'egress']) assert.deepEqual(policyOf(b), { owned: true, ownerOf: ownerIsKey, expiry: 'liveness', reclaimable: false })
    assert.deepEqual(policyOf('healthcheck'), { owned: true, ownerOf: ownerIsKey, expiry: 'absolute', reclaimable: false })
    assert.deepEqual(policyOf('dns'), { owned: true, expiry: 'liveness', reclaimable: true })
    for (const b of ['kairos', 'dhcp', 'trustzone', 'trustzoneAuth', 'toString', '__proto__', '']) assert.equal(policyOf(b).owned, false, b)
  })

  test('ownerFromPeerId reads PeerID like Go json.Unmarshal into struct{PeerID string}', () => {
    assert.equal(ownerFromPeerId('k', '{"PeerID":"a","Hostname":"h"}'), 'a')
    assert.equal(ownerFromPeerId('k', '{"peerid":"a"}'), 'a')
    assert.equal(ownerFromPeerId('k', '{"PeerID":"a","PEERID":"b"}'), 'b')
    assert.equal(ownerFromPeerId('k', '{"PeerID":"a","PeerID":1}'), 'a', 'a later non-string leaves the field')
    assert.equal(ownerFromPeerId('k', '{"PeerID":null}'), '')
    assert.equal(ownerFromPeerId('k', '"a"'), '')
    assert.equal(ownerFromPeerId('k', '{"PeerID":"a"'), '')
    assert.equal(ownerFromPeerId('k', ''), '')
    assert.equal(ownerIsKey('k', 'v'), 'k')
  })
})

describe('time and expiry', () => {
  test('parseGoRfc3339 accepts what Go time.Parse(RFC3339) accepts', () => {
    const ok: [string, string][] = [
      ['2026-08-06T07:06:40Z', '2026-08-06T07:06:40.000Z'],
      ['2026-08-06T7:06:40Z', '2026-08-06T07:06:40.000Z'],
      ['2026-08-06T07:06:40,5Z', '2026-08-06T07:06:40.500Z'],
      ['2024-02-29T07:06:40Z', '2024-02-29T07:06:40.000Z'],
      ['2026-08-06T07:06:40+24:00', '2026-08-05T07:06:40.000Z'],
      ['2026-08-06T07:06:40+01:60', '2026-08-06T05:06:40.000Z'],
      ['2026-08-06T07:06:40-00:00', '2026-08-06T07:06:40.000Z'],
      ['2026-08-06T07:06:40.25+02:00', '2026-08-06T05:06:40.250Z'],
    ]
    for (const [s, iso] of ok) assert.equal(parseGoRfc3339(s), BigInt(Date.parse(iso)) * 1_000_000n, s)
    assert.equal(parseGoRfc3339('2026-08-06T07:06:40.123456789123Z'), BigInt(Date.parse('2026-08-06T07:06:40Z')) * 1_000_000n + 123456789n)
    assert.equal(parseGoRfc3339('0000-01-01T00:00:00Z'), -62167219200n * 1_000_000_000n)
    for (const bad of [
      '2026-08-06t07:06:40Z',
      '2026-08-06T07:06:40z',
      '2026-02-29T07:06:40Z',
      '2026-08-06T24:00:00Z',
      '2026-08-06T07:06:60Z',
      '2026-08-06T07:06:40+0100',
      '2026-08-06T07:06:40.Z',
      '2026-08-06T07:06:40+00:00 ',
      ' 2026-08-06T07:06:40Z',
      '2026-8-06T07:06:40Z',
      '2026-08-06T07:6:40Z',
      '2026-08-06T07:06:4Z',
      '+2026-08-06T07:06:40Z',
      '2026-08-06T07:06:40+25:00',
      '2026-08-06T07:06:40+01:61',
      '2026-13-01T00:00:00Z',
      '2026-00-01T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '',
    ]) {
      assert.equal(parseGoRfc3339(bad), undefined, bad)
    }
  })

  test('isLive: the healthcheck time plus TTL must be after now (any ledger view)', () => {
    const now = new Date('2026-08-06T07:10:00Z')
    const hc = new Map([
      ['a', '"2026-08-06T07:06:40Z"'],
      ['b', 'null'],
      ['c', '"yesterday"'],
      ['d', '12'],
      ['e', 'not json'],
    ])
    assert.equal(isLive(hc, 'a', 480, now), true)
    assert.equal(isLive(hc, 'a', 200, now), false, 'exactly at the boundary is not after')
    assert.equal(isLive(hc, 'a', 200.001, now), true)
    for (const p of ['b', 'c', 'd', 'e', 'missing']) assert.equal(isLive(hc, p, 1e6, now), false, p)
    assert.equal(isLive({ a: '"2026-08-06T07:06:40Z"' }, 'a', 480, now), true)
    assert.equal(isLive({ a: '"2026-08-06T07:06:40Z"' }, 'toString', 480, now), false)
    const view = { getKey: (b: string, k: string) => (b === 'healthcheck' && k === 'a' ? '"2026-08-06T07:06:40Z"' : undefined) }
    assert.equal(isLive(view, 'a', 480, now), true)
    assert.equal(isLive(view, 'b', 480, now), false)
  })

  test('expiredAbsolute: strictly before now, with Go int64 wrap-around', () => {
    const now = new Date(1_786_000_000_000)
    assert.equal(expiredAbsolute(1_786_000_000n - 480n, 480, now), false, 'equal is not before')
    assert.equal(expiredAbsolute(1_786_000_000n - 481n, 480, now), true)
    assert.equal(expiredAbsolute(1_786_000_000n, 480, now), false)
    assert.equal(expiredAbsolute(0n, 480, now), true)
    assert.equal(expiredAbsolute((1n << 63n) - 62135596800n - 1n, 480, now), false, 'saturates, far future')
    assert.equal(expiredAbsolute((1n << 63n) - 1n, 480, now), true, 'time.Unix overflows to the far past')
  })
})
