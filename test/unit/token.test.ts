import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseDocument } from 'yaml'
import { canonicalToken, generateToken, MAX_INT64, parseToken, parseTokenYaml, TokenError, tokenYaml } from '../../src/token/token.js'
import { noVectors, vectors } from '../helpers/vectors.js'

const v = vectors
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890'

describe('generateToken', () => {
  it('has the Go kairosctl shape by default: MaxInt64 intervals, length 43, 43-char keys, 20 MiB', () => {
    const t = generateToken()
    for (const o of [t.otp.dht, t.otp.crypto]) {
      assert.equal(o.interval, MAX_INT64)
      assert.equal(o.length, 43)
      assert.equal(o.key.length, 43)
    }
    for (const s of [t.room, t.rendezvous, t.mdns]) assert.equal(s.length, 43)
    assert.equal(t.maxMessageSize, 20971520)
    assert.match(Buffer.from(t.base64, 'base64').toString(), /interval: 9223372036854775807\n/)
  })

  it('re-parses to the same fields, MaxInt64 exact', () => {
    for (const opts of [{}, { interval: 9000n }, { interval: 1n, keyLength: 5, maxMessageSize: 1024 }, { keyLength: 200 }]) {
      const t = generateToken(opts)
      const back = parseToken(t.base64)
      assert.deepEqual(back, t)
      assert.equal(tokenYaml(back), Buffer.from(t.base64, 'base64').toString('utf8'))
    }
  })

  it('draws random strings only from the alphabet, covering all of it', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 40; i++) {
      const t = generateToken()
      for (const s of [t.room, t.rendezvous, t.mdns, t.otp.dht.key, t.otp.crypto.key]) {
        for (const c of s) {
          assert.ok(ALPHABET.includes(c), `unexpected ${c}`)
          seen.add(c)
        }
      }
    }
    assert.equal(seen.size, 62)
  })

  it('rejects bad options', () => {
    assert.throws(() => generateToken({ interval: 0n }), RangeError)
    assert.throws(() => generateToken({ interval: MAX_INT64 + 1n }), RangeError)
    assert.throws(() => generateToken({ keyLength: 0 }), RangeError)
    assert.throws(() => generateToken({ maxMessageSize: 0 }), RangeError)
  })
})

describe('tokenYaml', () => {
  it('writes the yaml.v2 layout and quotes strings YAML would read as something else', () => {
    const base = generateToken({ interval: 9000n })
    const y = tokenYaml({ ...base, room: '123', mdns: 'yes', rendezvous: '0x1F' })
    assert.match(y, /^otp:\n  dht:\n    interval: 9000\n    key: \S+\n    length: 43\n  crypto:\n/)
    assert.match(y, /\nroom: "123"\nrendezvous: "0x1F"\nmdns: "yes"\nmax_message_size: 20971520\n$/)
    const back = parseTokenYaml(y)
    assert.equal(back.room, '123')
    assert.equal(back.mdns, 'yes')
    assert.equal(back.rendezvous, '0x1F')
    assert.equal(tokenYaml({ ...base, room: '9abc' }).includes('room: 9abc\n'), true)
  })

  it('MaxInt64 survives a YAML round trip exactly', () => {
    const y = tokenYaml(generateToken())
    const doc = parseDocument(y, { intAsBigInt: true })
    assert.equal(doc.getIn(['otp', 'crypto', 'interval']), MAX_INT64)
    assert.equal(parseTokenYaml(y).otp.dht.interval, 9223372036854775807n)
  })
})

