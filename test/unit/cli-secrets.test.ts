/**
 * The network token never appears in any output of the built CLI (node
 * bin/run.js; `npm test` builds first): every command that reaches a ledger,
 * with conflicting flags and environment, bad values and damaged tokens,
 * with and without --json, and with KAIROSCTL_DEBUG's stack trace.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { generateToken, tokenYaml } from '../../src/token/token.js'
import { freePort } from '../helpers/go-peer.js'
import { assertError, run, runAll, type Run } from '../helpers/cli.js'

const token = generateToken({ interval: 9000n })
const T = Buffer.from(tokenYaml(token)).toString('base64')
/** A damaged copy: still a secret, and not valid base64. */
const DAMAGED = `${T.slice(0, 100)}!${T.slice(101)}`
const SECRETS = [T, DAMAGED, token.otp.dht.key, token.otp.crypto.key]

function assertNoSecret(r: Run, label: string): void {
  for (const s of SECRETS) {
    assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${label}: a token secret is in the output:\n${r.stdout}${r.stderr}`)
  }
}

describe('the network token never appears in an error', () => {
  const JOINING = [
    ['ledger', 'ls'],
    ['ledger', 'get', 'b', 'k'],
    ['ledger', 'put', 'b', 'k', 'v'],
    ['ledger', 'delete', 'b', 'k'],
    ['get-kubeconfig'],
    ['role', 'list'],
    ['role', 'set', '0b2f6c1d9e', 'worker'],
    ['status'],
  ]
  let dead: string
  before(async () => {
    dead = `http://127.0.0.1:${await freePort()}`
  })

  it('every joining command × conflicting flags and environment, bad values (three commands); --json on every other run', async () => {
    type Case = { label: string; args: string[]; env: Record<string, string>; code?: number }
    const cases = (cmd: string[]): Case[] => [
      { label: 'EDGEVPNTOKEN and --api', args: [...cmd, '--api', dead], env: { EDGEVPNTOKEN: T }, code: 1 },
      { label: '--network-token and --api', args: [...cmd, '--network-token', T, '--api', dead], env: {}, code: 2 },
      { label: '--network-token=T and --api=', args: [...cmd, `--network-token=${T}`, `--api=${dead}`], env: {}, code: 2 },
      { label: 'EDGEVPNTOKEN and EDGEVPN_API', args: cmd, env: { EDGEVPNTOKEN: T, EDGEVPN_API: dead }, code: 2 },
      { label: 'the same, with KAIROSCTL_DEBUG', args: cmd, env: { EDGEVPNTOKEN: T, EDGEVPN_API: dead, KAIROSCTL_DEBUG: '1' } },
      { label: '--timeout abc', args: [...cmd, '--network-token', T, '--timeout', 'abc'], env: { EDGEVPN_API: dead }, code: 2 },
      { label: '--listen garbage', args: [...cmd, '--network-token', T, '--listen', 'garbage', '--no-dht', '--no-mdns'], env: {}, code: 2 },
      { label: 'an unknown flag', args: [...cmd, '--bogus'], env: { EDGEVPNTOKEN: T }, code: 2 },
      { label: 'a damaged token', args: [...cmd, '--network-token', DAMAGED], env: {}, code: 2 },
      { label: 'a damaged EDGEVPNTOKEN', args: cmd, env: { EDGEVPNTOKEN: DAMAGED }, code: 2 },
    ]
    // Every command gets the conflicts (its own init); the bad values take the same path in
    // every command and run for three of them. --json alternates, so each case and command sees both.
    const FULL = ['ledger ls', 'get-kubeconfig', 'status']
    const all = JOINING.flatMap((cmd, i) =>
      cases(cmd)
        .slice(0, FULL.includes(cmd.join(' ')) ? undefined : 4)
        .map((c, j) => {
          const json = (i + j) % 2 === 1
          return { ...c, json, args: json ? [...c.args, '--json'] : c.args, label: `${cmd.join(' ')}: ${c.label}${json ? ' --json' : ''}` }
        }),
    )
    const results = await runAll(all.map((c) => () => run(c.args, c.env)))
    all.forEach((c, i) => {
      const r = results[i]
      assertNoSecret(r, c.label)
      if (c.env.KAIROSCTL_DEBUG) return // a stack trace follows the error line
      assertError(r, c.json, c.label)
      if (c.code !== undefined) assert.equal(r.code, c.code, `${c.label}: ${r.stderr}`)
    })
  })

  it('bridge and token inspect', async () => {
    const all: [string[], Record<string, string>][] = [
      [['bridge', '--network-token', T, '--bogus'], {}],
      [['bridge', '--no-tun', '--address', '10.1.0.1/99'], { EDGEVPNTOKEN: T }],
      [['bridge', '--no-tun', '--api', '0.0.0.0:1', '--network-token', T], {}],
      [['bridge', '--no-tun', '--network-token', DAMAGED], {}],
      [['token', 'inspect', T, 'extra'], {}],
      [['token', 'inspect', 'extra', T], {}],
      [['token', 'inspect', T, '--at', 'never'], {}],
      [['token', 'inspect', DAMAGED], {}],
    ]
    const results = await runAll(all.flatMap(([args, env]) => [() => run(args, env), () => run([...args, '--json'], env)]))
    results.forEach((r, i) => {
      const label = `${all[i >> 1][0].join(' ').replace(T, 'T').replace(DAMAGED, 'DAMAGED')}${i % 2 ? ' --json' : ''}`
      assertNoSecret(r, label)
      assertError(r, i % 2 === 1, label)
    })
  })
})
