/**
 * get-kubeconfig and role list/set against real Go EdgeVPN nodes playing a
 * Kairos cluster on loopback. The Go nodes' ledgers are filled through their
 * HTTP API exactly as provider-kairos's Go client (edgevpn api/client) does:
 * json.Marshal the value, base64 it with the URL alphabet and padding, and
 * PUT /api/ledger/<network id>/<key>/<b64>. The built CLI (node bin/run.js)
 * then joins the network with the token, or talks to a Go node's API.
 *
 * Flavours: v0.35.3 with --ownership enforce (what Kairos runs) and v0.34.0
 * (legacy, unsigned ledger).
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { apiGet, apiPut, generateGoToken, goPeerBinary, startGoPeer, waitForKey, type GoPeer } from '../helpers/go-peer.js'
import { demoKubeconfig } from '../../src/kairos/demo.js'
import { sleep, waitFor } from '../helpers/wait.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const bin = resolve(root, 'bin/run.js')
const NET = 'kairos'

// ---------------------------------------------------------------------------
// The Go client, as provider-kairos uses it (edgevpn api/client.Put + service.Client.Set).

/** json.Marshal, then base64.URLEncoding (URL alphabet, `=` padding): the PUT path's last segment. */
function goPutSegment(value: unknown): string {
  const json = JSON.stringify(value)
  // JSON.stringify and json.Marshal agree unless Go would HTML-escape: keep test values free of <, >, &.
  assert.ok(!/[<>&\u2028\u2029]/.test(json), 'test values must marshal the same in Go and JS')
  const b64 = Buffer.from(json, 'utf8').toString('base64url')
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4)
}

/** When a Go API last took a write. */
let lastGoWrite = 0

/** `Set(thing, uuid, value)` → key `<uuid>-<thing>`, written through the node's API. */
async function goSet(node: GoPeer, key: string, value: unknown): Promise<void> {
  const state = await apiPut(node.api, NET, key, goPutSegment(value))
  assert.deepEqual(state, { State: 'Announcing' })
  lastGoWrite = Date.now()
}

/**
 * EdgeVPN's API keeps a written key at its value for 20 s (Persist: every 5 s, the value is put back
 * when the ledger holds another one), so a change to a key a Go API wrote less than 20 s ago is undone.
 * Kairos writes its keys the same way; the tests that change them wait that out first.
 */
async function goPersistOver(): Promise<void> {
  await sleep(Math.max(0, lastGoWrite + 21_000 - Date.now()))
}

/**
 * A node publishes some keys (as a Kairos node does, one `Set` after another),
 * then waits until every node serves them. Kairos nodes keep re-setting their
 * keys in their loops; likewise a key still missing after a few seconds is put
 * again: on the legacy (v0.34) ledger, two nodes writing at the same moment
 * can replace each other's block and lose a write.
 */
async function publish(node: GoPeer, entries: [key: string, value: unknown][], all: GoPeer[]): Promise<void> {
  for (const [key, value] of entries) await goSet(node, key, value)
  let lastPut = Date.now()
  await waitFor(
    async () => {
      const missing: [string, unknown][] = []
      for (const [key, value] of entries) {
        const want = JSON.stringify(goPutSegment(value))
        for (const n of all) {
          if ((await apiGet(n.api, NET, key)) !== want) {
            missing.push([key, value])
            break
          }
        }
      }
      if (missing.length === 0) return true
      if (Date.now() - lastPut > 6000) {
        for (const [key, value] of missing) await goSet(node, key, value)
        lastPut = Date.now()
      }
      return false
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `keys ${entries.map(([k]) => k).join(', ')} on every Go node` },
  )
}

/** GetBucketKey + json.Unmarshal: what a Kairos node reads for a key (undefined when missing). */
async function goGet(node: GoPeer, key: string): Promise<unknown> {
  const dataText = await apiGet(node.api, NET, key)
  if (dataText === '') return undefined
  const b64 = JSON.parse(dataText) as string
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8'))
}

/** `{"Time": time.Now().UTC()}` as json.Marshal writes it (RFC3339Nano, trailing zeros trimmed). */
function advertisement(at = new Date()): { Time: string } {
  return { Time: at.toISOString().replace(/\.?0+Z$/, 'Z') }
}

/** A k3s.yaml-shaped kubeconfig (server https://127.0.0.1:6443, as k3s writes it). */
const k3sKubeconfig = demoKubeconfig

// ---------------------------------------------------------------------------
// Running the CLI.

