import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { generateKeyPairFromSeed, privateKeyToProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  canonicalBytes,
  decodeEntry,
  decodeEntryJson,
  encodeEntry,
  EntryError,
  isLegacy,
  legacyEntry,
  sameEntry,
  signEntry,
  signEntrySync,
  signerFromPrivateKey,
  verifyEntry,
  type Entry,
  type Signer,
} from '../../src/ledger/entry.js'
import { parseJson } from '../../src/ledger/json.js'
import { noVectors, vectors } from '../helpers/vectors.js'

const seed = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (n * 32 + i) & 0xff)
const key0 = await generateKeyPairFromSeed('Ed25519', seed(0))
const signer0 = signerFromPrivateKey(key0)
const signer1 = signerFromPrivateKey(await generateKeyPairFromSeed('Ed25519', seed(1)))

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('vectors: identity and signed entries', { skip: noVectors }, () => {
  test('identity from seed 00..1f', () => {
    const id = vectors.identity
    assert.equal(hex(seed(0)), id.seed_hex)
    assert.equal(hex(key0.publicKey.raw), id.public_key_hex)
    assert.equal(hex(publicKeyToProtobuf(key0.publicKey)), id.public_key_protobuf_hex)
    assert.equal(hex(privateKeyToProtobuf(key0)), id.private_key_protobuf_hex)
    assert.equal(signer0.id, id.peer_id)
  })

  test('canonical bytes, signature, wire JSON, decode and verify', async () => {
    assert.equal(vectors.signed_entries.length, 3)
    for (const v of vectors.signed_entries) {
      const unsigned = { value: v.value, version: BigInt(v.version), updatedAt: BigInt(v.updated_at), deleted: v.deleted }
      const entry: Entry = { ...unsigned, owner: v.owner, sig: null }
      assert.equal(hex(canonicalBytes(v.bucket, v.key, entry)), v.canonical_hex)
      const signed = signEntrySync(signer0, v.bucket, v.key, unsigned)
      assert.equal(Buffer.from(signed.sig!).toString('base64'), v.signature_b64)
      assert.deepEqual(await signEntry(signer0, v.bucket, v.key, unsigned), signed)
      assert.equal(encodeEntry(signed), v.wire_json)
      const back = decodeEntryJson(v.wire_json)
      assert.ok(sameEntry(back, signed))
      assert.equal(encodeEntry(back), v.wire_json)
      assert.equal(verifyEntry(v.bucket, v.key, back), true)
    }
  })

  test('legacy entry', () => {
    const v = vectors.legacy_entry
    const e = decodeEntryJson(v.wire_json)
    assert.deepEqual(e, legacyEntry(v.value))
    assert.equal(encodeEntry(e), v.wire_json)
  })
})

describe('verifyEntry', () => {
  const base = signEntrySync(signer0, 'machines', '10.1.0.9', { value: '{"PeerID":"x"}', version: 5n, updatedAt: 7n, deleted: false })

  test('accepts the signer, binds every signed field', () => {
    assert.equal(verifyEntry('machines', '10.1.0.9', base), true)
    assert.equal(verifyEntry('machines', '10.1.0.10', base), false, 'key')
    assert.equal(verifyEntry('services', '10.1.0.9', base), false, 'bucket')
    for (const change of [{ value: '{"PeerID":"y"}' }, { version: 6n }, { updatedAt: 8n }, { deleted: true }, { owner: signer1.id }]) {
      assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, ...change }), false, JSON.stringify(Object.keys(change)))
    }
  })

  test('rejects forged, missing and unverifiable signatures without throwing', () => {
    const flipped = new Uint8Array(base.sig!)
    flipped[10] ^= 1
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, sig: flipped }), false)
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, sig: null }), false)
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, sig: new Uint8Array(0) }), false)
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, sig: base.sig!.slice(0, 63) }), false)
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, owner: '' }), false)
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, owner: 'not-a-peer-id' }), false)
    // An RSA-style peer id (sha256 multihash) embeds no key.
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...base, owner: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }), false)
    // Signed by signer1 but claiming signer0.
    const other = signEntrySync(signer1, 'machines', '10.1.0.9', { value: base.value, version: 5n, updatedAt: 7n, deleted: false })
    assert.equal(verifyEntry('machines', '10.1.0.9', { ...other, owner: signer0.id }), false)
  })
})

describe('canonical bytes', () => {
  test("layout: length-prefixed fields, big-endian u64s, two's complement UpdatedAt, empty tombstone value", () => {
    const b = canonicalBytes('b', 'k', { owner: 'o', version: (1n << 64n) - 1n, updatedAt: -1n, deleted: true, value: '' })
    assert.equal(hex(b), '0000000000000001' + '62' + '0000000000000001' + '6b' + '0000000000000001' + '6f' + 'ffffffffffffffff' + 'ffffffffffffffff' + '01' + '0000000000000000')
    // Lengths count UTF-8 bytes.
    assert.equal(hex(canonicalBytes('é', '', { owner: '', version: 0n, updatedAt: 0n, deleted: false, value: '"x"' })).slice(0, 20), '0000000000000002c3a9')
  })
})