describe('canonicalToken (reading without the yaml module)', () => {
  // A comment line makes the text non-canonical: the YAML parser reads it.
  const viaYaml = (text: string) => parseTokenYaml(`# read by the YAML parser\n${text}`)
  const strip = ({ base64: _, ...fields }: ReturnType<typeof parseToken>) => fields

  it('reads what tokenYaml writes exactly as the YAML parser does', () => {
    const tokens = [generateToken(), generateToken({ interval: 9000n }), generateToken({ interval: 1n, keyLength: 1, maxMessageSize: 1 })]
    const odd = generateToken()
    tokens.push({ ...odd, room: 'yes', rendezvous: '', mdns: '0x1F', otp: { dht: { ...odd.otp.dht, key: 'a b' }, crypto: { ...odd.otp.crypto, key: '123' } } })
    for (const t of tokens) {
      const text = tokenYaml(t)
      const fast = canonicalToken(text)
      assert.ok(fast, text)
      assert.deepEqual(fast, strip(viaYaml(text)))
    }
  })

  it('leaves everything else, and every invalid token, to the YAML parser', () => {
    const text = tokenYaml(generateToken())
    for (const other of [
      text.replace('room: ', 'room:  '),
      text.replace(/room: (\w+)/, "room: '$1'"),
      text.replace(/room: (\w+)/, 'room: "$1\\t"'),
      text.replace('interval: 9223372036854775807', 'interval: 09'),
      text.replace('interval: 9223372036854775807', 'interval: 0'),
      text.replace('interval: 9223372036854775807', 'interval: 9223372036854775808'),
      text.replace('length: 43', 'length: 45'),
      text.replace(/max_message_size: \d+/, 'max_message_size: 0'),
      text.replace(/mdns: \w+/, 'mdns: ""'),
      text + '\n',
    ]) {
      assert.equal(canonicalToken(other), undefined, other)
    }
    assert.throws(() => parseTokenYaml(text.replace('length: 43', 'length: 45')), /otp.dht.length is 45, outside the range/)
  })
})

describe('parseToken', () => {
  it('accepts line breaks inside the base64 (as Go does) and surrounding whitespace', () => {
    const t = generateToken()
    const wrapped = t.base64.replace(/(.{76})/g, '$1\n')
    assert.deepEqual(parseToken(`  ${wrapped}\r\n`).room, t.room)
  })

  it('scalars in string fields are taken as written, like yaml.v2', () => {
    const t = generateToken()
    const y = tokenYaml(t)
      .replace(/^room: .*$/m, 'room: 1e5')
      .replace(/^mdns: .*$/m, 'mdns: true')
    const back = parseTokenYaml(y)
    assert.equal(back.room, '1e5')
    assert.equal(back.mdns, 'true')
  })

  it('a missing otp.dht falls back to the static rendezvous', () => {
    const y = tokenYaml(generateToken()).replace(/^  dht:\n(    .*\n){3}/m, '')
    const t = parseTokenYaml(y)
    assert.equal(t.otp.dht.key, '')
  })

  const bad: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['URL-safe alphabet', Buffer.from('otp:\n  x: "\u00fb\u00ff"\n').toString('base64url').padEnd(24, '-'), /URL-safe/],
    ['bad padding', 'b3RwOg', /base64/],
    ['not YAML', Buffer.from('otp: [unclosed').toString('base64'), /not YAML/],
    ['not a mapping', Buffer.from('just text').toString('base64'), /mapping/],
    ['interval 0', Buffer.from(tokenYaml(generateToken()).replace(/interval: \d+/g, 'interval: 0')).toString('base64'), /interval is 0/],
    ['interval too large', Buffer.from(tokenYaml(generateToken()).replace(/interval: \d+/g, 'interval: 9223372036854775808')).toString('base64'), /outside/],
    ['length 45', Buffer.from(tokenYaml(generateToken()).replace(/length: 43/g, 'length: 45')).toString('base64'), /length is 45/],
    ['string interval', Buffer.from(tokenYaml(generateToken()).replace(/interval: \d+/g, 'interval: soon')).toString('base64'), /must be an integer/],
    ['invalid UTF-8', Buffer.from([0x6f, 0x74, 0x70, 0x3a, 0xff, 0xfe]).toString('base64'), /UTF-8/],
  ]
  for (const [name, input, re] of bad) {
    it(`rejects ${name} with a TokenError`, () => {
      assert.throws(
        () => parseToken(input),
        (err: unknown) => err instanceof TokenError && err.exitCode === 2 && /^invalid network token: /.test(err.message) && re.test(err.message),
      )
    })
  }
})

describe('vector tokens', { skip: noVectors }, () => {
  it('parse to exactly the vector fields and re-encode byte for byte', () => {
    const k = v.inputs.keys
    for (const [name, interval] of [
      ['edgevpn_default_9000', 9000n],
      ['kairosctl_maxint64', MAX_INT64],
    ] as const) {
      const vt = v.tokens[name]
      const t = parseToken(vt.base64_std)
      assert.deepEqual(t, {
        otp: { dht: { interval, key: k.dht_key, length: 43 }, crypto: { interval, key: k.crypto_key, length: 43 } },
        room: k.room,
        rendezvous: k.rendezvous,
        mdns: k.mdns,
        maxMessageSize: 20971520,
        base64: vt.base64_std,
      })
      assert.equal(tokenYaml(t), vt.yaml)
      assert.equal(Buffer.from(vt.yaml).toString('base64'), vt.base64_std)
    }
  })
})
