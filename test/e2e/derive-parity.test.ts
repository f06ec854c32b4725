/**
 * Go parity for token decoding, TOTP-derived values and AES sealing.
 *
 * Builds test/go/derive (a small program linked against edgevpn v0.35.3's own
 * packages) and compares its output with kairosctl's TypeScript results:
 * - token fields as node.FromBase64 copies them into a node;
 * - gossip topic, seal key and DHT rendezvous at fixed unix times (edgevpn's
 *   TOTP configuration evaluated with a pinned time step), and at the current
 *   second through edgevpn's wall-clock crypto.TOTP and DHT.Rendezvous, which
 *   also shows the pinned construction matches edgevpn's;
 * - payloads sealed by crypto.AESSealer open with our unseal, and ours with Go's.
 * Also checks shared/vectors against Go where the vectors file is available.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { gossipTopic, rendezvous, rendezvousCid, sealKey } from '../../src/crypto/derive.js'
import { md5hex, totp } from '../../src/crypto/otp.js'
import { SealError, seal, unseal } from '../../src/crypto/seal.js'
import { generateToken, MAX_INT64, parseToken, parseTokenYaml, tokenYaml, type NetworkToken } from '../../src/token/token.js'
import { buildGoHelper } from '../helpers/go-peer.js'
import { noVectors, vectors } from '../helpers/vectors.js'

interface GoDerived {
  unix: number
  topic: string
  seal_key: string
  rendezvous: string
}
interface GoResult {
  config: {
    room: string
    exchange_key: string
    seal_key_interval: string
    seal_key_length: number
    max_message_size: number
    dht_key: string
    dht_interval: string
    dht_length: number
    rendezvous: string
    mdns: string
  }
  at: GoDerived[] | null
  now: { real: GoDerived; fixed: GoDerived }
  sealed: string[] | null
  unsealed: { plaintext: string; error?: string }[] | null
}
interface GoRequest {
  token: string
  times?: number[]
  seal?: { key: string; plaintext: string }[]
  unseal?: { key: string; sealed: string }[]
}

const goMissing = spawnSync('go', ['version'], { encoding: 'utf8' }).status !== 0
let removeHelper: (() => void) | undefined
let helper = ''

function runGo(req: GoRequest): GoResult {
  const out = execFileSync(helper, [], { input: JSON.stringify(req), encoding: 'utf8', timeout: 30_000 })
  return JSON.parse(out) as GoResult
}

const at = (unix: number): Date => new Date(unix * 1000)

function ours(token: NetworkToken, unix: number): GoDerived {
  return { unix, topic: gossipTopic(token, at(unix)), seal_key: sealKey(token, at(unix)), rendezvous: rendezvous(token, at(unix)) }
}

/** A token from fixed field values (all the YAML fields a Go node reads). */
function customToken(o: {
  interval: bigint
  length: number
  dhtInterval?: bigint
  dhtLength?: number
  dhtKey?: string
  keys?: Partial<Record<'dht' | 'crypto' | 'room' | 'rendezvous' | 'mdns', string>>
}): NetworkToken {
  const k = {
    dht: 'ahovCJQX5bipwDKRY6cjqxELSZ7dkryFMT18elszGNU',
    crypto: 'bipwDKRY6cjqxELSZ7dkryFMT18elszGNU29fmtAHOV',
    room: 'cjqxELSZ7dkryFMT18elszGNU29fmtAHOV30gnuBIPW',
    rendezvous: 'dkryFMT18elszGNU29fmtAHOV30gnuBIPW4ahovCJQX',
    mdns: 'elszGNU29fmtAHOV30gnuBIPW4ahovCJQX5bipwDKRY',
    ...o.keys,
  }
  const yaml = tokenYaml({
    otp: {
      dht: { interval: o.dhtInterval ?? o.interval, key: o.dhtKey ?? k.dht, length: o.dhtLength ?? o.length },
      crypto: { interval: o.interval, key: k.crypto, length: o.length },
    },
    room: k.room,
    rendezvous: k.rendezvous,
    mdns: k.mdns,
    maxMessageSize: 20971520,
  })
  return parseTokenYaml(yaml)
}

// Times around rotation boundaries for 9000 s (…, 1785996000, 1786005000 are multiples) and other intervals.
const TIMES = [0, 1, 6, 7, 8999, 9000, 9001, 17999, 18000, 86399, 86400, 1785995999, 1785996000, 1786000000, 1786004999, 1786005000, 4102444800]

