/**
 * Start-up of the built CLI (node bin/run.js; `npm test` builds first):
 * generate-token and token inspect in their common forms, --version and help
 * run without loading oclif (src/cli/fast.ts) and print what the oclif
 * commands print; other commands do not load semver; generate-token and token
 * inspect (of a token in the layout Go and kairosctl write) do not load yaml.
 * Which modules load is checked, not how long it takes.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { generateToken, parseToken, tokenYaml } from '../../src/token/token.js'
import { root, run } from '../helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'kctl-startup-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const hook = join(root, 'test/helpers/loaded-modules.mjs')
const slow = { KAIROSCTL_NO_FAST_PATH: '1' }

/** Runs the CLI and returns its output and the package names of the CommonJS modules it loaded. */
async function loaded(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; packages: Set<string> }> {
  const out = join(dir, `modules-${Math.random().toString(36).slice(2)}`)
  const r = await run(args, { ...env, NODE_OPTIONS: `--import ${hook}`, KCTL_MODULES_OUT: out })
  assert.equal(r.code, 0, r.stderr)
  const files = readFileSync(out, 'utf8').split('\n')
  return { stdout: r.stdout, packages: new Set(files.map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1]).filter((p) => p !== undefined)) }
}

/** A token that never rotates: what inspect derives from it does not depend on the time. */
const TOKEN = generateToken().base64
const withoutTime = (text: string) => text.replace(/^at .*$/m, '').replace(/"at": ".*"/, '')

describe('the fast path', () => {
  test('generate-token, create-config, token inspect and --version load no oclif', async () => {
    for (const args of [
      ['generate-token'],
      ['generate-token', '--yaml', '--json'],
      ['token', 'inspect', TOKEN],
      ['token', 'inspect', '--json', '--show-secrets'],
      ['--version'],
      ['create-config'],
      ['create-config', '--json'],
    ]) {
      const r = await loaded(args, { EDGEVPNTOKEN: TOKEN })
      assert.ok(!r.packages.has('@oclif/core'), `${args.join(' ')} loaded @oclif/core`)
    }
    assert.ok(!(await loaded(['generate-token'])).packages.has('yaml'), 'generate-token loaded yaml')
    assert.ok(!(await loaded(['token', 'inspect', TOKEN])).packages.has('yaml'), 'token inspect of a token in the usual layout loaded yaml')
  })

  test('other forms and commands go through oclif, without semver', async () => {
    for (const args of [
      ['generate-token', '9000'],
      ['token', 'inspect', TOKEN, '--at', '0'],
      ['ledger', 'ls', '--json', '--help'],
    ]) {
      const r = await loaded(args)
      assert.ok(r.packages.has('@oclif/core'), args.join(' '))
      assert.ok(!r.packages.has('semver'), `${args.join(' ')} loaded semver`)
    }
  })

  test('prints what the oclif commands print', async () => {
    for (const args of [
      ['token', 'inspect', TOKEN],
      ['token', 'inspect', TOKEN, '--show-secrets'],
      ['token', 'inspect', '--json'],
    ]) {
      const [fast, full] = await Promise.all([run(args, { EDGEVPNTOKEN: TOKEN }), run(args, { ...slow, EDGEVPNTOKEN: TOKEN })])
      assert.equal(fast.code, 0, fast.stderr)
      assert.equal(withoutTime(fast.stdout), withoutTime(full.stdout), args.join(' '))
      assert.ok(fast.stdout.includes('gossip topic') || fast.stdout.includes('"gossipTopic"'))
    }
    // generate-token: a new token each time; the same shape both ways.
    const [fast, full] = await Promise.all([run(['generate-token', '--json']), run(['generate-token', '--json'], slow)])
    const [a, b] = [JSON.parse(fast.stdout), JSON.parse(full.stdout)] as Record<string, unknown>[]
    assert.deepEqual(Object.keys(a), Object.keys(b))
    assert.deepEqual({ ...a, token: 0, yaml: 0 }, { ...b, token: 0, yaml: 0 })
    assert.equal(tokenYaml(parseToken(a.token as string)), a.yaml)
    const text = await run(['generate-token'])
    assert.match(text.stdout, /^[A-Za-z0-9+/]+=*\n$/)
    const yaml = await run(['generate-token', '--yaml'])
    assert.equal(yaml.stdout, tokenYaml(parseToken(Buffer.from(yaml.stdout).toString('base64'))))
    const [c1, c2] = await Promise.all([run(['create-config', '--json']), run(['create-config', '--json'], slow)])
    const [ca, cb] = [JSON.parse(c1.stdout), JSON.parse(c2.stdout)] as Record<string, string>[]
    assert.deepEqual(Object.keys(ca), Object.keys(cb))
    assert.equal(ca.config.replace(ca.token, 'T'), cb.config.replace(cb.token, 'T'))
    assert.equal(ca.interval, cb.interval)
    const [v1, v2] = await Promise.all([run(['--version']), run(['--version'], slow)])
    assert.equal(v1.stdout, v2.stdout)
  })

  test('help for the root, each topic and each command comes from the build, without oclif, as oclif prints it', async () => {
    const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> }
    const commands = Object.keys(manifest.commands).map((id) => [...id.split(':'), '--help'])
    assert.ok(commands.length >= 10)
    for (const args of [[], ['--help'], ['ledger'], ['role', '--help'], ['token'], ...commands]) {
      const fast = await loaded(args)
      assert.ok(!fast.packages.has('@oclif/core'), `${args.join(' ')} loaded @oclif/core`)
      const full = await run(args, slow)
      assert.equal(full.code, 0, full.stderr)
      assert.equal(fast.stdout, full.stdout, args.join(' '))
      assert.match(fast.stdout, /USAGE/)
    }
    // A narrow width asked for: oclif renders it.
    const narrow = await loaded(['--help'], { OCLIF_COLUMNS: '50' })
    assert.ok(narrow.packages.has('@oclif/core'))
  })
})
