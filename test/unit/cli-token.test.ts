/**
 * Runs the built CLI (node bin/run.js; `npm test` builds first) for the token
 * commands: output formats, and one clean error line with exit code 2 for
 * every malformed token.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { before, describe, it } from 'node:test'
import { generateToken, MAX_INT64, parseToken, tokenYaml } from '../../src/token/token.js'
import { assertOneErrorLine, root, run } from '../helpers/cli.js'

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64')
const goodYaml = (): string => tokenYaml(generateToken({ interval: 9000n }))
const edit = (re: RegExp, to: string): string => b64(goodYaml().replace(re, to))

/** A valid token's YAML in the URL-safe alphabet ('???' guarantees a 63, i.e. '/' becomes '_'). */
function urlSafeToken(): string {
  const t = Buffer.from(goodYaml() + '# ???\n').toString('base64url')
  return t.padEnd(Math.ceil(t.length / 4) * 4, '=')
}

const BAD_TOKENS: [string, string][] = [
  ['not base64 at all', 'this is not a token!'],
  ['URL-safe base64 alphabet', urlSafeToken()],
  ['base64 without padding', b64(goodYaml()).replace(/=+$/, '').slice(0, -1)],
  ['base64 of text that is not YAML', b64('otp: [unclosed\nroom: {')],
  ['YAML scalar, not a mapping', b64('hello world')],
  ['YAML list, not a mapping', b64('- otp\n- room\n')],
  ['empty YAML document', b64('\n')],
  ['invalid UTF-8 content', Buffer.from([0x6f, 0x74, 0x70, 0x3a, 0x20, 0xff, 0xfe, 0x0a]).toString('base64')],
  ['otp missing', b64(goodYaml().replace(/^otp:\n(  .*\n)+/m, ''))],
  ['otp is a string', b64(goodYaml().replace(/^otp:\n(  .*\n)+/m, 'otp: yes\n'))],
  ['otp.crypto missing', b64(goodYaml().replace(/^  crypto:\n(    .*\n){3}/m, ''))],
  ['room missing', edit(/^room: .*\n/m, '')],
  ['mdns empty', edit(/^mdns: .*$/m, 'mdns: ""')],
  ['otp.crypto.key empty', b64(goodYaml().replace(/(  crypto:\n    interval: \d+\n    key: ).*/, '$1""'))],
  [
    'no DHT key and no rendezvous',
    b64(
      goodYaml()
        .replace(/(  dht:\n    interval: \d+\n    key: ).*/, '$1""')
        .replace(/^rendezvous: .*$/m, 'rendezvous: ""'),
    ),
  ],
  ['interval 0', edit(/interval: \d+/g, 'interval: 0')],
  ['negative interval', edit(/interval: \d+/g, 'interval: -9000')],
  ['interval above MaxInt64', edit(/interval: \d+/g, `interval: ${MAX_INT64 + 1n}`)],
  ['interval is a float', edit(/interval: \d+/g, 'interval: 9000.5')],
  ['interval is a word', edit(/interval: \d+/g, 'interval: hourly')],
  ['length 45 (Go panics above 44)', edit(/length: 43/g, 'length: 45')],
  ['negative length', edit(/length: 43/g, 'length: -1')],
  ['length is a string', edit(/length: 43/g, 'length: "43"')],
  ['max_message_size 0', edit(/max_message_size: \d+/, 'max_message_size: 0')],
  ['max_message_size huge', edit(/max_message_size: \d+/, 'max_message_size: 99999999999999999999')],
  ['max_message_size is a word', edit(/max_message_size: \d+/, 'max_message_size: big')],
  ['duplicate key', b64(goodYaml() + 'room: again\n')],
]

