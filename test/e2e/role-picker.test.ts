/**
 * `role set` without UUID or ROLE: on a terminal it offers pickers (node, then
 * role), driven here by keystrokes in a tmux pseudo-terminal; without a
 * terminal it is a usage error. The network is the in-process demo network
 * (three peers on loopback), so this runs without Go binaries and without root.
 * The CLI is the built one (node bin/run.js).
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startDemoNetwork, type DemoNetwork } from '../../src/kairos/demo.js'
import { decodeString } from '../../src/kairos/layout.js'
import { KNOWN_ROLES } from '../../src/kairos/roles.js'
import { waitFor } from '../helpers/wait.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const bin = resolve(root, 'bin/run.js')
const NET = 'kairos'

/** A tmux server of our own (its own socket in a temporary directory), so nothing else's sessions are touched. */
let socketDir = ''
let socket = ''

function tmux(...args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    execFile('tmux', ['-S', socket, ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tmux ${args.join(' ')}: ${stderr || err.message}`))
      else resolveRun(stdout)
    })
  })
}

const tmuxAvailable = (): boolean => (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(resolve(d, 'tmux')))

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** The screen of a session, blank lines dropped. */
async function screen(session: string): Promise<string> {
  return (await tmux('capture-pane', '-p', '-t', session))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .join('\n')
}

/** Waits (bounded) until the screen matches, returning it; the last screen is in the error. */
async function waitScreen(session: string, pattern: RegExp, what: string, timeoutMs = 30_000): Promise<string> {
  let last = ''
  try {
    return await waitFor(
      async () => {
        last = await screen(session)
        return pattern.test(last) ? last : undefined
      },
      { timeoutMs, intervalMs: 150, what },
    )
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- screen:\n${last}`, { cause: err })
  }
}

/** The line the picker's cursor (❯) is on. */
const cursorLine = (text: string): string => text.split('\n').find((l) => l.trimStart().startsWith('❯')) ?? ''

/** Starts the CLI in a new session; the shell then prints EXIT:<code> and keeps the pane open. */
async function startInTmux(session: string, args: string[]): Promise<void> {
  const clean = ['EDGEVPNTOKEN', 'EDGEVPN_API', 'EDGEVPNBOOTSTRAPPEERS', 'EDGEVPN_NETWORK_ID', 'KAIROSCTL_DEBUG'].map((v) => `-u ${v}`).join(' ')
  const command = `cd ${shellQuote(root)} && env ${clean} NODE_NO_WARNINGS=1 NO_COLOR=1 ${shellQuote(process.execPath)} ${shellQuote(bin)} ${args.map(shellQuote).join(' ')}; echo "EXIT:$?"; sleep 300`
  await tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', command)
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** The CLI without a terminal (pipes), bounded. */
function runPlain(args: string[]): Promise<Run> {
  return new Promise((resolveRun) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1', NO_COLOR: '1' }
    for (const k of ['EDGEVPNTOKEN', 'EDGEVPN_API', 'EDGEVPNBOOTSTRAPPEERS', 'KAIROSCTL_DEBUG']) delete env[k]
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('close', (code) => {
      clearTimeout(killer)
      resolveRun({ code, stdout, stderr })
    })
  })
}

/** A node's role as every demo peer holds it (undefined where missing). */
function rolesHeld(net: DemoNetwork, uuid: string): (string | undefined)[] {
  return net.nodes.map((n) => {
    const text = n.peer.ledger.currentData()[NET]?.[`${uuid}-role`]
    return text === undefined ? undefined : decodeString(text)
  })
}