interface Run {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

const liveChildren = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of liveChildren)
    if (c.pid)
      try {
        process.kill(-c.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
})

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1', NO_COLOR: '1' }
  for (const k of ['EDGEVPNTOKEN', 'EDGEVPN_API', 'EDGEVPNBOOTSTRAPPEERS', 'EDGEVPN_NETWORK_ID', 'KAIROSCTL_DEBUG']) delete env[k]
  return env
}

/** Starts the CLI (stdin closed, no TTY); `done` resolves when it exits, killed after `limitMs`. */
function startCli(args: string[], limitMs = 90_000): { child: ChildProcess; done: Promise<Run> } {
  const started = Date.now()
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  liveChildren.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
  const killer = setTimeout(() => {
    stderr += `\n[test] killed after ${limitMs} ms`
    if (child.pid)
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
  }, limitMs)
  const done = new Promise<Run>((resolveRun) => {
    child.on('close', (code) => {
      clearTimeout(killer)
      liveChildren.delete(child)
      resolveRun({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
  return { child, done }
}

const runCli = (args: string[], limitMs?: number): Promise<Run> => startCli(args, limitMs).done

const show = (r: Run): string => `exit ${r.code} after ${r.ms} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

/** Flags that join the network through one Go node on loopback, with no discovery beyond it. */
function viaToken(token: string, node: GoPeer): string[] {
  return ['--network-token', token, '--bootstrap-peer', node.p2pAddrs[0], '--no-dht', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
}

// ---------------------------------------------------------------------------

interface Flavour {
  name: string
  version: string
  ownership?: 'enforce'
}

const FLAVOURS: Flavour[] = [
  { name: 'Go v0.35.3 --ownership enforce (as Kairos runs it)', version: 'v0.35.3', ownership: 'enforce' },
  { name: 'Go v0.34.0 (legacy ledger)', version: 'v0.34.0' },
]

before(() => {
  assert.ok(existsSync(resolve(root, 'dist/commands/get-kubeconfig.js')), 'build the CLI first (npm run build)')
})

for (const f of FLAVOURS) {
  const missing = goPeerBinary(f.version) ? false : `Go EdgeVPN ${f.version} is not installed (bash scripts/install-go-peers.sh)`

  describe(`Kairos cluster on ${f.name}`, { skip: missing }, () => {
    const nodes: GoPeer[] = []
    let token = ''
    let master: GoPeer
    let worker: GoPeer
    const masterUuid = randomUUID()
    const workerUuid = randomUUID()
    const spareUuid = randomUUID()
    const masterIp = '10.1.0.1'
    const kubeconfig = k3sKubeconfig()
    const expectedOutput = kubeconfig.replaceAll('127.0.0.1', masterIp) + '\n'
    const tmp = mkdtempSync(join(tmpdir(), 'kctl-kairos-'))

    before(async () => {
      token = generateGoToken({ version: f.version })
      master = await startGoPeer({ version: f.version, token, ownership: f.ownership })
      nodes.push(master)
      worker = await startGoPeer({ version: f.version, token, ownership: f.ownership, bootstrapPeers: [master.p2pAddrs[0]] })
      nodes.push(worker)
      // What each Kairos node publishes about itself (start.go / role/p2p): the master also the cluster access.
      await publish(
        master,
        [
          [`${masterUuid}-uuid`, advertisement()],
          [`${masterUuid}-role`, 'master'],
          [`${masterUuid}-ip`, masterIp],
          ['ip-master', masterIp],
          ['master-kubeconfig', Buffer.from(kubeconfig, 'utf8').toString('base64url')],
        ],
        nodes,
      )
      await publish(
        worker,
        [
          [`${workerUuid}-uuid`, advertisement()],
          // The role a Go node wrote, which `role set` must replace (an open bucket: the higher Version wins).
          [`${workerUuid}-role`, 'master/ha'],
          [`${workerUuid}-ip`, '10.1.0.2'],
          [`${spareUuid}-uuid`, advertisement()],
        ],
        nodes,
      )
    })

    after(async () => {
      await Promise.all(nodes.map((n) => n.stop()))
      rmSync(tmp, { recursive: true, force: true })
    })

    test('the Go API stores what the Go client sends (the chain the CLI decodes)', async () => {
      assert.equal(await apiGet(master.api, NET, 'ip-master'), '"IjEwLjEuMC4xIg=="')
      assert.equal(await goGet(master, 'ip-master'), masterIp)
      assert.equal(Buffer.from((await goGet(worker, 'master-kubeconfig')) as string, 'base64url').toString('utf8'), kubeconfig)
    })

    test('get-kubeconfig with the token prints the kubeconfig pointed at the master, as Go prints it', async () => {
      const r = await runCli(['get-kubeconfig', ...viaToken(token, master), '--timeout', '30'])
      assert.equal(r.code, 0, show(r))
      assert.equal(r.stdout, expectedOutput)
      assert.equal(r.stderr, '', 'nothing on stderr without a TTY')
      assert.match(r.stdout, /server: https:\/\/10\.1\.0\.1:6443\n/)
    })

    test('get-kubeconfig --api gives the same bytes as through the token', async () => {
      for (const node of nodes) {
        const r = await runCli(['get-kubeconfig', '--api', node.api, '--timeout', '10'])
        assert.equal(r.code, 0, show(r))
        assert.equal(r.stdout, expectedOutput)
      }
    })

    test('role list --json lists the advertising nodes, sorted, with role and IP', async () => {
      const r = await runCli(['role', 'list', '--json', ...viaToken(token, worker), '--timeout', '30'])
      assert.equal(r.code, 0, show(r))
      const listed = JSON.parse(r.stdout) as { uuid: string; role: string; ip: string; lastSeen: string }[]
      const expected = [
        { uuid: masterUuid, role: 'master', ip: masterIp },
        { uuid: workerUuid, role: 'master/ha', ip: '10.1.0.2' },
        { uuid: spareUuid, role: '', ip: '' },
      ].sort((a, b) => (a.uuid < b.uuid ? -1 : 1))
      assert.deepEqual(
        listed.map(({ uuid, role, ip }) => ({ uuid, role, ip })),
        expected,
      )
      for (const n of listed) assert.ok(Date.now() - Date.parse(n.lastSeen) < 5 * 60_000, n.lastSeen)
      // The same through a Go API.
      const viaApi = await runCli(['role', 'list', '--json', '--api', master.api])
      assert.equal(viaApi.code, 0, show(viaApi))
      assert.deepEqual(
        (JSON.parse(viaApi.stdout) as typeof listed).map((n) => n.uuid),
        expected.map((n) => n.uuid),
      )
    })

    test('role set (confirmed) replaces a role a Go node wrote; both Go nodes then read it as Kairos does', async () => {
      await goPersistOver()
      const r = await runCli(['role', 'set', workerUuid, 'worker', ...viaToken(token, master), '--timeout', '30'])
      assert.equal(r.code, 0, show(r))
      assert.equal(r.stdout, `${workerUuid} is now worker\n`)
      const expectedText = JSON.stringify(goPutSegment('worker')) // "IndvcmtlciI="
      assert.equal(expectedText, '"IndvcmtlciI="')
      for (const n of nodes) {
        await waitFor(async () => (await apiGet(n.api, NET, `${workerUuid}-role`)) === expectedText, {
          timeoutMs: 20_000,
          intervalMs: 250,
          what: `the worker role on the Go node ${n.api}`,
        })
        assert.equal(await goGet(n, `${workerUuid}-role`), 'worker')
      }
      // It stays: nothing on the network puts the Go-written value back.
      await sleep(5000)
      for (const n of nodes) assert.equal(await apiGet(n.api, NET, `${workerUuid}-role`), expectedText)
    })

    test('role set --no-wait on a node without a role reaches the Go nodes', async () => {
      await goPersistOver()
      const r = await runCli(['role', 'set', spareUuid, 'master/clusterinit', '--no-wait', ...viaToken(token, worker), '--timeout', '30'])
      assert.equal(r.code, 0, show(r))
      const expectedText = JSON.stringify(goPutSegment('master/clusterinit'))
      for (const n of nodes) await waitForKey(n.api, NET, `${spareUuid}-role`, expectedText, { timeoutMs: 20_000 })
      assert.equal(await goGet(master, `${spareUuid}-role`), 'master/clusterinit')
      // role list (through a Go API) shows both changes.
      const list = await runCli(['role', 'list', '--json', '--api', worker.api])
      const roles = Object.fromEntries((JSON.parse(list.stdout) as { uuid: string; role: string }[]).map((n) => [n.uuid, n.role]))
      assert.deepEqual(roles, { [masterUuid]: 'master', [workerUuid]: 'worker', [spareUuid]: 'master/clusterinit' })
    })

    test('role set refuses an unknown role before touching the network (exit 2)', async () => {
      const r = await runCli(['role', 'set', spareUuid, 'manager', ...viaToken(token, worker)])
      assert.equal(r.code, 2, show(r))
      assert.match(r.stderr, /^error: unknown role "manager"/)
      assert.ok(r.ms < 15_000)
      assert.equal(await goGet(master, `${spareUuid}-role`), 'master/clusterinit')
    })

    test('get-kubeconfig -o FILE writes mode 0600 and refuses to overwrite without --force', async () => {
      const file = join(tmp, 'kubeconfig')
      const first = await runCli(['get-kubeconfig', '--api', master.api, '-o', file])
      assert.equal(first.code, 0, show(first))
      assert.equal(first.stdout, '')
      assert.equal(readFileSync(file, 'utf8'), kubeconfig.replaceAll('127.0.0.1', masterIp))
      assert.equal(statSync(file).mode & 0o777, 0o600)

      writeFileSync(file, 'precious\n', { mode: 0o644 })
      const refused = await runCli(['get-kubeconfig', ...viaToken(token, master), '-o', file])
      assert.equal(refused.code, 1, show(refused))
      const lines = refused.stderr.split('\n').filter(Boolean)
      assert.equal(lines.length, 1, refused.stderr)
      assert.match(lines[0], /^error: .*kubeconfig already exists: pass --force to overwrite it$/)
      assert.equal(readFileSync(file, 'utf8'), 'precious\n')

      const forced = await runCli(['get-kubeconfig', ...viaToken(token, master), '-o', file, '--force'])
      assert.equal(forced.code, 0, show(forced))
      assert.equal(readFileSync(file, 'utf8'), kubeconfig.replaceAll('127.0.0.1', masterIp))
      assert.equal(statSync(file).mode & 0o777, 0o600, 'an existing 0644 file ends up 0600')
    })
  })

  describe(`Kairos cluster without a master on ${f.name}`, { skip: missing }, () => {
    let node: GoPeer
    let token = ''
    const uuids = [randomUUID(), randomUUID()]
    const kubeconfig = k3sKubeconfig()

    before(async () => {
      token = generateGoToken({ version: f.version })
      node = await startGoPeer({ version: f.version, token, ownership: f.ownership })
      // Nodes advertise and wait for the auto scheduler: no role, no master yet.
      for (const u of uuids) await goSet(node, `${u}-uuid`, advertisement())
      await goSet(node, 'leader-auto', uuids[0])
      await waitForKey(node.api, NET, `${uuids[1]}-uuid`, undefined, { timeoutMs: 30_000 })
    })
    after(() => node.stop())

    test('get-kubeconfig fails within the timeout with one line saying no master is elected', async () => {
      const r = await runCli(['get-kubeconfig', ...viaToken(token, node), '--timeout', '10'], 30_000)
      assert.equal(r.code, 1, show(r))
      assert.equal(r.stdout, '')
      const lines = r.stderr.split('\n').filter(Boolean)
      assert.equal(lines.length, 1, r.stderr)
      assert.match(lines[0], /^error: no master elected yet in network "kairos"/)
      assert.ok(r.ms < 15_000, `took ${r.ms} ms`)
      // The same through the API.
      const api = await runCli(['get-kubeconfig', '--api', node.api, '--timeout', '10'], 30_000)
      assert.equal(api.code, 1, show(api))
      assert.match(api.stderr, /^error: no master elected yet in network "kairos"[^\n]*\n$/)
    })

    test('get-kubeconfig --wait returns once the master publishes the kubeconfig', async () => {
      const { child, done } = startCli(['get-kubeconfig', '--wait', '--timeout', '60', ...viaToken(token, node)], 90_000)
      let exited = false
      void done.then(() => (exited = true))
      await sleep(4000)
      assert.equal(exited, false, 'still waiting before the master publishes')
      assert.equal(child.exitCode, null)
      const publishedAt = Date.now()
      await goSet(node, `${uuids[0]}-role`, 'master')
      await goSet(node, 'ip-master', '10.1.0.7')
      await sleep(1000)
      assert.equal(exited, false, 'an IP without a kubeconfig is still waited for')
      await goSet(node, 'master-kubeconfig', Buffer.from(kubeconfig, 'utf8').toString('base64url'))
      const r = await done
      assert.equal(r.code, 0, show(r))
      assert.equal(r.stdout, kubeconfig.replaceAll('127.0.0.1', '10.1.0.7') + '\n')
      assert.equal(r.stderr, '')
      assert.ok(Date.now() - publishedAt < 20_000, `returned ${Date.now() - publishedAt} ms after publishing`)
    })
  })
}
