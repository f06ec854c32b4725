import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { checksum, decodeBlock, encodeBlock, GENESIS_HASH, genesisBlock, type Block } from '../../src/ledger/block.js'
import { goTimeString } from '../../src/ledger/go-time.js'
import { compareSig, EntryError, legacyEntry, signEntrySync, signerFromPrivateKey, verifyEntry, type Entry, type Signer } from '../../src/ledger/entry.js'
import { Ledger, versionAfter, type LedgerOptions, type OwnershipMode } from '../../src/ledger/ledger.js'

const seed = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (n * 7 + i) & 0xff)
const A = signerFromPrivateKey(await generateKeyPairFromSeed('Ed25519', seed(1)))
const B = signerFromPrivateKey(await generateKeyPairFromSeed('Ed25519', seed(2)))

const T0 = new Date('2026-08-06T07:06:40.000Z')
const T0S = BigInt(T0.getTime() / 1000)
const T0NS = BigInt(T0.getTime()) * 1_000_000n
const rfc = (d: Date): string => JSON.stringify(d.toISOString().replace(/\.\d+Z$/, 'Z'))
const machine = (id: string, host = 'h'): string => JSON.stringify({ PeerID: id, Hostname: host, OS: 'linux', Arch: 'amd64', Address: '10.1.0.9', Version: '' })

/** A signed entry with chosen fields. */
function sign(s: Signer & { signSync(d: Uint8Array): Uint8Array }, bucket: string, key: string, value: string, version: bigint, o: { updatedAt?: bigint; deleted?: boolean } = {}): Entry {
  return signEntrySync(s, bucket, key, { value: o.deleted ? '' : value, version, updatedAt: o.updatedAt ?? T0S, deleted: o.deleted ?? false })
}

function blockOf(index: number, content: Record<string, Record<string, Entry>>, hash = 'h'.repeat(64)): Block {
  return { index, timestamp: 't', storage: new Map(Object.entries(content).map(([b, kv]) => [b, new Map(Object.entries(kv))])), hash, prevHash: '' }
}

interface Harness {
  ledger: Ledger
  logs: string[]
  setNow(d: Date): void
}

function harness(mode: OwnershipMode, extra: Partial<LedgerOptions> = {}): Harness {
  let now = T0
  const logs: string[] = []
  const ledger = new Ledger({ mode, ttlSeconds: 480, now: () => now, log: (level, msg) => logs.push(`${level}: ${msg}`), ...extra })
  return { ledger, logs, setNow: (d) => (now = d) }
}

/** A ledger already holding `content` (valid first claims, merged from the network). */
function seeded(mode: OwnershipMode, content: Record<string, Record<string, Entry>>, extra: Partial<LedgerOptions> = {}): Harness {
  const h = harness(mode, extra)
  h.ledger.update(blockOf(1, content))
  assert.deepEqual(h.logs, [], 'seed content must be accepted')
  return h
}

const healthy = (s: Signer, at = T0): Record<string, Entry> => ({ [s.id]: sign(s as typeof A, 'healthcheck', s.id, rfc(at), T0NS) })

