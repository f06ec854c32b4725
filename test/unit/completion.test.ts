/**
 * `kairosctl autocomplete`: the scripts the built CLI prints (node bin/run.js;
 * `npm test` builds first), run in the real shells. bash: the completion
 * function is called with COMP_WORDS as bash would. fish: `complete -C`
 * asks fish itself. zsh: the script is syntax-checked and its function run
 * with zsh's completion builtins stubbed. zsh and fish tests skip when the
 * shell is not installed.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { run, assertOneErrorLine } from '../helpers/cli.js'

const has = (shell: string): boolean => spawnSync(shell, ['-c', 'exit 0']).status === 0
const dir = mkdtempSync(join(tmpdir(), 'kctl-completion-'))
after(() => rmSync(dir, { recursive: true, force: true }))

async function script(shell: string): Promise<string> {
  const r = await run(['autocomplete', shell])
  assert.equal(r.code, 0, r.stderr)
  const file = join(dir, `kairosctl.${shell}`)
  writeFileSync(file, r.stdout)
  return file
}

describe('bash', () => {
  let file = ''
  before(async () => {
    file = await script('bash')
  })
  /** What the completion function offers for the words typed so far (the last one being completed). */
  const complete = (...words: string[]): string[] => {
    const program = `source ${JSON.stringify(file)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
_kairosctl; printf '%s\\n' "\${COMPREPLY[@]}"`
    return execFileSync('bash', ['-c', program], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l !== '')
  }

  test('the script parses and registers the completion', () => {
    assert.equal(spawnSync('bash', ['-n', file]).status, 0)
    assert.match(execFileSync('bash', ['-c', `source ${JSON.stringify(file)}; complete -p kairosctl`], { encoding: 'utf8' }), /-F _kairosctl kairosctl/)
  })

  test('commands, topics and topic commands', () => {
    assert.deepEqual(complete('kairosctl', 'led'), ['ledger'])
    assert.deepEqual(complete('kairosctl', 'ledger', ''), ['delete', 'get', 'ls', 'put'])
    assert.deepEqual(complete('kairosctl', 'role', 's'), ['set'])
    assert.deepEqual(complete('kairosctl', 'token', ''), ['inspect'])
    assert.ok(complete('kairosctl', '').includes('autocomplete'))
  })

  test('flag names of the command typed, --no- forms, short flags, and values of choice flags', () => {
    assert.deepEqual(complete('kairosctl', 'ledger', 'get', '--r'), ['--raw'])
    assert.deepEqual(complete('kairosctl', 'ledger', 'ls', '--tr'), ['--truncate'])
    assert.deepEqual(complete('kairosctl', 'ledger', 'ls', 'kairos', '--no-t'), ['--no-truncate'])
    assert.deepEqual(complete('kairosctl', 'token', 'inspect', '--s'), ['--show-secrets'])
    assert.ok(complete('kairosctl', 'ledger', 'ls', '-').includes('-v'))
    assert.deepEqual(complete('kairosctl', 'ledger', 'get', '--ownership', ''), ['auto', 'off', 'observe', 'enforce'])
    assert.deepEqual(complete('kairosctl', 'ledger', 'get', '--ra'), ['--raw'])
    assert.deepEqual(complete('kairosctl', 'generate-token', '--r'), [], 'flags of another command are not offered')
    assert.deepEqual(complete('kairosctl', '--v'), ['--version'])
  })
})

describe('zsh', { skip: has('zsh') ? false : 'zsh is not installed' }, () => {
  test('the script parses, and offers topic commands, flags and flag values', async () => {
    const file = await script('zsh')
    assert.equal(spawnSync('zsh', ['-n', file]).status, 0)
    const program = `compdef() { : }
_describe() { print -rl -- \${(P)4} }
_files() { print FILES }
compadd() { shift; print -rl -- "$@" }
source ${JSON.stringify(file)}
c() { words=("$@"); CURRENT=\${#words}; print -- "== $*"; _kairosctl }
c kairosctl ledger ''
c kairosctl ledger get --r
c kairosctl ledger get --ownership ''
c kairosctl ledger get --identity ''`
    const out = execFileSync('zsh', ['-c', program], { encoding: 'utf8' })
    const [, ledger, get, ownership, identity] = out.split(/^== .*\n/m)
    assert.deepEqual(
      ledger
        .trim()
        .split('\n')
        .map((l) => l.split(':')[0]),
      ['delete', 'get', 'ls', 'put'],
    )
    assert.ok(get.includes('--raw:Print the stored JSON text exactly'), get)
    assert.ok(get.includes('--no-dht:'), get)
    assert.equal(ownership.trim(), 'auto\noff\nobserve\nenforce')
    assert.equal(identity.trim(), 'FILES')
  })
})

describe('fish', { skip: has('fish') ? false : 'fish is not installed' }, () => {
  test('the script parses, and fish completes topic commands and flags with it', async () => {
    const file = await script('fish')
    assert.equal(spawnSync('fish', ['-n', file]).status, 0)
    const complete = (line: string): string[] =>
      execFileSync('fish', ['-c', `source ${JSON.stringify(file)}; complete -C ${JSON.stringify(line)}`], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t')[0])
    assert.deepEqual(complete('kairosctl led'), ['ledger'])
    assert.deepEqual(complete('kairosctl ledger '), ['delete', 'get', 'ls', 'put'])
    assert.deepEqual(complete('kairosctl ledger get --r'), ['--raw'])
    assert.deepEqual(complete('kairosctl ledger ls --no-tr'), ['--no-truncate'])
    assert.deepEqual(complete('kairosctl role s'), ['set'])
  })
})

test('an unknown shell, or none, is a usage error', async () => {
  const bad = await run(['autocomplete', 'tcsh'])
  assert.equal(bad.code, 2)
  assertOneErrorLine(bad, 'Expected tcsh to be one of: bash, zsh, fish', 'unknown shell')
  const none = await run(['autocomplete'], { SHELL: '/bin/tcsh' })
  assert.equal(none.code, 2)
  assertOneErrorLine(none, 'cannot tell the shell ($SHELL is tcsh)', 'no shell')
  const fromEnv = await run(['autocomplete'], { SHELL: '/usr/bin/fish' })
  assert.match(fromEnv.stdout, /^# fish completion/)
})