describe('Go parity (edgevpn v0.35.3 packages)', { skip: goMissing ? 'Go toolchain not found (go version failed)' : false }, () => {
  before(() => {
    const built = buildGoHelper('derive')
    helper = built.binary
    removeHelper = built.remove
  })
  after(() => {
    removeHelper?.()
  })

  const cases: [string, () => NetworkToken][] = [
    ['interval 9000, length 43', () => customToken({ interval: 9000n, length: 43 })],
    ['interval MaxInt64 (kairosctl default)', () => customToken({ interval: MAX_INT64, length: 43 })],
    ['length 32', () => customToken({ interval: 9000n, length: 32 })],
    ['length 0 (6 chars; DHT uses 12)', () => customToken({ interval: 9000n, length: 0 })],
    ['length 44 (the whole padded base64)', () => customToken({ interval: 9000n, length: 44 })],
    ['interval 7, length 1', () => customToken({ interval: 7n, length: 1 })],
    ['DHT and crypto on different intervals', () => customToken({ interval: 86400n, length: 20, dhtInterval: 9000n, dhtLength: 12 })],
    ['empty otp.dht.key (static rendezvous)', () => customToken({ interval: 9000n, length: 43, dhtKey: '' })],
    ['freshly generated (MaxInt64)', () => generateToken()],
    ['freshly generated (interval 9000, key length 12)', () => generateToken({ interval: 9000n, keyLength: 12 })],
    ['keys that need quoting in YAML', () => customToken({ interval: 9000n, length: 43, keys: { room: '123', mdns: 'yes', crypto: '0x1F', rendezvous: '1e5' } })],
  ]

  for (const [name, make] of cases) {
    it(`derives what Go derives: ${name}`, () => {
      const token = make()
      const go = runGo({ token: token.base64, times: TIMES })
      // Decoding: what node.FromBase64 gives a Go node.
      assert.equal(go.config.room, token.room)
      assert.equal(go.config.exchange_key, token.otp.crypto.key)
      assert.equal(BigInt(go.config.seal_key_interval), token.otp.crypto.interval)
      assert.equal(go.config.seal_key_length, token.otp.crypto.length)
      assert.equal(go.config.max_message_size, token.maxMessageSize)
      assert.equal(go.config.dht_key, token.otp.dht.key)
      assert.equal(go.config.rendezvous, token.rendezvous)
      assert.equal(go.config.mdns, token.mdns)
      if (token.otp.dht.key !== '') assert.equal(BigInt(go.config.dht_interval), token.otp.dht.interval)
      // Derived values at fixed times, including rotation boundaries.
      assert.ok(go.at)
      for (const g of go.at) assert.deepEqual(ours(token, g.unix), g, `at unix ${g.unix}`)
      // The pinned-time construction equals edgevpn's wall-clock functions, and so do we.
      assert.deepEqual(go.now.fixed, go.now.real)
      assert.deepEqual(ours(token, go.now.real.unix), go.now.real)
    })
  }

  it('MaxInt64 tokens never rotate, 9000 s tokens rotate exactly on multiples of 9000', () => {
    const never = runGo({ token: customToken({ interval: MAX_INT64, length: 43 }).base64, times: TIMES }).at ?? []
    assert.equal(new Set(never.map((g) => g.topic + g.seal_key + g.rendezvous)).size, 1)
    const rotating = runGo({ token: customToken({ interval: 9000n, length: 43 }).base64, times: [8999, 9000, 1785995999, 1785996000] }).at ?? []
    assert.notEqual(rotating[0].topic, rotating[1].topic)
    assert.notEqual(rotating[0].seal_key, rotating[1].seal_key)
    assert.notEqual(rotating[0].rendezvous, rotating[1].rendezvous)
    assert.notEqual(rotating[2].topic, rotating[3].topic)
  })

  it('payloads sealed by Go open with our unseal, and ours open in Go', () => {
    const token = generateToken({ interval: 9000n })
    const key = sealKey(token, at(1786000000))
    const plaintexts = ['foo', '', 'ünïcødé ✓', 'x'.repeat(5000), JSON.stringify({ Message: 'hello', SenderID: '' })]
    const go = runGo({ token: token.base64, seal: plaintexts.map((plaintext) => ({ key, plaintext })) })
    assert.ok(go.sealed)
    go.sealed.forEach((hex, i) => {
      assert.match(hex, /^[0-9a-f]+$/)
      assert.equal(hex.length, 2 * (28 + Buffer.byteLength(plaintexts[i])))
      assert.equal(Buffer.from(unseal(key, hex)).toString('utf8'), plaintexts[i])
      assert.throws(() => unseal(sealKey(token, at(1786005000)), hex), SealError) // next rotation's key
    })

    const mine = plaintexts.map((p) => seal(key, Buffer.from(p, 'utf8')))
    const fixedNonce = seal(key, Buffer.from('foo'), Buffer.from('000102030405060708090a0b', 'hex'))
    const tampered = mine[0].slice(0, -2) + (mine[0].endsWith('00') ? '01' : '00')
    const back = runGo({
      token: token.base64,
      unseal: [...mine, fixedNonce, tampered, 'zz'].map((sealed) => ({ key, sealed })),
    }).unsealed
    assert.ok(back)
    plaintexts.forEach((p, i) => assert.deepEqual(back[i], { plaintext: p }))
    assert.deepEqual(back[plaintexts.length], { plaintext: 'foo' })
    assert.ok(back[plaintexts.length + 1].error, 'Go must reject a tampered tag')
    assert.ok(back[plaintexts.length + 2].error, 'Go must reject a payload shorter than a nonce')
    assert.throws(() => unseal(key, tampered), SealError)
    assert.throws(() => unseal(key, 'zz'), SealError)
  })

  describe('shared vectors against Go', { skip: noVectors }, () => {
    const v = vectors

    it('vector tokens decode in Go to the vector fields', () => {
      for (const t of Object.values<{ base64_std: string }>(v.tokens)) {
        const token = parseToken(t.base64_std)
        const go = runGo({ token: t.base64_std })
        assert.equal(go.config.room, v.inputs.keys.room)
        assert.equal(go.config.exchange_key, v.inputs.keys.crypto_key)
        assert.equal(go.config.dht_key, v.inputs.keys.dht_key)
        assert.equal(go.config.rendezvous, v.inputs.keys.rendezvous)
        assert.equal(go.config.mdns, v.inputs.keys.mdns)
        assert.equal(BigInt(go.config.seal_key_interval), token.otp.crypto.interval)
      }
    })

    it('derived table: Go agrees with the vectors except the DHT rendezvous at length 0', async () => {
      const disagreements: string[] = []
      for (const row of v.derived as Record<string, string | number>[]) {
        const token = customToken({ interval: BigInt(row.interval), length: row.length as number })
        const [g] = runGo({ token: token.base64, times: [row.unix as number] }).at ?? []
        assert.equal(g.topic, row.topic, `topic ${row.interval}/${row.length}/${row.unix}`)
        assert.equal(g.seal_key, row.seal_key, `seal key ${row.interval}/${row.length}/${row.unix}`)
        assert.equal(md5hex(totp(token.room, token.otp.crypto.interval, token.otp.crypto.length, BigInt(row.unix)) + 'public'), row.public_topic)
        if (g.rendezvous !== row.rendezvous) {
          disagreements.push(`${row.interval}/${row.length}/${row.unix}`)
          // Go's DHT.Run uses 12 characters for length 0; the vectors used 6.
          assert.equal(row.length, 0)
          assert.equal(g.rendezvous, md5hex(totp(token.otp.dht.key, token.otp.dht.interval, 12, BigInt(row.unix))))
        } else {
          assert.equal((await rendezvousCid(g.rendezvous)).toString(), row.rendezvous_cid)
        }
      }
      assert.equal(disagreements.length, 12, `length-0 rendezvous rows: ${disagreements.join(', ')}`)
    })

    it('static rendezvous and the seal vector', () => {
      const token = customToken({ interval: 9000n, length: 43, dhtKey: '' })
      const [g] = runGo({ token: token.base64, times: [0] }).at ?? []
      assert.equal(g.rendezvous, v.static_rendezvous_when_no_dht_key.rendezvous)
      const s = v.seal
      const [gs] = runGo({ token: customToken({ interval: BigInt(s.interval), length: s.length }).base64, times: [s.unix] }).at ?? []
      assert.equal(gs.seal_key, s.seal_key)
      assert.equal(gs.topic, s.topic)
      const res =
        runGo({
          token: token.base64,
          unseal: [
            { key: s.seal_key, sealed: s.foo.sealed_hex },
            { key: s.seal_key, sealed: s.block.sealed_hex },
          ],
        }).unsealed ?? []
      assert.deepEqual(res[0], { plaintext: 'foo' })
      assert.equal(res[1].error, undefined)
      assert.equal(Buffer.from(res[1].plaintext, 'latin1').length > 0, true)
    })
  })
})
