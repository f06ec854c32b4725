import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { gossipTopic, nextRotation, rendezvous, rendezvousCid, rendezvousCidText, sealKey } from '../../src/crypto/derive.js'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { md5hex, totp, unixNow } from '../../src/crypto/otp.js'
import { SealError, seal, unseal } from '../../src/crypto/seal.js'
import { MAX_INT64, parseTokenYaml, tokenYaml, type NetworkToken } from '../../src/token/token.js'

const here = dirname(fileURLToPath(import.meta.url))
const vectorsPath = [process.env.KAIROSCTL_VECTORS, resolve(here, '../../../shared/vectors/vectors.json')].find((p): p is string => !!p && existsSync(p))
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const v: any = vectorsPath ? JSON.parse(readFileSync(vectorsPath, 'utf8')) : undefined
const noVectors = vectorsPath ? false : 'shared/vectors/vectors.json not found (set KAIROSCTL_VECTORS)'

const KEYS = {
  dht: 'ahovCJQX5bipwDKRY6cjqxELSZ7dkryFMT18elszGNU',
  crypto: 'bipwDKRY6cjqxELSZ7dkryFMT18elszGNU29fmtAHOV',
  room: 'cjqxELSZ7dkryFMT18elszGNU29fmtAHOV30gnuBIPW',
  rendezvous: 'dkryFMT18elszGNU29fmtAHOV30gnuBIPW4ahovCJQX',
  mdns: 'elszGNU29fmtAHOV30gnuBIPW4ahovCJQX5bipwDKRY',
}

function token(interval: bigint, length: number, dhtKey = KEYS.dht): NetworkToken {
  return parseTokenYaml(
    tokenYaml({
      otp: { dht: { interval, key: dhtKey, length }, crypto: { interval, key: KEYS.crypto, length } },
      room: KEYS.room,
      rendezvous: KEYS.rendezvous,
      mdns: KEYS.mdns,
      maxMessageSize: 20971520,
    }),
  )
}
const at = (unix: number | bigint): Date => new Date(Number(unix) * 1000)

describe('EdgeVPN TOTP', () => {
  // Anchors confirmed against edgevpn v0.35.3 (test/e2e/derive-parity.test.ts).
  it('matches Go at the 9000 s boundary', () => {
    const t = token(9000n, 43)
    assert.equal(gossipTopic(t, at(0)), 'cb72a2a4c05f03227492d54cc4ef008c')
    assert.equal(sealKey(t, at(0)), '0b0d44c2f9f3119a86b27a97a7c58850')
    assert.equal(rendezvous(t, at(0)), 'c7ee47d14d11391683e9807d53c11b7a')
    assert.equal(sealKey(t, at(8999)), '0b0d44c2f9f3119a86b27a97a7c58850')
    assert.equal(gossipTopic(t, at(9000)), 'db89b25017eded00dd55090779b88b7c')
    assert.equal(sealKey(t, at(9000)), '8a8e0497f862132b64c036d46e997061')
    assert.equal(rendezvous(t, at(9000)), 'de03814cdc8cc7cffea3c8a6828890a9')
    assert.equal(sealKey(t, at(1786000000)), '92278fe0a04378d6bd35d3d60f8097de')
  })

  it('length 0 gives 6 characters, 44 the padded base64, and rejects > 44 or interval 0', () => {
    assert.equal(totp(KEYS.crypto, 9000n, 0, 0n), 'lvHjhJ')
    assert.equal(totp(KEYS.crypto, 9000n, -3, 0n), 'lvHjhJ')
    assert.equal(totp(KEYS.crypto, 9000n, 44, 0n), 'lvHjhJdiSmGuTR/3JUu+TPVRIeiynEoRMrpoAW/CKnE=')
    assert.throws(() => totp(KEYS.crypto, 9000n, 45, 0n), RangeError)
    assert.throws(() => totp(KEYS.crypto, 0n, 43, 0n), RangeError)
  })

  it('MaxInt64 never rotates', () => {
    const t = token(MAX_INT64, 43)
    const first = [gossipTopic(t, at(0)), sealKey(t, at(0)), rendezvous(t, at(0))]
    for (const u of [1, 8999, 9000, 1786000000, 4102444800, 253402300799]) {
      assert.deepEqual([gossipTopic(t, at(u)), sealKey(t, at(u)), rendezvous(t, at(u))], first)
    }
    assert.equal(nextRotation(MAX_INT64, at(1786000000)), null)
  })

  it('the DHT rendezvous uses 12 characters for length 0 (as Go DHT.Run does), the topic 6', () => {
    const t = token(9000n, 0)
    assert.equal(rendezvous(t, at(0)), md5hex(totp(KEYS.dht, 9000n, 12, 0n)))
    assert.equal(gossipTopic(t, at(0)), md5hex('VMg3Kp'))
  })

  it('empty otp.dht.key uses the static rendezvous', async () => {
    const t = token(9000n, 43, '')
    assert.equal(rendezvous(t, at(0)), KEYS.rendezvous)
    assert.equal(rendezvous(t, at(123456789)), KEYS.rendezvous)
    assert.equal((await rendezvousCid(KEYS.rendezvous)).toString(), 'bafkreifoh25hseegdwvq2ququjfw62g5gzj3w5pthhrcsqzeil73u64sna')
  })

  it('the CID text built without multiformats is the CID multiformats builds', async () => {
    for (const value of [KEYS.rendezvous, '', 'a', 'ab', 'abc', 'abcd', 'abcde', 'é', md5hex('x')]) {
      const expected = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(value)))
      assert.equal(rendezvousCidText(value), expected.toString(), value)
      assert.ok((await rendezvousCid(value)).equals(expected), value)
    }
  })

  it('nextRotation lands on the next epoch multiple', () => {
    assert.equal(nextRotation(9000n, at(8999))?.getTime(), 9000_000)
    assert.equal(nextRotation(9000n, at(9000))?.getTime(), 18000_000)
    assert.equal(unixNow(new Date(1999)), 1n)
  })
})

