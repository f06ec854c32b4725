/**
 * Error paths of the built CLI (node bin/run.js; `npm test` builds first) that
 * need no network: --json errors are JSON for every command (also flag-parse
 * errors), malformed multiaddrs and environment values are usage errors, a
 * unix socket in a missing directory and a non-regular identity file are one
 * line each.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateToken } from '../../src/token/token.js'
import { assertError, assertOneErrorLine, root, run, runAll } from '../helpers/cli.js'

const T = generateToken({ interval: 9000n }).base64

describe('--json errors are JSON for every command, also when the flags do not parse', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> }
  const commands = Object.keys(manifest.commands).map((id) => id.split(':'))
  it(`${commands.length} commands × an unknown flag, a bad --timeout`, async () => {
    const all = commands.flatMap((cmd) => [
      [...cmd, '--json', '--no-such-flag'],
      [...cmd, '--timeout', 'abc', '--json'],
    ])
    const results = await runAll(all.map((args) => () => run(args)))
    results.forEach((r, i) => {
      assertError(r, true, all[i].join(' '))
      assert.equal(r.code, 2, `${all[i].join(' ')}: ${r.stderr}`)
      assert.equal((JSON.parse(r.stdout) as { error: string }).error, r.stderr.trim().replace(/^error: /, ''))
    })
  })

  it('a --json after -- is an argument, not the flag', async () => {
    const r = await run(['ledger', 'get', '--bogus', '--', '--json'])
    assert.equal(r.code, 2)
    assert.equal(r.stdout, '')
  })
})

describe('bad addresses, paths and environment values: one line', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kctl-cli-errors-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))
  const quiet = ['--no-dht', '--no-mdns', '--timeout', '2']

  it('malformed --listen and --bootstrap-peer values (flag and EDGEVPNBOOTSTRAPPEERS) exit 2', async () => {
    const id = '12D3KooWLjKYYxGqNFQeH1mwsWJ9k6r7SHgPAyR4ce6CkS7cYnT6'
    const cases: [string[], Record<string, string>, string][] = [
      [['--listen', 'garbage'], {}, 'invalid listen address "garbage"'],
      [['--listen', '/ip4/999.1.1.1/tcp/1'], {}, 'invalid listen address "/ip4/999.1.1.1/tcp/1"'],
      [['--listen', '/ip4/127.0.0.1/udp/1/quic-v1'], {}, 'invalid listen address "/ip4/127.0.0.1/udp/1/quic-v1": only TCP'],
      [['--bootstrap-peer', 'garbage'], {}, 'invalid bootstrap peer "garbage"'],
      [['--bootstrap-peer', '/ip4/127.0.0.1/tcp/1'], {}, 'invalid bootstrap peer "/ip4/127.0.0.1/tcp/1": it does not end in /p2p/<peer id>'],
      [['--bootstrap-peer', '/ip4/127.0.0.1/tcp/1/p2p/nope'], {}, 'invalid bootstrap peer "/ip4/127.0.0.1/tcp/1/p2p/nope": nope is not a peer id'],
      [[], { EDGEVPNBOOTSTRAPPEERS: `/ip4/127.0.0.1/tcp/1/p2p/${id},garbage` }, 'invalid bootstrap peer "garbage"'],
      [
        [],
        { EDGEVPNBOOTSTRAPPEERS: `/ip4/127.0.0.1/tcp/1/p2p/${id} /ip4/127.0.0.1/tcp/2/p2p/${id}` },
        'invalid bootstrap peer "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLjKYYxGqNFQeH1mwsWJ9k6r7SHgPAyR4ce6CkS7cYnT6 /ip4/127.0.0.1/tcp/2/p2p/12D3KooWLjKYYxGqNFQeH1mwsWJ9k6r7SHgPAyR4ce6CkS7cYnT6": it contains white space: separate several addresses with commas',
      ],
    ]
    const jobs = cases.flatMap(([args, env]) => [
      () => run(['ledger', 'ls', '--network-token', T, ...quiet, ...args], env),
      () => run(['bridge', '--network-token', T, '--no-tun', '--api', '', '--identity', join(dir, 'id'), '--no-dht', '--no-mdns', ...args], env),
    ])
    const results = await runAll(jobs)
    results.forEach((r, i) => {
      const [args, env, prefix] = cases[i >> 1]
      const label = `${i % 2 ? 'bridge' : 'ledger ls'} ${args.join(' ')} ${JSON.stringify(env)}`
      assert.equal(r.code, 2, `${label}: ${r.stderr}`)
      assertOneErrorLine(r, prefix, label)
    })
  })

  it('a unix socket in a missing directory, for the client and for the bridge API', async () => {
    const sock = join(dir, 'missing', 'api.sock')
    const [ls, status, bridge] = await runAll([
      () => run(['ledger', 'ls', '--api', `unix://${sock}`]),
      () => run(['status', '--json'], { EDGEVPN_API: `unix://${sock}` }),
      () => run(['bridge', '--network-token', T, '--no-tun', '--no-dht', '--no-mdns', '--identity', join(dir, 'id'), '--api', `unix://${sock}`]),
    ])
    const missing = `the directory ${join(dir, 'missing')} does not exist`
    assert.equal(ls.code, 1, ls.stderr)
    assertOneErrorLine(ls, `cannot reach the EdgeVPN API at unix://${sock}: ${missing}`, 'ledger ls')
    assert.equal(status.code, 1, status.stderr)
    assert.match((JSON.parse(status.stdout) as { error: string }).error, new RegExp(`: ${missing}`))
    assert.equal(bridge.code, 1, bridge.stderr)
    assertOneErrorLine(bridge, `cannot serve the API on unix://${sock}: ${missing}`, 'bridge')
  })

  it('an identity file that is a named pipe or a directory is refused at once, also with --timeout', async () => {
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const [ls, bridge, directory] = await runAll([
      () => run(['ledger', 'ls', '--network-token', T, ...quiet, '--identity', fifo]),
      () => run(['bridge', '--network-token', T, '--no-tun', '--api', '', '--no-dht', '--no-mdns', '--identity', fifo]),
      () => run(['ledger', 'ls', '--network-token', T, ...quiet, '--identity', dir]),
    ])
    for (const [r, label] of [
      [ls, 'ledger ls'],
      [bridge, 'bridge'],
    ] as const) {
      assert.equal(r.code, 2, `${label}: ${r.stderr}`)
      assertOneErrorLine(r, `identity file ${fifo} is a named pipe: pass the path of a regular file`, label)
    }
    assert.equal(directory.code, 2, directory.stderr)
    assertOneErrorLine(directory, `identity file ${dir} is a directory`, 'directory')
  })

  it('malformed EDGEVPNTOKEN and EDGEVPN_API values', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ EDGEVPNTOKEN: 'not a token' }, 'invalid network token in EDGEVPNTOKEN: it is not valid base64'],
      [{ EDGEVPNTOKEN: 'bGluZQpsaW5lCg==' }, 'invalid network token in EDGEVPNTOKEN: its content is not a YAML mapping'],
      [{ EDGEVPN_API: 'ftp://127.0.0.1:21' }, 'unsupported API address ftp://127.0.0.1:21'],
      [{ EDGEVPN_API: 'http://[nope' }, 'invalid API address http://[nope'],
      [{ EDGEVPN_API: 'unix://' }, 'invalid API address unix://'],
    ]
    const jobs = cases.flatMap(([env]) => [() => run(['ledger', 'ls', ...quiet], env), () => run(['status', '--json'], env)])
    const results = await runAll(jobs)
    results.forEach((r, i) => {
      const [env, prefix] = cases[i >> 1]
      const label = `${i % 2 ? 'status' : 'ledger ls'} ${JSON.stringify(env)}`
      assert.equal(r.code, 2, `${label}: ${r.stderr}`)
      assertOneErrorLine(r, prefix, label)
    })
  })
})