describe('enforce: owned buckets', () => {
  test('first claim with a valid signature is accepted; a new block follows the old one', () => {
    const h = harness('enforce')
    const before = h.ledger.lastBlock()
    const e = sign(A, 'machines', '10.1.0.9', machine(A.id), T0NS)
    assert.equal(h.ledger.update(blockOf(0, { machines: { '10.1.0.9': e } })), true, 'the incoming Index is ignored')
    const after = h.ledger.lastBlock()
    assert.equal(after.index, before.index + 1)
    assert.equal(after.prevHash, before.hash)
    assert.equal(after.hash, checksum(after, 'v0.35'))
    assert.equal(after.timestamp, goTimeString(T0))
    assert.equal(h.ledger.getKey('machines', '10.1.0.9'), machine(A.id))
    assert.deepEqual(h.logs, [])
  })

  test('forged signature, wrong signer and unsigned entries are rejected (observe: accepted with a warning)', () => {
    const good = sign(A, 'machines', '10.1.0.9', machine(A.id), T0NS)
    const flipped = new Uint8Array(good.sig!)
    flipped[0] ^= 0x80
    const byB = sign(B, 'machines', '10.1.0.9', machine(A.id), T0NS)
    const cases: [string, Entry][] = [
      ['forged', { ...good, sig: flipped }],
      ['claims A, signed by B', { ...byB, owner: A.id }],
      ['legacy', legacyEntry(machine(A.id))],
      ['no sig', { ...good, sig: null }],
    ]
    for (const [name, e] of cases) {
      const enf = harness('enforce')
      assert.equal(enf.ledger.update(blockOf(1, { machines: { k: e } })), false, name)
      assert.equal(enf.ledger.getKey('machines', 'k'), undefined, name)
      assert.match(enf.logs.join('\n'), /warn: ownership violation \(rejected\): machines\/k from .*: invalid signature/, name)
      const obs = harness('observe')
      assert.equal(obs.ledger.update(blockOf(1, { machines: { k: e } })), true, name)
      assert.equal(obs.ledger.getKey('machines', 'k'), machine(A.id), name)
      assert.match(obs.logs.join('\n'), /warn: ownership violation \(observe, accepting\): machines\/k .*invalid signature/, name)
    }
  })

  test('the owner named by the value (PeerID) or by the key must be the signer', () => {
    const h = harness('enforce')
    assert.equal(h.ledger.update(blockOf(1, { machines: { k: sign(B, 'machines', 'k', machine(A.id), T0NS) } })), false)
    assert.match(h.logs.join('\n'), /value owner does not match signer/)
    assert.equal(h.ledger.update(blockOf(1, { machines: { k: sign(B, 'machines', 'k', '"not an object"', T0NS) } })), false)
    assert.equal(h.ledger.update(blockOf(1, { users: { [A.id]: sign(B, 'users', A.id, '{}', T0NS) } })), false)
    assert.equal(h.ledger.update(blockOf(1, { users: { [B.id]: sign(B, 'users', B.id, '{}', T0NS) } })), true)
    assert.equal(h.ledger.update(blockOf(1, { healthcheck: { [A.id]: sign(B, 'healthcheck', A.id, rfc(T0), T0NS) } })), false)
    assert.equal(h.ledger.update(blockOf(1, { egress: { [B.id]: sign(B, 'egress', B.id, '"ok"', T0NS) } })), true)
    // dns has no owner rule: the first signer owns the name.
    assert.equal(h.ledger.update(blockOf(1, { dns: { 'a.example': sign(B, 'dns', 'a.example', '{"1":"10.1.0.3"}', T0NS) } })), true)
  })

  test("another peer may overwrite only an expired entry (liveness from the owner's healthcheck)", () => {
    const mA = sign(A, 'machines', 'k', machine(A.id), T0NS)
    const mB = sign(B, 'machines', 'k', machine(B.id), T0NS + 10n)
    // A is live: rejected.
    let h = seeded('enforce', { healthcheck: healthy(A), machines: { k: mA } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: mB } })), false)
    assert.match(h.logs.join('\n'), /overwrite of a live entry owned by another peer/)
    // A's heartbeat older than the TTL: accepted.
    h.setNow(new Date(T0.getTime() + 481_000))
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: mB } })), true)
    assert.equal(h.ledger.getKey('machines', 'k'), machine(B.id))
    // A has no heartbeat at all: expired.
    h = seeded('enforce', { machines: { k: mA } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: mB } })), true)
  })

  test('liveness uses the healthcheck bucket as it was before this merge', () => {
    const mB = sign(B, 'machines', 'k', machine(B.id), T0NS)
    const mA = sign(A, 'machines', 'k', machine(A.id), T0NS + 1n)
    const h = seeded('enforce', { machines: { k: mB } })
    // The same block brings B's fresh heartbeat and A's takeover: B counted as dead.
    assert.equal(h.ledger.update(blockOf(9, { healthcheck: healthy(B), machines: { k: mA } })), true)
    assert.equal(h.ledger.getKey('machines', 'k'), machine(A.id))
    assert.notEqual(h.ledger.getKey('healthcheck', B.id), undefined)
  })

  test('the owner updates with a higher version; a lower one is a rollback', () => {
    const h = seeded('enforce', { healthcheck: healthy(A), machines: { k: sign(A, 'machines', 'k', machine(A.id, 'v2'), T0NS + 5n) } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(A, 'machines', 'k', machine(A.id, 'v1'), T0NS + 4n) } })), false)
    assert.match(h.logs.join('\n'), /rollback to an older version/)
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(A, 'machines', 'k', machine(A.id, 'v3'), T0NS + 6n) } })), true)
    assert.equal(h.ledger.getKey('machines', 'k'), machine(A.id, 'v3'))
  })

  test('equal versions: same owner, the higher signature wins', () => {
    const x = sign(A, 'machines', 'k', machine(A.id, 'x'), T0NS)
    const y = sign(A, 'machines', 'k', machine(A.id, 'y'), T0NS)
    const [lo, hi] = compareSig(x.sig, y.sig) < 0 ? [x, y] : [y, x]
    let h = seeded('enforce', { healthcheck: healthy(A), machines: { k: lo } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: hi } })), true)
    h = seeded('enforce', { healthcheck: healthy(A), machines: { k: hi } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: lo } })), false)
    assert.match(h.logs.join('\n'), /lost deterministic tie-break/)
  })

  test('equal versions over an expired entry: the higher owner id wins', () => {
    const [hiS, loS] = A.id > B.id ? [A, B] : [B, A]
    const fromHi = sign(hiS, 'dns', 'n', '{}', T0NS)
    const fromLo = sign(loS, 'dns', 'n', '{}', T0NS)
    let h = seeded('enforce', { dns: { n: fromLo } })
    assert.equal(h.ledger.update(blockOf(9, { dns: { n: fromHi } })), true)
    h = seeded('enforce', { dns: { n: fromHi } })
    assert.equal(h.ledger.update(blockOf(9, { dns: { n: fromLo } })), false)
    assert.match(h.logs.join('\n'), /lost deterministic tie-break/)
  })

  test('tombstones: by the owner with a higher version; by others only over expired entries', () => {
    const mA = sign(A, 'machines', 'k', machine(A.id), T0NS)
    let h = seeded('enforce', { healthcheck: healthy(A), machines: { k: mA } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { gone: sign(A, 'machines', 'gone', '', T0NS + 1n, { deleted: true }) } })), false)
    assert.match(h.logs.join('\n'), /tombstone for unknown key/)
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(A, 'machines', 'k', '', T0NS, { deleted: true }) } })), false)
    assert.match(h.logs.join('\n'), /stale tombstone/)
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(B, 'machines', 'k', '', T0NS + 1n, { deleted: true }) } })), false)
    assert.match(h.logs.join('\n'), /tombstone by non-owner of a live entry/)
    // Tombstones need no PeerID in their (empty) value.
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(A, 'machines', 'k', '', T0NS + 1n, { deleted: true }) } })), true)
    assert.equal(h.ledger.getKey('machines', 'k'), undefined)
    assert.equal(h.ledger.currentData().machines, undefined, 'a bucket without live keys disappears')
    assert.equal(h.ledger.entries('machines')[0].deleted, true)
    // Expired owner: anyone's tombstone is accepted (the reaper's case).
    h = seeded('enforce', { machines: { k: mA } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(B, 'machines', 'k', '', T0NS + 1n, { deleted: true }) } })), true)
  })

  test('a tombstone is a free slot: anyone re-claims it with a higher version', () => {
    const tomb = sign(A, 'machines', 'k', '', T0NS + 5n, { deleted: true })
    const h = seeded('enforce', { healthcheck: healthy(A), machines: { k: sign(A, 'machines', 'k', machine(A.id), T0NS) } })
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: tomb } })), true)
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(B, 'machines', 'k', machine(B.id), T0NS + 5n) } })), false)
    assert.match(h.logs.join('\n'), /stale re-claim over tombstone/)
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(B, 'machines', 'k', machine(B.id), T0NS + 6n) } })), true)
    assert.equal(h.ledger.getKey('machines', 'k'), machine(B.id))
  })

  test('a legacy existing entry is owned by the peer its value names (v0.35.4 rule)', () => {
    // An enforce ledger without a signer writes legacy entries locally.
    const make = (): Harness => {
      const h = seeded('enforce', { healthcheck: healthy(A) })
      const local = new Ledger({ mode: 'enforce', now: () => T0 })
      local.update(h.ledger.lastBlock())
      local.add('machines', 'k', machine(A.id))
      local.add('dns', 'n', '{}')
      return { ...h, ledger: local }
    }
    let h = make()
    assert.deepEqual(h.ledger.entries('machines')[0].owner, '')
    assert.equal(h.ledger.update(blockOf(9, { machines: { k: sign(B, 'machines', 'k', machine(B.id), T0NS) } })), false, 'A is live')
    // Without an owner rule (dns) the legacy entry has no owner, hence never live.
    assert.equal(h.ledger.update(blockOf(9, { dns: { n: sign(B, 'dns', 'n', '{"1":"x"}', T0NS) } })), true)
    h = make()
    const later = new Ledger({ mode: 'enforce', now: () => new Date(T0.getTime() + 600_000) })
    later.update(h.ledger.lastBlock())
    assert.equal(later.update(blockOf(9, { machines: { k: sign(B, 'machines', 'k', machine(B.id), T0NS) } })), true, 'A expired')
  })

  test('healthcheck entries expire absolutely, TTL after their UpdatedAt', () => {
    const hcA = sign(A, 'healthcheck', A.id, rfc(T0), T0NS, { updatedAt: T0S })
    const tombByB = sign(B, 'healthcheck', A.id, '', T0NS + 1n, { deleted: true })
    const h = seeded('enforce', { healthcheck: { [A.id]: hcA } })
    h.setNow(new Date(T0.getTime() + 480_000))
    assert.equal(h.ledger.update(blockOf(9, { healthcheck: { [A.id]: tombByB } })), false, 'at exactly TTL: not yet expired')
    h.setNow(new Date(T0.getTime() + 480_001))
    assert.equal(h.ledger.update(blockOf(9, { healthcheck: { [A.id]: tombByB } })), true)
  })

  test('identical entries are skipped silently; missing keys are kept', () => {
    const e = sign(A, 'kairos', 'k', '"v"', T0NS)
    const h = seeded('enforce', { kairos: { k: e, other: sign(A, 'kairos', 'other', '"o"', T0NS) } })
    const before = h.ledger.lastBlock()
    assert.equal(h.ledger.update(blockOf(100, { kairos: { k: { ...e, sig: new Uint8Array(e.sig!) } } })), false)
    assert.equal(h.ledger.lastBlock(), before)
    assert.deepEqual(h.logs, [])
    assert.equal(h.ledger.getKey('kairos', 'other'), '"o"')
  })
})