describe('wire decoding (as Go SignedData.UnmarshalJSON)', () => {
  const dec = (t: string): Entry => decodeEntryJson(t)

  test('legacy shapes', () => {
    assert.deepEqual(dec('"x"'), legacyEntry('x'))
    assert.deepEqual(dec(' "x" '), legacyEntry('x'))
    assert.deepEqual(dec('null'), legacyEntry(''))
    // An object with only a Value is still written back as a bare string.
    assert.equal(encodeEntry(dec('{"Value":"x"}')), '"x"')
    assert.equal(encodeEntry(dec('{}')), '""')
    assert.equal(encodeEntry(dec('{"UpdatedAt":-5}')), '""', 'UpdatedAt alone keeps the legacy form')
  })

  test('signed shapes: case-insensitive names, unknown fields ignored, last duplicate wins', () => {
    assert.equal(encodeEntry(dec('{"value":"x","VERSION":5}')), '{"Value":"x","Owner":"","Version":5,"UpdatedAt":0,"Deleted":false,"Sig":null}')
    assert.equal(encodeEntry(dec('{"Value":"x","Extra":{"a":[1,2]},"Owner":"o","Owner":"p"}')), '{"Value":"x","Owner":"p","Version":0,"UpdatedAt":0,"Deleted":false,"Sig":null}')
    assert.equal(dec('{"Value":"a","value":"b"}').value, 'b')
    assert.equal(dec('{"Deleted":null,"Owner":null,"Sig":null}').sig, null)
  })

  test('Sig: padded base64 (newlines skipped, loose trailing bits), byte arrays, empty is not nil', () => {
    assert.equal(encodeEntry(dec('{"Sig":""}')), '{"Value":"","Owner":"","Version":0,"UpdatedAt":0,"Deleted":false,"Sig":""}')
    assert.deepEqual(dec('{"Sig":[1,2]}').sig, new Uint8Array([1, 2]))
    assert.deepEqual(dec('{"Sig":"AQ==\\n"}').sig, new Uint8Array([1]))
    assert.deepEqual(dec('{"Sig":"AR=="}').sig, new Uint8Array([1]))
    for (const bad of ['"AQ"', '"AQ="', '"A-_="', '"AQ==AQ=="', '[256]', '[1.5]', '1', 'true', '{}']) {
      assert.throws(() => dec(`{"Sig":${bad}}`), EntryError, bad)
    }
  })

  test('integers: uint64 Version and int64 UpdatedAt, integer literals only', () => {
    assert.equal(dec('{"Version":18446744073709551615}').version, 18446744073709551615n)
    assert.equal(dec('{"UpdatedAt":-9223372036854775808}').updatedAt, -9223372036854775808n)
    for (const bad of ['{"Version":1.0}', '{"Version":1e3}', '{"Version":-1}', '{"Version":18446744073709551616}', '{"Version":"1"}', '{"UpdatedAt":9223372036854775808}']) {
      assert.throws(() => dec(bad), EntryError, bad)
    }
  })

  test('decodeEntry on values parsed without allIntegersAsBigInt accepts integral numbers', () => {
    assert.equal(decodeEntry(parseJson('{"Version":5,"UpdatedAt":-3}')).version, 5n)
    assert.equal(decodeEntry(parseJson('{"Version":5,"UpdatedAt":-3}')).updatedAt, -3n)
    assert.throws(() => decodeEntry(parseJson('{"Version":1.5}')), EntryError)
  })

  test('other type errors', () => {
    for (const bad of ['1', '[1]', 'true', '{"Deleted":"true"}', '{"Value":1}', '{"Owner":[]}']) assert.throws(() => dec(bad), EntryError, bad)
  })

  test('64-bit round trip through the wire', () => {
    const e: Entry = { value: '"<v>"', owner: signer0.id, version: 18446744073709551615n, updatedAt: -9223372036854775808n, deleted: false, sig: new Uint8Array(64).fill(7) }
    const text = encodeEntry(e)
    assert.match(text, /"Version":18446744073709551615,"UpdatedAt":-9223372036854775808/)
    assert.match(text, /"Value":"\\"\\u003cv\\u003e\\""/)
    assert.deepEqual(decodeEntryJson(text), e)
  })
})

describe('entry helpers', () => {
  test('isLegacy and sameEntry follow Go', () => {
    assert.equal(isLegacy({ ...legacyEntry('x'), updatedAt: 9n }), true)
    assert.equal(isLegacy({ ...legacyEntry('x'), sig: new Uint8Array(0) }), false)
    assert.equal(isLegacy({ ...legacyEntry('x'), version: 1n }), false)
    assert.equal(isLegacy({ ...legacyEntry(''), deleted: true }), false)
    assert.equal(isLegacy({ ...legacyEntry(''), owner: 'o' }), false)
    // bytes.Equal: nil and empty signatures compare equal.
    assert.equal(sameEntry(legacyEntry('x'), { ...legacyEntry('x'), sig: new Uint8Array(0) }), true)
    assert.equal(sameEntry(legacyEntry('x'), legacyEntry('y')), false)
  })

  test('asynchronous signers work with signEntry, not with signEntrySync', async () => {
    const asyncSigner: Signer = { id: signer0.id, sign: async (d) => signer0.signSync(d) }
    const e = await signEntry(asyncSigner, 'b', 'k', { value: '"v"', version: 1n, updatedAt: 1n, deleted: false })
    assert.equal(verifyEntry('b', 'k', e), true)
    assert.throws(() => signEntrySync(asyncSigner, 'b', 'k', { value: '"v"', version: 1n, updatedAt: 1n, deleted: false }), EntryError)
  })
})