describe('kairosctl token commands (built CLI)', () => {
  before(() => {
    assert.ok(existsSync(resolve(root, 'dist/commands/token/inspect.js')), 'dist/ is missing: run `npx tsc -p tsconfig.json` (npm test does) first')
  })

  it(`rejects ${BAD_TOKENS.length} malformed tokens given as the argument: exit 2, one line`, async () => {
    assert.ok(BAD_TOKENS.length >= 15)
    await Promise.all(
      BAD_TOKENS.map(async ([label, token]) => {
        assert.throws(() => parseToken(token), Error, `${label} must be invalid`)
        const r = await run(['token', 'inspect', token])
        assert.equal(r.code, 2, `${label}: exit code (${r.stderr})`)
        assert.equal(r.stdout, '', label)
        assertOneErrorLine(r, 'invalid network token', label)
      }),
    )
  })

  it('rejects the same tokens from EDGEVPNTOKEN, with a JSON error under --json', async () => {
    await Promise.all(
      BAD_TOKENS.map(async ([label, token]) => {
        const r = await run(['token', 'inspect', '--json'], { EDGEVPNTOKEN: token })
        assert.equal(r.code, 2, `${label} (env): exit code`)
        assertOneErrorLine(r, 'invalid network token', `${label} (env)`)
        const json = JSON.parse(r.stdout) as { error: string; exitCode: number }
        assert.equal(json.exitCode, 2)
        assert.match(json.error, /^invalid network token in EDGEVPNTOKEN: /)
      }),
    )
  })

  it('token inspect without any token is a usage error', async () => {
    const r = await run(['token', 'inspect'])
    assert.equal(r.code, 2)
    assertOneErrorLine(r, 'no network token', 'no token')
  })

  it('generate-token prints a MaxInt64 token by default, and honours INTERVAL and the flags', async () => {
    const def = await run(['generate-token'])
    assert.equal(def.code, 0, def.stderr)
    assert.match(def.stdout, /^[A-Za-z0-9+/]+=*\n$/)
    const t = parseToken(def.stdout)
    assert.equal(t.otp.crypto.interval, MAX_INT64)
    assert.equal(t.otp.dht.interval, MAX_INT64)
    assert.equal(t.room.length, 43)
    assert.equal(t.maxMessageSize, 20971520)

    const custom = parseToken((await run(['generate-token', '9000', '--key-length', '20', '--max-message-size', '1048576'])).stdout)
    assert.equal(custom.otp.crypto.interval, 9000n)
    assert.equal(custom.otp.dht.key.length, 20)
    assert.equal(custom.otp.crypto.length, 43)
    assert.equal(custom.maxMessageSize, 1048576)

    const yaml = await run(['generate-token', '360', '--yaml'])
    assert.match(yaml.stdout, /^otp:\n  dht:\n    interval: 360\n/)
    assert.match(yaml.stdout, /\nmax_message_size: 20971520\n$/)

    const json = JSON.parse((await run(['generate-token', '--json'])).stdout) as Record<string, unknown>
    assert.equal(json.interval, '9223372036854775807')
    assert.equal(typeof json.token, 'string')
    assert.equal(Buffer.from(json.token as string, 'base64').toString(), json.yaml)
  })

  it('create-config prints the Go kairosctl layout', async () => {
    const r = await run(['create-config'])
    assert.equal(r.code, 0, r.stderr)
    const m = /^#cloud-config\n\np2p:\n {4}network_token: ([A-Za-z0-9+/]+=*)\n$/.exec(r.stdout)
    assert.ok(m, r.stdout)
    assert.equal(parseToken(m[1]).otp.crypto.interval, MAX_INT64)
    const withInterval = /network_token: (\S+)/.exec((await run(['create-config', '9000'])).stdout)
    assert.equal(parseToken(withInterval?.[1] ?? '').otp.crypto.interval, 9000n)
    const json = JSON.parse((await run(['create-config', '--json'])).stdout) as { config: string; token: string }
    assert.equal(json.config, `#cloud-config\n\np2p:\n    network_token: ${json.token}\n`)
  })

  it('a bad INTERVAL, a bad flag value or an unknown flag is a usage error (exit 2, one line)', async () => {
    const cases: [string[], string][] = [
      [['generate-token', 'abc'], 'invalid INTERVAL'],
      [['generate-token', '0'], 'invalid INTERVAL'],
      [['generate-token', '1.5'], 'invalid INTERVAL'],
      [['generate-token', '9223372036854775808'], 'invalid INTERVAL'],
      [['create-config', 'soon'], 'invalid INTERVAL'],
      [['create-config', '0'], 'invalid INTERVAL'],
      [['generate-token', '--key-length', 'abc'], 'Parsing --key-length'],
      [['generate-token', '--key-length', '0'], 'Parsing --key-length'],
      [['generate-token', '--max-message-size', '0'], 'Parsing --max-message-size'],
      [['generate-token', '--bogus'], 'Nonexistent flag'],
      [['generate-token', '1', '2'], 'Unexpected argument'],
      [['token', 'inspect', '--at', 'yesterday', generateToken().base64], 'invalid --at'],
    ]
    await Promise.all(
      cases.map(async ([args, prefix]) => {
        const r = await run(args)
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
        assertOneErrorLine(r, prefix, args.join(' '))
      }),
    )
  })

  it('--help and --version exit 0', async () => {
    for (const args of [['generate-token', '--help'], ['create-config', '--help'], ['token', 'inspect', '--help'], ['--version']]) {
      const r = await run(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
      assert.notEqual(r.stdout, '')
    }
  })

  it('token inspect masks secrets unless --show-secrets, and derives the Go-confirmed values', async () => {
    const keys = {
      dht: 'ahovCJQX5bipwDKRY6cjqxELSZ7dkryFMT18elszGNU',
      crypto: 'bipwDKRY6cjqxELSZ7dkryFMT18elszGNU29fmtAHOV',
      room: 'cjqxELSZ7dkryFMT18elszGNU29fmtAHOV30gnuBIPW',
      rendezvous: 'dkryFMT18elszGNU29fmtAHOV30gnuBIPW4ahovCJQX',
      mdns: 'elszGNU29fmtAHOV30gnuBIPW4ahovCJQX5bipwDKRY',
    }
    const token = b64(
      tokenYaml({
        otp: { dht: { interval: 9000n, key: keys.dht, length: 43 }, crypto: { interval: 9000n, key: keys.crypto, length: 43 } },
        room: keys.room,
        rendezvous: keys.rendezvous,
        mdns: keys.mdns,
        maxMessageSize: 20971520,
      }),
    )
    const human = await run(['token', 'inspect', token, '--at', '8999'])
    assert.equal(human.code, 0, human.stderr)
    for (const secret of Object.values(keys)) assert.ok(!human.stdout.includes(secret), 'secret leaked')
    assert.match(human.stdout, /^otp\.crypto\.key +bipw… \(43 chars\)$/m)
    assert.match(human.stdout, /^mdns +elsz… \(43 chars\)$/m)
    assert.match(human.stdout, /^gossip topic +cb72a2a4c05f03227492d54cc4ef008c$/m)
    assert.match(human.stdout, /^dht rendezvous +c7ee47d14d11391683e9807d53c11b7a$/m)
    assert.match(human.stdout, /^ {2}rotates next +1970-01-01T02:30:00\.000Z \(in 1s\)$/m)

    const full = JSON.parse((await run(['token', 'inspect', '--json', '--show-secrets', '--at', '9000'], { EDGEVPNTOKEN: token })).stdout)
    assert.equal(full.otp.crypto.key.value, keys.crypto)
    assert.equal(full.otp.crypto.interval, '9000')
    assert.equal(full.derived.gossipTopic.value, 'db89b25017eded00dd55090779b88b7c')
    assert.equal(full.derived.sealKey.value, '8a8e0497f862132b64c036d46e997061')
    assert.equal(full.derived.dhtRendezvous.value, 'de03814cdc8cc7cffea3c8a6828890a9')
    assert.match(full.derived.dhtRendezvous.cid, /^bafkrei/)
    assert.equal(full.derived.gossipTopic.rotation.next, '1970-01-01T05:00:00.000Z')

    const never = JSON.parse((await run(['token', 'inspect', '--json', generateToken().base64])).stdout)
    assert.equal(never.otp.crypto.interval, '9223372036854775807')
    assert.equal(never.otp.crypto.rotates, false)
    assert.equal(never.derived.gossipTopic.rotation.next, null)
    assert.match(never.otp.crypto.key.value, /^.{4}…$/)
    const neverHuman = (await run(['token', 'inspect', generateToken().base64])).stdout
    assert.match(neverHuman, /^otp\.crypto\.interval +never rotates \(9223372036854775807\)$/m)
  })
})
