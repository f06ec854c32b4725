import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BlockError, checksum, checksumInput, decodeBlock, encodeBlock, GENESIS_HASH, genesisBlock, type Block } from '../../src/ledger/block.js'
import { goTimeString } from '../../src/ledger/go-time.js'
import { legacyEntry, type Entry } from '../../src/ledger/entry.js'
import { parseJson } from '../../src/ledger/json.js'
import { noVectors, vectors } from '../helpers/vectors.js'

const storageOf = (o: Record<string, Record<string, Entry>>): Block['storage'] => new Map(Object.entries(o).map(([b, kv]) => [b, new Map(Object.entries(kv))]))

describe('vectors: blocks', { skip: noVectors }, () => {
  test('mixed v0.35 block: decode, re-encode byte for byte, checksum', () => {
    const v = vectors.blocks.mixed_block_v035
    const block = decodeBlock(v.json)
    assert.equal(block.index, 1)
    assert.equal(block.storage.get('machines')!.get('10.1.0.254')!.version, 1786000000123456789n)
    assert.equal(encodeBlock(block, { legacy: false }), v.json)
    assert.equal(checksumInput(block, 'v0.35'), v.checksum_input)
    assert.equal(checksum(block, 'v0.35'), v.hash)
    assert.equal(block.hash, v.hash)
  })

  test('genesis and legacy-only storage hashed v0.34 vs v0.35', () => {
    const b = vectors.blocks
    assert.equal(GENESIS_HASH, b.genesis.hash)
    assert.equal(checksumInput({ index: 0, timestamp: '', storage: new Map(), prevHash: '' }, 'v0.35'), b.genesis.checksum_input)
    assert.equal(genesisBlock().hash, b.genesis.hash)
    const mixed = decodeBlock(b.mixed_block_v035.json)
    const legacyOnly = { ...mixed, storage: new Map([['kairos', mixed.storage.get('kairos')!]]) }
    assert.equal(checksumInput(legacyOnly, 'v0.35'), b.legacy_only_block_checksum_v035.checksum_input)
    assert.equal(checksum(legacyOnly, 'v0.35'), b.legacy_only_block_checksum_v035.hash)
    assert.equal(checksumInput(legacyOnly, 'v0.34'), b.legacy_only_block_checksum_v034.checksum_input)
    assert.equal(checksum(legacyOnly, 'v0.34'), b.legacy_only_block_checksum_v034.hash)
  })

  test('legacy encoding of the mixed block is v0.34-decodable', () => {
    const block = decodeBlock(vectors.blocks.mixed_block_v035.json)
    const text = encodeBlock(block, { legacy: true })
    const storage = (parseJson(text) as { Storage: Record<string, Record<string, unknown>> }).Storage
    for (const kv of Object.values(storage)) for (const v of Object.values(kv)) assert.equal(typeof v, 'string')
    assert.equal(storage.machines['10.1.0.254'], vectors.signed_entries[0].value)
  })
})

describe('decodeBlock (as Go json.Unmarshal into Block)', () => {
  test('optional and null fields, case-insensitive names', () => {
    assert.deepEqual(decodeBlock('null'), { index: 0, timestamp: '', storage: new Map(), hash: '', prevHash: '' })
    assert.deepEqual(decodeBlock('{"Storage":null}').storage, new Map())
    const b = decodeBlock('{"index":2,"storage":{"b":null,"c":{}},"hash":"h","PREVHASH":"p","timestamp":null,"Other":[1]}')
    assert.equal(b.index, 2)
    assert.equal(b.hash, 'h')
    assert.equal(b.prevHash, 'p')
    assert.equal(b.timestamp, '')
    assert.deepEqual([...b.storage.keys()], ['b', 'c'])
    assert.equal(b.storage.get('b')!.size, 0)
    // eslint-disable-next-line no-loss-of-precision -- the decoded index is a double: Go's int64 max rounds the same way
    assert.equal(decodeBlock('{"Index":9223372036854775807}').index, 9223372036854775807)
  })

  test('fails where Go fails', () => {
    for (const bad of [
      '{"Index":"1"}',
      '{"Index":1.0}',
      '{"Index":9223372036854775808}',
      '{"Storage":[]}',
      '{"Storage":{"b":"x"}}',
      '{"Storage":{"b":{"k":1}}}',
      '{"Storage":{"b":{"k":{"Version":"x"}}}}',
      '{"Storage":{"b":{"k":{"Version":1.0}}}}',
      '{"Storage":{"b":{"k":{"Sig":[1.0]}}}}',
      '{"Hash":1}',
      '{"Index":1} x',
      'not json',
      '[]',
      '"x"',
    ]) {
      assert.throws(() => decodeBlock(bad), BlockError, bad)
    }
  })

  test('legacy and signed entries side by side', () => {
    const b = decodeBlock('{"Index":3,"Storage":{"b":{"l":"\\"v\\"","s":{"Value":"\\"w\\"","Owner":"o","Version":18446744073709551615,"UpdatedAt":1,"Deleted":false,"Sig":"AQ=="}}}}')
    assert.deepEqual(b.storage.get('b')!.get('l'), legacyEntry('"v"'))
    assert.equal(b.storage.get('b')!.get('s')!.version, 18446744073709551615n)
  })
})