describe('open buckets (observe and enforce alike)', () => {
  for (const mode of ['observe', 'enforce'] as const) {
    test(`${mode}: strictly higher Version wins, nothing is verified`, () => {
      const s1 = sign(A, 'kairos', 'k', '"1"', T0NS)
      const h = seeded(mode, { kairos: { k: s1 } })
      assert.equal(h.ledger.update(blockOf(9, { kairos: { k: sign(B, 'kairos', 'k', '"same version"', T0NS) } })), false)
      assert.equal(h.ledger.update(blockOf(9, { kairos: { k: sign(B, 'kairos', 'k', '"lower"', T0NS - 1n) } })), false)
      assert.equal(h.ledger.update(blockOf(9, { kairos: { k: legacyEntry('"legacy"') } })), false, 'legacy cannot update')
      const forged = { ...sign(B, 'kairos', 'k', '"forged"', T0NS + 1n), owner: A.id }
      assert.equal(h.ledger.update(blockOf(9, { kairos: { k: forged } })), true)
      assert.equal(h.ledger.getKey('kairos', 'k'), '"forged"')
      // Legacy entries may create keys, but never update them.
      assert.equal(h.ledger.update(blockOf(9, { kairos: { n: legacyEntry('"new"') } })), true)
      assert.equal(h.ledger.update(blockOf(9, { kairos: { n: legacyEntry('"newer"') } })), false)
      assert.equal(h.ledger.getKey('kairos', 'n'), '"new"')
      // A signed tombstone with a higher version deletes.
      assert.equal(h.ledger.update(blockOf(9, { kairos: { n: sign(B, 'kairos', 'n', '', 1n, { deleted: true }) } })), true)
      assert.equal(h.ledger.getKey('kairos', 'n'), undefined)
      assert.deepEqual(h.logs, [])
    })
  }
})