describe('vectors (shared/vectors/vectors.json)', { skip: noVectors }, () => {
  it('TOTP table for otp.crypto.key', () => {
    for (const row of v.totp_crypto_key) {
      const out = totp(KEYS.crypto, BigInt(row.interval), row.length, BigInt(row.unix))
      assert.equal(out, row.totp, `${row.interval}/${row.length}/${row.unix}`)
      if (row.length === 43) assert.equal(out + '=', row.b64_full)
    }
  })

  it('derived values at every time, interval and length', async () => {
    for (const row of v.derived) {
      const t = token(BigInt(row.interval), row.length)
      const when = at(row.unix)
      const label = `${row.interval}/${row.length}/${row.unix}`
      assert.equal(gossipTopic(t, when), row.topic, `topic ${label}`)
      assert.equal(sealKey(t, when), row.seal_key, `seal key ${label}`)
      assert.equal(md5hex(totp(KEYS.room, BigInt(row.interval), row.length, BigInt(row.unix)) + 'public'), row.public_topic)
      if (row.length === 0) {
        // The vectors hash a 6-character DHT OTP; Go nodes use 12 (confirmed by the parity test).
        assert.equal(row.dht_totp.length, 6)
        assert.notEqual(rendezvous(t, when), row.rendezvous)
        continue
      }
      assert.equal(rendezvous(t, when), row.rendezvous, `rendezvous ${label}`)
      const cid = await rendezvousCid(row.rendezvous)
      assert.equal(cid.toString(), row.rendezvous_cid)
      assert.equal(Buffer.from(cid.multihash.bytes).toString('hex'), row.rendezvous_provider_multihash_hex)
      assert.ok(cid.toString().startsWith('bafkrei'))
    }
  })

  it('static rendezvous', async () => {
    const s = v.static_rendezvous_when_no_dht_key
    assert.equal(rendezvous(token(9000n, 43, ''), at(0)), s.rendezvous)
    assert.equal((await rendezvousCid(s.rendezvous)).toString(), s.cid)
  })

  it('seal of foo with the fixed nonce, and the block seal opens', () => {
    const s = v.seal
    assert.equal(sealKey(token(BigInt(s.interval), s.length), at(s.unix)), s.seal_key)
    assert.equal(Buffer.from(s.seal_key, 'latin1').toString('hex'), s.aes_key_hex)
    assert.equal(seal(s.seal_key, Buffer.from(s.foo.plaintext_hex, 'hex'), Buffer.from(s.nonce_hex, 'hex')), s.foo.sealed_hex)
    assert.equal(Buffer.from(unseal(s.seal_key, s.block.sealed_hex)).toString('hex'), s.block.plaintext_gzip_hex)
  })
})

describe('AES-GCM sealing', () => {
  const key = '92278fe0a04378d6bd35d3d60f8097de'
  it('seals foo with a fixed nonce exactly like Go', () => {
    assert.equal(seal(key, Buffer.from('foo'), Buffer.from('000102030405060708090a0b', 'hex')), '000102030405060708090a0bcfb2f3166ad06a99a00ed8588b1bca28cf2d95')
  })

  it('round-trips with random nonces', () => {
    for (const text of ['', 'foo', 'x'.repeat(10000)]) {
      const a = seal(key, Buffer.from(text))
      const b = seal(key, Buffer.from(text))
      assert.notEqual(a, b)
      assert.equal(a.length, 2 * (28 + text.length))
      assert.equal(Buffer.from(unseal(key, a)).toString(), text)
    }
  })

  it('rejects tampered, truncated, short and wrong-key input with SealError', () => {
    const good = seal(key, Buffer.from('hello'))
    const flip = (hex: string, i: number) => hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1)
    assert.throws(() => unseal(key, flip(good, 30)), SealError) // ciphertext
    assert.throws(() => unseal(key, flip(good, good.length - 1)), SealError) // tag
    assert.throws(() => unseal(key, flip(good, 0)), SealError) // nonce
    assert.throws(() => unseal(key, good.slice(0, -2)), SealError)
    assert.throws(() => unseal(key, ''), SealError)
    assert.throws(() => unseal(key, '00'.repeat(27)), SealError)
    assert.throws(() => unseal(key, 'not hex'), SealError)
    assert.throws(() => unseal('0b0d44c2f9f3119a86b27a97a7c58850', good), SealError)
  })
})
