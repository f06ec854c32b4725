import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { checksum, decodeBlock, encodeBlock, genesisBlock, type Block } from '../../src/ledger/block.js'
import { goTimeString } from '../../src/ledger/go-time.js'
import { canonicalBytes, decodeEntry, encodeEntry, signerFromPrivateKey, verifyEntry, type Entry } from '../../src/ledger/entry.js'
import { goJsonString, goJsonStringify, parseJson } from '../../src/ledger/json.js'
import { Ledger } from '../../src/ledger/ledger.js'
import { noVectors, vectors } from '../helpers/vectors.js'

// Without the vectors, the vector tests skip; the others sign with any key.
const seedKey = vectors ? await generateKeyPairFromSeed('Ed25519', Buffer.from(vectors.identity.seed_hex, 'hex')) : await generateKeyPair('Ed25519')
const seedSigner = signerFromPrivateKey(seedKey)

test('identity from the vector seed', { skip: noVectors }, () => {
  assert.equal(seedSigner.id, vectors.identity.peer_id)
})

test('signed entries: canonical bytes, signature and wire JSON match the vectors', { skip: noVectors }, () => {
  for (const v of vectors.signed_entries) {
    const e: Entry = { value: v.value, owner: v.owner, version: BigInt(v.version), updatedAt: BigInt(v.updated_at), deleted: v.deleted, sig: null }
    assert.equal(Buffer.from(canonicalBytes(v.bucket, v.key, e)).toString('hex'), v.canonical_hex)
    const sig = seedSigner.signSync(canonicalBytes(v.bucket, v.key, e))
    assert.equal(Buffer.from(sig).toString('base64'), v.signature_b64)
    const signed = { ...e, sig }
    assert.equal(encodeEntry(signed), v.wire_json)
    const back = decodeEntry(parseJson(v.wire_json))
    assert.deepEqual(back, { ...signed, sig: new Uint8Array(sig) })
    assert.equal(verifyEntry(v.bucket, v.key, back), true)
    assert.equal(verifyEntry(v.bucket, v.key + 'x', back), false, 'bound to the key')
  }
})

test('legacy entries are bare JSON strings', { skip: noVectors }, () => {
  const v = vectors.legacy_entry
  const e = decodeEntry(parseJson(v.wire_json))
  assert.equal(e.value, v.value)
  assert.equal(encodeEntry(e), v.wire_json)
})

test('blocks: decode/encode round trip and Go checksums', { skip: noVectors }, () => {
  const b = vectors.blocks
  const block = decodeBlock(b.mixed_block_v035.json)
  assert.equal(encodeBlock(block, { legacy: false }), b.mixed_block_v035.json)
  assert.equal(checksum(block, 'v0.35'), b.mixed_block_v035.hash)
  assert.equal(genesisBlock().hash, b.genesis.hash)
  const legacyOnly: Block = { ...block, storage: new Map([['kairos', block.storage.get('kairos')!]]) }
  assert.equal(checksum(legacyOnly, 'v0.35'), b.legacy_only_block_checksum_v035.hash)
  assert.equal(checksum(legacyOnly, 'v0.34'), b.legacy_only_block_checksum_v034.hash)
  // Legacy encoding never carries a signed object (v0.34 would drop the whole block).
  assert.doesNotMatch(encodeBlock(block, { legacy: true }), /"Owner"/)
})

test('JSON keeps 64-bit integers and escapes strings like Go', () => {
  assert.deepEqual(parseJson('{"Version":18446744073709551615,"n":1.5,"s":"a\\u003cb"}'), { Version: 18446744073709551615n, n: 1.5, s: 'a<b' })
  assert.equal(goJsonString('<a&b>\u2028'), '"\\u003ca\\u0026b\\u003e\\u2028"')
  assert.equal(goJsonStringify({ PeerID: 'x', N: 9223372036854775807n }), '{"PeerID":"x","N":9223372036854775807}')
  assert.throws(() => parseJson('{"a":1'), /offset/)
  assert.equal(goTimeString(new Date('2026-08-06T07:06:40.120Z')), '2026-08-06 07:06:40.12 +0000 UTC')
})