describe('encodeBlock', () => {
  const signed: Entry = { value: '"s"', owner: 'o', version: 2n, updatedAt: 3n, deleted: false, sig: new Uint8Array([1, 2]) }
  const tomb: Entry = { value: '', owner: 'o', version: 4n, updatedAt: 5n, deleted: true, sig: new Uint8Array([3]) }
  const block: Block = {
    index: 7,
    timestamp: 't<',
    storage: storageOf({ z: { b: legacyEntry('"1"'), a: signed }, a: { t: tomb }, é: {}, e: {} }),
    hash: 'h',
    prevHash: 'p',
  }

  test('Go field order, keys sorted by bytes, entries in both forms', () => {
    assert.equal(
      encodeBlock(block, { legacy: false }),
      '{"Index":7,"Timestamp":"t\\u003c","Storage":{"a":{"t":{"Value":"","Owner":"o","Version":4,"UpdatedAt":5,"Deleted":true,"Sig":"Aw=="}},"e":{},"z":{"a":{"Value":"\\"s\\"","Owner":"o","Version":2,"UpdatedAt":3,"Deleted":false,"Sig":"AQI="},"b":"\\"1\\""},"é":{}},"Hash":"h","PrevHash":"p"}',
    )
  })

  test('legacy: bare strings only, tombstones left out', () => {
    assert.equal(encodeBlock(block, { legacy: true }), '{"Index":7,"Timestamp":"t\\u003c","Storage":{"a":{},"e":{},"z":{"a":"\\"s\\"","b":"\\"1\\""},"é":{}},"Hash":"h","PrevHash":"p"}')
  })

  test('round trip', () => {
    const text = encodeBlock(block, { legacy: false })
    assert.equal(encodeBlock(decodeBlock(text), { legacy: false }), text)
  })
})

describe('checksum', () => {
  test('fmt layout of entries, tombstones and empty buckets', () => {
    const s = storageOf({ b: { k: { value: '', owner: 'o', version: 4n, updatedAt: -5n, deleted: true, sig: new Uint8Array([3, 255]) } }, a: {} })
    const block = { index: 12, timestamp: 'T', storage: s, prevHash: 'P' }
    assert.equal(checksumInput(block, 'v0.35'), '12Tmap[a:map[] b:map[k:{ o 4 -5 true [3 255]}]]P')
    assert.equal(checksumInput(block, 'v0.34'), '12Tmap[a:map[] b:map[k:]]P')
    assert.match(checksum(block, 'v0.35'), /^[0-9a-f]{64}$/)
    assert.notEqual(checksum(block, 'v0.35'), checksum(block, 'v0.34'))
  })
})

test('goTimeString matches Go time.Time.String() in UTC', () => {
  assert.equal(goTimeString(new Date('2026-08-06T07:06:40.120Z')), '2026-08-06 07:06:40.12 +0000 UTC')
  assert.equal(goTimeString(new Date('2026-08-06T07:06:40Z')), '2026-08-06 07:06:40 +0000 UTC')
  assert.equal(goTimeString(new Date('2026-08-06T07:06:40.123Z'), 456789), '2026-08-06 07:06:40.123456789 +0000 UTC')
  assert.equal(goTimeString(new Date('2026-01-02T03:04:05.000Z'), 1000), '2026-01-02 03:04:05.000001 +0000 UTC')
})

test('decodeBlock refuses a block with more than maxEntries entries, counted over all buckets', () => {
  const text = '{"Index":1,"Storage":{"a":{"k1":"1","k2":"2"},"b":{"k3":"3"}}}'
  assert.equal(decodeBlock(text, { maxEntries: 3 }).storage.get('b')?.size, 1)
  assert.throws(
    () => decodeBlock(text, { maxEntries: 2 }),
    (err: unknown) => err instanceof BlockError && /more than 2 entries/.test(err.message),
  )
})