describe('off: whole-block replacement (v0.34 rule)', () => {
  test('higher Index, or equal Index with a higher Hash, replaces everything', () => {
    const h = harness('off')
    const lo = '1'.repeat(64)
    const hi = 'f'.repeat(64)
    const signed = sign(A, 'machines', 'k', machine(B.id), T0NS) // not even valid ownership: off checks nothing
    const b5 = blockOf(5, { kairos: { a: legacyEntry('"1"') }, machines: { k: signed } }, lo)
    assert.equal(h.ledger.update(b5), true)
    assert.equal(h.ledger.lastBlock().index, 5)
    assert.equal(h.ledger.lastBlock().hash, lo)
    assert.equal(h.ledger.getKey('machines', 'k'), machine(B.id))
    assert.equal(h.ledger.update(blockOf(4, { kairos: { b: legacyEntry('"x"') } }, hi)), false, 'lower index')
    assert.equal(h.ledger.update(blockOf(5, { kairos: { b: legacyEntry('"x"') } }, '0'.repeat(64))), false, 'same index, lower hash')
    assert.equal(h.ledger.update(blockOf(5, { kairos: { b: legacyEntry('"x"') } }, lo)), false, 'same index, same hash')
    assert.equal(h.ledger.update(blockOf(5, { kairos: { b: legacyEntry('"y"') } }, hi)), true)
    assert.equal(h.ledger.getKey('kairos', 'a'), undefined, 'keys missing from the adopted block are gone')
    assert.equal(h.ledger.getKey('kairos', 'b'), '"y"')
    assert.equal(h.ledger.update(blockOf(6, {}, '')), true)
    assert.deepEqual(h.ledger.currentData(), {})
  })

  test('writes are legacy even with a signer; deletes remove keys and buckets', () => {
    const h = harness('off', { signer: A })
    assert.equal(h.ledger.signerId, undefined)
    assert.equal(h.ledger.put('kairos', 'k', 'v'), true)
    const b1 = h.ledger.lastBlock()
    assert.deepEqual(b1.storage.get('kairos')!.get('k'), legacyEntry('"v"'))
    assert.equal(b1.index, 1)
    assert.equal(b1.prevHash, GENESIS_HASH)
    assert.equal(b1.hash, checksum(b1, 'v0.34'))
    assert.equal(h.ledger.put('kairos', 'k', 'v'), false, 'unchanged')
    assert.equal(h.ledger.delete('kairos', 'k'), true)
    assert.deepEqual([...h.ledger.lastBlock().storage.get('kairos')!.keys()], [])
    assert.equal(h.ledger.delete('kairos', 'k'), false)
    assert.equal(h.ledger.deleteBucket('kairos'), true, 'an empty bucket is still a bucket')
    assert.equal(h.ledger.lastBlock().storage.has('kairos'), false)
    assert.equal(h.ledger.deleteBucket('kairos'), false)
    assert.equal(h.ledger.index, 3)
  })
})