async function twoSigners() {
  return [signerFromPrivateKey(await generateKeyPair('Ed25519')), signerFromPrivateKey(await generateKeyPair('Ed25519'))]
}
const hc = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z')
const machine = (id: string) => ({ PeerID: id, Hostname: 'h', OS: 'linux', Arch: 'amd64', Address: '10.1.0.9', Version: '' })

test('enforce: signed writes merge per key; forged and unsigned owned entries are rejected', async () => {
  const [a, b] = await twoSigners()
  const la = new Ledger({ mode: 'enforce', signer: a })
  const lb = new Ledger({ mode: 'enforce', signer: b })
  la.put('healthcheck', a.id, hc())
  la.put('machines', '10.1.0.9', machine(a.id))
  la.put('kairos', 'k', 'v1')
  assert.equal(lb.update(la.lastBlock()), true)
  assert.equal(lb.getKey('machines', '10.1.0.9'), JSON.stringify(machine(a.id)))
  // b claims a's live machine: rejected by a.
  lb.put('machines', '10.1.0.9', machine(b.id))
  la.update(lb.lastBlock())
  assert.equal(la.getKey('machines', '10.1.0.9'), JSON.stringify(machine(a.id)))
  // b signs a value that names a as the owner: rejected (owner mismatch).
  lb.put('machines', '10.1.0.10', machine(a.id))
  la.update(lb.lastBlock())
  assert.equal(la.getKey('machines', '10.1.0.10'), undefined)
  // Unsigned (legacy) entries in an owned bucket: rejected; in an open bucket: new keys only.
  const legacy = new Ledger({ mode: 'off' })
  legacy.put('machines', '10.1.0.11', machine('x'))
  legacy.put('kairos', 'k', 'legacy-overwrite')
  legacy.put('kairos', 'new', 'legacy-new')
  la.update(legacy.lastBlock())
  assert.equal(la.getKey('machines', '10.1.0.11'), undefined)
  assert.equal(la.getKey('kairos', 'k'), '"v1"')
  assert.equal(la.getKey('kairos', 'new'), '"legacy-new"')
  // Tombstones by the owner propagate; by someone else they do not.
  lb.delete('kairos', 'k')
  la.update(lb.lastBlock())
  assert.equal(la.getKey('kairos', 'k'), undefined, 'open bucket: higher version wins, tombstone included')
  lb.delete('machines', '10.1.0.9')
  la.update(lb.lastBlock())
  assert.notEqual(la.getKey('machines', '10.1.0.9'), undefined)
  la.delete('machines', '10.1.0.9')
  lb.update(la.lastBlock())
  assert.equal(lb.getKey('machines', '10.1.0.9'), undefined)
})

test('enforce: an expired owner can be taken over; observe accepts violations', async () => {
  const [a, b] = await twoSigners()
  let now = new Date()
  const la = new Ledger({ mode: 'enforce', signer: a, ttlSeconds: 120, now: () => now })
  const lb = new Ledger({ mode: 'enforce', signer: b, ttlSeconds: 120, now: () => now })
  la.put('healthcheck', a.id, hc())
  la.put('machines', '10.1.0.9', machine(a.id))
  lb.update(la.lastBlock())
  now = new Date(Date.now() + 10 * 60_000)
  lb.put('machines', '10.1.0.9', machine(b.id))
  la.update(lb.lastBlock())
  assert.match(la.getKey('machines', '10.1.0.9')!, new RegExp(b.id))
  const lo = new Ledger({ mode: 'observe', signer: a })
  const forged = new Ledger({ mode: 'enforce', signer: b })
  forged.put('machines', '10.1.0.12', machine(a.id))
  lo.update(forged.lastBlock())
  assert.notEqual(lo.getKey('machines', '10.1.0.12'), undefined)
})

test('off: whole blocks replace by index, then hash; malformed input never throws', () => {
  const l = new Ledger({ mode: 'off' })
  const other = new Ledger({ mode: 'off' })
  other.put('b', 'k', 'v')
  assert.equal(l.update(other.lastBlock()), true)
  assert.equal(l.getKey('b', 'k'), '"v"')
  assert.equal(l.update({ ...genesisBlock(), index: 0 }), false)
  assert.equal(l.update(null as unknown as Block), false)
  assert.throws(() => decodeBlock('{"Index":"x"}'))
  assert.throws(() => decodeBlock('{"Storage":{"b":{"k":{"Version":"nope"}}}}'))
})