describe('role set pickers', { skip: tmuxAvailable() ? false : 'tmux is not installed' }, () => {
  let net: DemoNetwork
  let reach: string[]
  let sessions = 0
  const session = (): string => `picker${++sessions}`

  before(async () => {
    assert.ok(existsSync(resolve(root, 'dist/commands/role/set.js')), 'build the CLI first (npm run build)')
    socketDir = mkdtempSync(join(tmpdir(), 'kctl-picker-'))
    socket = join(socketDir, 'tmux.sock')
    net = await startDemoNetwork({ nodes: 3 })
    reach = ['--network-token', net.token.base64, '--bootstrap-peer', net.bootstrap, '--no-dht', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--timeout', '30']
  })

  after(async () => {
    if (socketDir) {
      await tmux('kill-server').catch(() => {})
      rmSync(socketDir, { recursive: true, force: true })
    }
    await net?.stop()
  })

  test('on a terminal: pick a node and a role with the arrow keys; the ledger then holds that role', async () => {
    const sorted = [...net.nodes].sort((a, b) => Buffer.compare(Buffer.from(a.uuid), Buffer.from(b.uuid)))
    // A worker that is not first in the list, so the cursor has to move to reach it.
    const index = sorted.findIndex((n, i) => i > 0 && n.role === 'worker')
    assert.ok(index > 0)
    const target = sorted[index]
    const role = 'master/ha'
    const roleIndex = (KNOWN_ROLES as readonly string[]).indexOf(role)

    const s = session()
    await startInTmux(s, ['role', 'set', ...reach])
    // The node picker lists every advertising node, sorted, with its role and IP; the cursor starts on the first.
    const first = await waitScreen(s, new RegExp(`\\? Node[\\s\\S]*${sorted.map((n) => n.uuid).join('[\\s\\S]*')}`), 'the node picker', 45_000)
    for (const n of sorted) assert.match(first, new RegExp(`${n.uuid}\\s+${n.role.replace('/', '\\/')}\\s+${n.ip.replace(/\./g, '\\.')}`))
    assert.match(cursorLine(first), new RegExp(sorted[0].uuid))

    for (let i = 1; i <= index; i++) {
      await tmux('send-keys', '-t', s, 'Down')
      await waitScreen(s, new RegExp(`❯ ${sorted[i].uuid}`), `the cursor on node ${i}`, 10_000)
    }
    await tmux('send-keys', '-t', s, 'Enter')

    const rolePicker = await waitScreen(s, /\? Role[\s\S]*master\/clusterinit/, 'the role picker', 10_000)
    assert.match(rolePicker, new RegExp(`✔ Node ${target.uuid}`))
    assert.match(cursorLine(rolePicker), /❯ master$/)
    for (let i = 1; i <= roleIndex; i++) {
      await tmux('send-keys', '-t', s, 'Down')
      await waitScreen(s, new RegExp(`❯ ${KNOWN_ROLES[i].replace('/', '\\/')}\\s*\\n`), `the cursor on role ${KNOWN_ROLES[i]}`, 10_000)
    }
    await tmux('send-keys', '-t', s, 'Enter')

    const end = await waitScreen(s, /EXIT:\d+/, 'role set to finish', 45_000)
    assert.match(end, /EXIT:0/, end)
    assert.match(end, new RegExp(`✔ Role ${role.replace('/', '\\/')}`))
    assert.match(end, new RegExp(`${target.uuid} is now ${role.replace('/', '\\/')}`))

    // Every demo peer holds the new role for that node, written the Kairos way; the others are unchanged.
    await waitFor(() => rolesHeld(net, target.uuid).every((r) => r === role), { timeoutMs: 20_000, what: 'the role on every demo peer' })
    assert.equal(net.nodes[0].peer.ledger.currentData()[NET][`${target.uuid}-role`], '"Im1hc3Rlci9oYSI="')
    for (const n of net.nodes.filter((x) => x !== target))
      assert.deepEqual(
        rolesHeld(net, n.uuid),
        net.nodes.map(() => n.role),
      )
  })

  test('on a terminal with the UUID given: only the role is picked', async () => {
    const target = net.nodes.find((n) => n.role === 'worker' && rolesHeld(net, n.uuid)[0] === 'worker')!
    const s = session()
    await startInTmux(s, ['role', 'set', target.uuid, ...reach])
    const picker = await waitScreen(s, /\? Role[\s\S]*master\/clusterinit/, 'the role picker', 45_000)
    assert.doesNotMatch(picker, /\? Node/)
    await tmux('send-keys', '-t', s, 'Down', 'Down', 'Down')
    await waitScreen(s, /❯ master\/clusterinit/, 'the cursor on master/clusterinit', 10_000)
    await tmux('send-keys', '-t', s, 'Enter')
    const end = await waitScreen(s, /EXIT:\d+/, 'role set to finish', 45_000)
    assert.match(end, /EXIT:0/, end)
    await waitFor(() => rolesHeld(net, target.uuid).every((r) => r === 'master/clusterinit'), { timeoutMs: 20_000, what: 'the picked role on every demo peer' })
  })

  test('Ctrl-C in the picker writes nothing and exits non-zero', async () => {
    const before = net.nodes.map((n) => rolesHeld(net, n.uuid))
    const s = session()
    await startInTmux(s, ['role', 'set', ...reach])
    await waitScreen(s, /\? Node[\s\S]*navigate/, 'the node picker', 45_000)
    await tmux('send-keys', '-t', s, 'C-c')
    const end = await waitScreen(s, /EXIT:\d+/, 'role set to stop', 15_000)
    assert.doesNotMatch(end, /EXIT:0/, end)
    assert.match(end, /^error: /m)
    assert.deepEqual(
      net.nodes.map((n) => rolesHeld(net, n.uuid)),
      before,
    )
  })

  test('Ctrl-C in the picker is a clean cancellation, not an internal error', async () => {
    const s = session()
    await startInTmux(s, ['role', 'set', ...reach])
    await waitScreen(s, /\? Node[\s\S]*navigate/, 'the node picker', 45_000)
    await tmux('send-keys', '-t', s, 'C-c')
    const end = await waitScreen(s, /EXIT:\d+/, 'role set to stop', 15_000)
    assert.doesNotMatch(end, /internal error/, end)
  })

  test('on a terminal with --json: no picker, a usage error', async () => {
    const s = session()
    await startInTmux(s, ['role', 'set', '--json', ...reach])
    const end = await waitScreen(s, /EXIT:\d+/, 'role set --json to finish', 30_000)
    assert.match(end, /EXIT:2/, end)
    assert.match(end, /role set needs UUID and ROLE/)
    assert.doesNotMatch(end, /\? Node/)
  })

  test('without a terminal: a missing UUID or ROLE is a usage error (exit 2), nothing is written', async () => {
    const before = net.nodes.map((n) => rolesHeld(net, n.uuid))
    for (const args of [
      ['role', 'set'],
      ['role', 'set', net.nodes[1].uuid],
    ]) {
      const r = await runPlain([...args, ...reach])
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
      assert.equal(r.stdout, '')
      assert.equal(r.stderr, "error: role set needs UUID and ROLE: usage: kairosctl role set UUID ROLE (see 'kairosctl role list')\n")
    }
    assert.deepEqual(
      net.nodes.map((n) => rolesHeld(net, n.uuid)),
      before,
    )
  })
})