describe('signed writes', () => {
  test('versions, idempotent re-announce, tombstones, re-claim', () => {
    const h = harness('enforce', { signer: A })
    assert.equal(h.ledger.put('machines', 'k', { PeerID: A.id, Hostname: '<h>' }), true)
    const e1 = h.ledger.lastBlock().storage.get('machines')!.get('k')!
    assert.equal(e1.value, `{"PeerID":"${A.id}","Hostname":"\\u003ch\\u003e"}`)
    assert.equal(e1.owner, A.id)
    assert.equal(e1.version, T0NS)
    assert.equal(e1.updatedAt, T0S)
    assert.equal(verifyEntry('machines', 'k', e1), true)
    const idx = h.ledger.index
    assert.equal(h.ledger.put('machines', 'k', { PeerID: A.id, Hostname: '<h>' }), false, 're-announcing keeps the entry')
    assert.equal(h.ledger.index, idx)
    assert.equal(h.ledger.add('machines', 'k', `{"PeerID":"${A.id}"}`), true)
    assert.equal(h.ledger.lastBlock().storage.get('machines')!.get('k')!.version, T0NS + 1n, 'same clock: prev + 1')
    assert.equal(h.ledger.delete('machines', 'k'), true)
    const tomb = h.ledger.lastBlock().storage.get('machines')!.get('k')!
    assert.deepEqual({ ...tomb, sig: null }, { value: '', owner: A.id, version: T0NS + 2n, updatedAt: T0S, deleted: true, sig: null })
    assert.equal(verifyEntry('machines', 'k', tomb), true)
    assert.equal(h.ledger.delete('machines', 'k'), false, 'already a tombstone')
    assert.equal(h.ledger.delete('machines', 'missing'), false)
    h.setNow(new Date(T0.getTime() + 1000))
    assert.equal(h.ledger.add('machines', 'k', `{"PeerID":"${A.id}"}`), true)
    assert.equal(h.ledger.lastBlock().storage.get('machines')!.get('k')!.version, T0NS + 1_000_000_000n, 'a later clock wins')
  })

  test('deleteBucket tombstones every live key; readers hide them', () => {
    const h = harness('observe', { signer: A })
    h.ledger.addAll('kairos', { a: '"1"', b: '"2"' })
    h.ledger.put('other', 'x', 1)
    assert.deepEqual(h.ledger.currentData(), { kairos: { a: '"1"', b: '"2"' }, other: { x: '1' } })
    assert.equal(h.ledger.deleteBucket('kairos'), true)
    assert.deepEqual(h.ledger.currentData(), { other: { x: '1' } })
    assert.deepEqual(
      h.ledger.entries('kairos').map((e) => [e.key, e.deleted, e.owner, e.signed]),
      [
        ['a', true, A.id, true],
        ['b', true, A.id, true],
      ],
    )
    assert.equal(h.ledger.deleteBucket('kairos'), false)
    assert.equal(
      h.ledger.exists('other', (v) => v === '1'),
      true,
    )
    assert.equal(
      h.ledger.exists('kairos', () => true),
      false,
    )
  })

  test('another enforce ledger accepts our blocks after a JSON round trip with exact 64-bit versions', () => {
    const a = harness('enforce', { signer: A })
    a.ledger.put('healthcheck', A.id, '2026-08-06T07:06:40Z')
    a.ledger.put('machines', '10.1.0.9', JSON.parse(machine(A.id)))
    a.ledger.put('kairos', 'k', 'v')
    const wire = encodeBlock(a.ledger.lastBlock(), { legacy: false })
    assert.match(wire, new RegExp(`"Version":${T0NS}`))
    const b = harness('enforce', { signer: B })
    assert.equal(b.ledger.update(decodeBlock(wire)), true)
    assert.deepEqual(b.ledger.currentData(), a.ledger.currentData())
    assert.deepEqual(b.logs, [])
    // B cannot take A's live machine; A's ledger refuses it.
    b.ledger.put('machines', '10.1.0.9', JSON.parse(machine(B.id)))
    assert.equal(a.ledger.update(decodeBlock(encodeBlock(b.ledger.lastBlock(), { legacy: false }))), false)
    assert.equal(a.ledger.getKey('machines', '10.1.0.9'), machine(A.id))
  })

  test('versionAfter: max(prev + 1, now in ns), uint64 wrap', () => {
    assert.equal(versionAfter(0n, T0), T0NS)
    assert.equal(versionAfter(T0NS + 5n, T0), T0NS + 6n)
    assert.equal(versionAfter((1n << 64n) - 1n, T0), T0NS)
  })

  test('an asynchronous signer cannot write synchronously', () => {
    const h = harness('enforce', { signer: { id: A.id, sign: async (d: Uint8Array) => A.signSync(d) } })
    assert.throws(() => h.ledger.put('kairos', 'k', 'v'), EntryError)
    assert.equal(h.ledger.index, 0)
  })

  test('isOwnerLive', () => {
    const h = seeded('enforce', { healthcheck: healthy(A) })
    assert.equal(h.ledger.isOwnerLive(A.id), true)
    assert.equal(h.ledger.isOwnerLive(B.id), false)
    assert.equal(harness('off').ledger.isOwnerLive(B.id), true)
  })
})

describe('change notifications', () => {
  test('onChange and the change event report local and network changes; listener errors are contained', () => {
    const seen: string[] = []
    const h = harness('enforce', { signer: A, onChange: (b, origin) => seen.push(`cb:${origin}:${b.index}`) })
    h.ledger.on('change', (b, origin) => seen.push(`ev:${origin}:${b.index}`))
    h.ledger.on('change', () => {
      throw new Error('boom')
    })
    h.ledger.put('kairos', 'k', 'v')
    h.ledger.update(blockOf(1, { kairos: { n: legacyEntry('"x"') } }))
    h.ledger.update(blockOf(1, { kairos: { n: legacyEntry('"x"') } }))
    assert.deepEqual(seen, ['cb:local:1', 'ev:local:1', 'cb:network:2', 'ev:network:2'])
    assert.match(h.logs.join('\n'), /boom/)
  })
})

describe('malformed input never throws out of update', () => {
  const good = sign(A, 'kairos', 'k', '"v"', T0NS)
  const junk: unknown[] = [
    null,
    undefined,
    42,
    'block',
    {},
    { index: 1, timestamp: 't', hash: 'h', prevHash: '', storage: {} },
    { index: 1, timestamp: 't', hash: 'h', prevHash: '', storage: new Map([['b', {}]]) },
    { index: '1', timestamp: 't', hash: 'h', prevHash: '', storage: new Map() },
    blockOf(7, { kairos: { k: { ...good, version: 5 as unknown as bigint } } }),
    blockOf(7, { kairos: { k: { ...good, version: -1n } } }),
    blockOf(7, { kairos: { k: { ...good, sig: 'AQ==' as unknown as Uint8Array } } }),
    blockOf(7, { machines: { k: null as unknown as Entry } }),
    new Proxy(
      {},
      {
        get: () => {
          throw new Error('hostile')
        },
      },
    ),
  ]
  for (const mode of ['off', 'observe', 'enforce'] as const) {
    test(mode, () => {
      const h = harness(mode)
      for (const j of junk) assert.doesNotThrow(() => h.ledger.update(j as Block))
      assert.equal(h.ledger.index, 0)
      assert.deepEqual(h.ledger.currentData(), {})
    })
  }

  test('random mutations of a real block: decodeBlock fails cleanly, update never throws', () => {
    const src = harness('enforce', { signer: A })
    src.ledger.put('healthcheck', A.id, '2026-08-06T07:06:40Z')
    src.ledger.put('machines', '10.1.0.9', JSON.parse(machine(A.id)))
    src.ledger.put('kairos', 'k', 'v')
    const text = encodeBlock(src.ledger.lastBlock(), { legacy: false })
    const dst = harness('enforce')
    let state = 12345
    const rnd = (n: number): number => ((state = (state * 1103515245 + 12345) % 2147483648), state % n)
    const alphabet = '{}[]":,0123456789-.eE truefalsnl\\"'
    for (let i = 0; i < 2000; i++) {
      const chars = [...text]
      for (let k = 0; k <= rnd(3); k++) chars[rnd(chars.length)] = alphabet[rnd(alphabet.length)]
      let block: Block | undefined
      try {
        block = decodeBlock(chars.join(''))
      } catch (err) {
        assert.equal((err as Error).name, 'BlockError')
      }
      if (block) assert.doesNotThrow(() => dst.ledger.update(block))
    }
  })
})

test('genesis', () => {
  const g = genesisBlock(T0)
  assert.deepEqual(g, { index: 0, timestamp: '2026-08-06 07:06:40 +0000 UTC', storage: new Map(), hash: GENESIS_HASH, prevHash: '' })
  assert.deepEqual(harness('enforce').ledger.lastBlock(), g)
})
