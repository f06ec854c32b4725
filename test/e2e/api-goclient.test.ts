/**
 * EdgeVPN's own Go API client against the API of `kairosctl bridge`.
 *
 * test/go/apiclient is built against edgevpn v0.35.3 and calls the API through
 * `api/client` and `api/client/service`, as Kairos nodes and the Go kairosctl
 * do (get-kubeconfig, role list, Set, Advertize, plus every read the client
 * has). In network namespaces a Go EdgeVPN VPN node holds a Kairos-style
 * cluster, written through its API by that same client; `kairosctl bridge
 * --no-tun` joins it (mDNS inside the namespaces, no DHT). The client then
 * runs against both APIs (unix sockets, reachable from the host) and the
 * answers must agree: decoded values, HTTP statuses, and every body decoding
 * strictly into EdgeVPN's types. Writes made with the Go client through our
 * API must reach the Go node, and the other way round.
 *
 * The Go kairosctl (provider-kairos) cannot be built here: the module proxy
 * refuses a dependency (github.com/kube-vip/kube-vip v1.2.3, "403 Forbidden:
 * This module version is not available"). Its two API commands are therefore
 * reproduced by the apiclient program with the same calls and output. A real
 * Go kairosctl binary is exercised too when one is found: the path in
 * $KAIROSCTL_GO_KAIROSCTL, or kairosctl/kairosctl in the Go peers cache.
 *
 * Needs root (namespaces), the Go toolchain and the Go EdgeVPN binaries; skips
 * otherwise.
 */
import assert from 'node:assert/strict'
import { execFile, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import type { ApiMachine } from '../../src/api/client.js'
import { demoKubeconfig } from '../../src/kairos/demo.js'
import { encodeDataText } from '../../src/kairos/layout.js'
import { apiRequest, buildGoHelper, generateGoToken, goPeerBinary, goPeersDir, startGoPeer, type GoPeer } from '../helpers/go-peer.js'
import { createNetwork, netnsUnavailableReason, type TestNetwork } from '../helpers/netns.js'
import { waitFor, waitUntil } from '../helpers/wait.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const BIN = resolve(root, 'bin/run.js')
const NET = 'kairos'

const goMissing = spawnSync('go', ['version'], { encoding: 'utf8' }).status !== 0

interface Call<T = unknown> {
  value: T
  error: string
}
interface Endpoint {
  status: number
  content_type: string
  strict: string
  body: string
  /** The body decoded into EdgeVPN's type (machines: with the Connected/OnChain/Online view). */
  value: unknown
}
/** The API's machine: the client's Machines() keeps only the ledger fields, the endpoint adds the view flags. */
type Machine = ApiMachine
interface Peer {
  ID: string
  Online: boolean
}
interface Report {
  summary: Call<{ Files: number; Machines: number; Users: number; Services: number; BlockChain: number; OnChainNodes: number; Peers: number; NodeID: string }>
  machines: Call<Omit<Machine, 'Connected' | 'OnChain' | 'Online'>[] | null>
  users: Call<unknown[] | null>
  services: Call<unknown[] | null>
  files: Call<unknown[] | null>
  ledger: Call<Record<string, Record<string, string>> | null>
  blockchain: Call<{ Index: number; Storage: Record<string, Record<string, unknown>> }>
  buckets: Call<string[]>
  bucket: Call<Record<string, string> | null>
  bucket_keys: Call<string[]>
  kubeconfig: Call<string>
  kubeconfig_decoded: string
  master_ip: Call<string>
  advertizing: Call<string[]>
  active_nodes: Call<string[]>
  roles: { uuid: string; role: string; ip: string }[]
  nodes: Call<Peer[] | null>
  peerstore: Call<Peer[] | null>
  dns: Call<unknown[] | null>
  endpoints: Record<string, Endpoint>
}

let removeHelper: (() => void) | undefined
let apiclient = ''

function execBounded(file: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 << 20, env: { ...process.env, NODE_NO_WARNINGS: '1', NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolveRun({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** Runs the Go client program; its commands print JSON. */
async function goClient<T>(api: string, ...args: string[]): Promise<T> {
  const r = await execBounded(apiclient, ['--api', api, ...args])
  assert.equal(r.code, 0, `apiclient ${args.join(' ')} against ${api} failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

async function goWrite(api: string, ...args: string[]): Promise<void> {
  const res = await goClient<Call>(api, ...args)
  assert.equal(res.error, '', `apiclient ${args.join(' ')} against ${api}`)
}

/** `GetBucketKey` + Unmarshal: the decoded value, or undefined when the client reports an error (missing key). */
async function goGet(api: string, bucket: string, key: string): Promise<unknown> {
  const res = await goClient<Call>(api, 'get', bucket, key)
  return res.error === '' ? res.value : undefined
}

const runCli = (args: string[]) => execBounded(process.execPath, [BIN, ...args], 90_000)

/** A Go kairosctl: the real one when available, and the apiclient program's reproduction of its two API commands. */
function goKairosctls(): { name: string; bin: string }[] {
  const list = [{ name: 'apiclient (the Go kairosctl calls)', bin: apiclient }]
  for (const candidate of [process.env.KAIROSCTL_GO_KAIROSCTL, join(goPeersDir(), 'kairosctl', 'kairosctl')]) {
    if (!candidate) continue
    try {
      accessSync(candidate, fsConstants.X_OK)
      list.push({ name: `Go kairosctl ${candidate}`, bin: candidate })
      break
    } catch {
      /* not installed */
    }
  }
  return list
}

const sortedLines = (text: string): string[] => text.split('\n').slice(2).filter(Boolean).sort()

/** `role list`'s rows as the Go kairosctl prints them (47/30/15 columns). */
function roleRow(uuid: string, role: string, ip: string): string {
  return `${uuid.padEnd(47)}  ${role.padEnd(30)}  ${ip.padEnd(15)}`
}

before(() => {
  assert.ok(existsSync(resolve(root, 'dist/commands/bridge.js')), 'build the CLI first (npm run build)')
  if (goMissing || netnsUnavailableReason()) return
  const built = buildGoHelper('apiclient')
  apiclient = built.binary
  removeHelper = built.remove
})

after(() => {
  removeHelper?.()
})

interface Flavour {
  version: string
  ownership?: 'enforce'
}

for (const f of [{ version: 'v0.35.3', ownership: 'enforce' }, { version: 'v0.34.0' }] as Flavour[]) {
  const skip =
    netnsUnavailableReason() ??
    (goMissing ? 'Go toolchain not found (go version failed)' : undefined) ??
    (goPeerBinary(f.version) ? undefined : `Go EdgeVPN ${f.version} is not installed (bash scripts/install-go-peers.sh)`)

  describe(`the Go API client: kairosctl bridge next to Go ${f.version}${f.ownership ? ` --ownership ${f.ownership}` : ''}`, { skip: skip ?? false }, () => {
    let net: TestNetwork | undefined
    let goNode: GoPeer | undefined
    let bridge: ChildProcess | undefined
    let bridgeOut = ''
    let dir = ''
    let ours = ''
    let theirs = ''
    let bridgeId = ''
    const masterUuid = randomUUID()
    const workerUuid = randomUUID()
    const masterIp = '10.1.0.1'
    const workerIp = '10.1.0.2'
    const kubeconfig = demoKubeconfig()
    const kubeconfigB64 = Buffer.from(kubeconfig, 'utf8').toString('base64url') // what a Kairos master stores (no padding)
    const expectedKubeconfig = kubeconfig.replaceAll('127.0.0.1', masterIp) + '\n'

    before(async () => {
      try {
        net = await createNetwork({ count: 2 })
        const [n0, n1] = net.nodes
        const token = generateGoToken({ version: f.version })
        goNode = await startGoPeer({ version: f.version, token, netns: n0.ns, mdns: true, vpnAddress: '10.1.0.1/24', ownership: f.ownership })
        theirs = goNode.api
        dir = mkdtempSync(join(tmpdir(), 'kctl-apigo-'))
        ours = `unix://${join(dir, 'api.sock')}`
        bridge = net.spawn(
          n1.ns,
          process.execPath,
          [BIN, 'bridge', '--network-token', token, '--no-tun', '--no-dht', '--identity', join(dir, 'identity'), '--api', ours, '--listen', '/ip4/0.0.0.0/tcp/0'],
          { env: { ...process.env, NODE_NO_WARNINGS: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
        )
        bridge.stdout?.on('data', (d: Buffer) => (bridgeOut += d.toString('utf8')))
        bridge.stderr?.on('data', (d: Buffer) => (bridgeOut += d.toString('utf8')))
        const go = goNode
        bridgeId = await waitFor(
          async () => {
            if (bridge?.exitCode !== null) throw new Error(`the bridge exited: ${bridgeOut.slice(-1000)}`)
            const s = JSON.parse((await apiRequest(ours, 'GET', '/api/summary', { timeoutMs: 3000 })).body) as { NodeID: string }
            return s.NodeID
          },
          { timeoutMs: 60_000, intervalMs: 500, what: 'the bridge API' },
        )
        // Both sides see each other's machines entry.
        await waitUntil(
          async () => {
            const [a, b] = await Promise.all([goClient<Report>(ours, 'report'), goClient<Report>(theirs, 'report')])
            const [mine, goes] = [(a.machines.value ?? []).length, (b.machines.value ?? []).length]
            if (mine === 2 && goes === 2) return true
            throw new Error(`machines: ours ${mine}, Go ${goes}; bridge output: ${bridgeOut.slice(-500)}`)
          },
          { timeoutMs: 90_000, intervalMs: 1000, what: 'both machines entries on both APIs' },
        )

        // The cluster, written as Kairos nodes write it: the Go service client through the Go node's API.
        await goWrite(theirs, 'advertize', masterUuid)
        await goWrite(theirs, 'set', 'role', masterUuid, 'master')
        await goWrite(theirs, 'set', 'ip', masterUuid, masterIp)
        await goWrite(theirs, 'set', 'master', 'ip', masterIp)
        await goWrite(theirs, 'set', 'kubeconfig', 'master', kubeconfigB64)
        await goWrite(theirs, 'advertize', workerUuid)
        await goWrite(theirs, 'set', 'role', workerUuid, 'worker')
        await goWrite(theirs, 'set', 'ip', workerUuid, workerIp)
        await waitUntil(
          async () => {
            const [a, b] = await Promise.all([apiRequest(ours, 'GET', `/api/ledger/${NET}`), apiRequest(go.api, 'GET', `/api/ledger/${NET}`)])
            const [mine, goes] = [JSON.parse(a.body) as Record<string, string> | null, JSON.parse(b.body) as Record<string, string> | null]
            return Object.keys(goes ?? {}).length === 8 && JSON.stringify(Object.entries(mine ?? {}).sort()) === JSON.stringify(Object.entries(goes ?? {}).sort())
          },
          { timeoutMs: 60_000, intervalMs: 500, what: 'the cluster keys on the bridge, as on the Go node' },
        )
      } catch (err) {
        await net?.teardown()
        throw err
      }
    })

    after(async () => {
      await goNode?.stop()
      await net?.teardown()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    /** Every way our report differs from what it should be, given the Go node's; empty when they agree. */
    function differences(a: Report, b: Report): string[] {
      const problems: string[] = []
      const same = (what: string, actual: unknown, expected: unknown): void => {
        if (!isDeepStrictEqual(actual, expected)) problems.push(`${what}: ours ${JSON.stringify(actual)?.slice(0, 600)}, expected ${JSON.stringify(expected)?.slice(0, 600)}`)
      }
      // Transport: same statuses and content types; every body decodes strictly into EdgeVPN's types.
      same('endpoints', Object.keys(a.endpoints).sort(), Object.keys(b.endpoints).sort())
      for (const [name, e] of Object.entries(b.endpoints)) {
        const mine = a.endpoints[name]
        if (e.strict !== '') problems.push(`the Go node's ${name} does not decode strictly: ${e.strict}`)
        if (!mine) continue
        if (mine.strict !== '') problems.push(`our ${name} does not decode strictly: ${mine.strict} (body ${mine.body.slice(0, 300)})`)
        same(`status of ${name}`, mine.status, e.status)
        same(`content type of ${name}`, mine.content_type, e.content_type)
      }
      for (const call of [
        'summary',
        'machines',
        'users',
        'services',
        'files',
        'ledger',
        'blockchain',
        'buckets',
        'bucket',
        'bucket_keys',
        'kubeconfig',
        'master_ip',
        'advertizing',
        'active_nodes',
        'nodes',
        'peerstore',
        'dns',
      ] as const) {
        if (a[call].error !== '') problems.push(`the Go client fails on our ${call}: ${a[call].error}`)
        if (b[call].error !== '') problems.push(`the Go client fails on the Go node's ${call}: ${b[call].error}`)
      }

      // The same ledger; byte for byte where it is the same data.
      same('bucket body', a.endpoints.bucket?.body, b.endpoints.bucket?.body)
      same('key body', a.endpoints.key?.body, b.endpoints.key?.body)
      same('missing key body', a.endpoints.missing_key?.body, '""\n')
      same('missing bucket body', a.endpoints.missing_bucket?.body, 'null\n')
      same('ledger (network bucket)', a.ledger.value?.[NET], b.ledger.value?.[NET])
      same('ledger (machines)', a.ledger.value?.machines, b.ledger.value?.machines)
      same('buckets', a.buckets.value, b.buckets.value)
      same('bucket', a.bucket.value, b.bucket.value)
      same('bucket keys', a.bucket_keys.value, b.bucket_keys.value)
      same('last block entries of the network bucket', a.blockchain.value?.Storage?.[NET], b.blockchain.value?.Storage?.[NET])

      // Kairos reads.
      same('kubeconfig', a.kubeconfig.value, kubeconfigB64)
      same('kubeconfig on the Go node', b.kubeconfig.value, kubeconfigB64)
      same('decoded kubeconfig', a.kubeconfig_decoded, kubeconfig)
      same('master IP', a.master_ip.value, masterIp)
      same('advertizing nodes', a.advertizing.value, [masterUuid, workerUuid].sort())
      same('advertizing nodes (Go)', a.advertizing.value, b.advertizing.value)
      same('roles', a.roles, b.roles)
      same(
        'roles (expected)',
        a.roles,
        [
          { uuid: masterUuid, role: 'master', ip: masterIp },
          { uuid: workerUuid, role: 'worker', ip: workerIp },
        ].sort((x, y) => (x.uuid < y.uuid ? -1 : 1)),
      )
      same('active nodes', a.active_nodes.value, [bridgeId, goNode!.peerId].sort())
      same('active nodes (Go)', a.active_nodes.value, b.active_nodes.value)

      // Views: each API describes the same two machines, from its own side.
      const rows = (r: Report) => [...(r.machines.value ?? [])].sort((x, y) => (x.Address < y.Address ? -1 : 1))
      same('machines', rows(a), rows(b))
      if (rows(a).length !== 2) problems.push(`two machines expected, ours lists ${rows(a).length}`)
      // Go's Connected is always false: EdgeVPN converts the PeerID text to a peer.ID by a plain
      // type conversion instead of decoding it, so the connectedness lookup never finds the peer.
      // Ours reports the connection (kairosctl status counts connected machines with it).
      for (const [r, self, who] of [
        [a, bridgeId, 'ours'],
        [b, goNode!.peerId, 'Go'],
      ] as const) {
        for (const m of (r.endpoints.machines?.value as Machine[] | null) ?? []) {
          const other = m.PeerID !== self
          same(`flags of ${m.Address} (${who})`, { Connected: m.Connected, OnChain: m.OnChain, Online: m.Online }, { Connected: other && who === 'ours', OnChain: other, Online: true })
        }
      }
      same('summary', a.summary.value, b.summary.value && { ...b.summary.value, BlockChain: a.summary.value?.BlockChain, NodeID: bridgeId })
      same('users', a.users.value, b.users.value)
      same('services', a.services.value, b.services.value)
      same('files', a.files.value, b.files.value)
      same('dns', a.dns.value, b.dns.value)
      const ids = (list: Peer[] | null) => (list ?? []).map((p) => p.ID).sort()
      same('nodes', ids(a.nodes.value), ids(b.nodes.value))
      same(
        'nodes online',
        (a.nodes.value ?? []).map((p) => p.Online),
        (b.nodes.value ?? []).map((p) => p.Online),
      )
      // The peer store lists the node itself too, and Go never marks its entries Online.
      same('peer store', ids(a.peerstore.value), ids(b.peerstore.value))
      same(
        'peer store online flags',
        (a.peerstore.value ?? []).map((p) => p.Online),
        (b.peerstore.value ?? []).map((p) => p.Online),
      )
      return problems
    }

    test("every read of the Go client decodes our answers as it decodes the Go node's", async () => {
      // Flags and peer lists settle as gossip and healthchecks flow: retry (bounded) until both sides agree.
      let problems: string[] = []
      await waitUntil(
        async () => {
          const [a, b] = await Promise.all([goClient<Report>(ours, 'report'), goClient<Report>(theirs, 'report')])
          problems = differences(a, b)
          return problems.length === 0
        },
        { timeoutMs: 60_000, intervalMs: 1000, what: 'the same answers from both APIs' },
      ).catch(() => undefined)
      assert.deepEqual(problems, [])
    })

    test("the Go kairosctl's get-kubeconfig and role list print the same through our bridge as through the Go node", async () => {
      for (const k of goKairosctls()) {
        const viaOurs = await execBounded(k.bin, ['get-kubeconfig', '--api', ours])
        const viaGo = await execBounded(k.bin, ['get-kubeconfig', '--api', theirs])
        assert.equal(viaOurs.code, 0, `${k.name}: ${viaOurs.stderr}`)
        assert.equal(viaOurs.stdout, viaGo.stdout, k.name)
        assert.equal(viaOurs.stdout, expectedKubeconfig, k.name)

        const listOurs = await execBounded(k.bin, ['role', 'list', '--api', ours])
        const listGo = await execBounded(k.bin, ['role', 'list', '--api', theirs])
        assert.equal(listOurs.code, 0, `${k.name}: ${listOurs.stderr}`)
        // Rows come in map order: compare them sorted.
        assert.deepEqual(sortedLines(listOurs.stdout), sortedLines(listGo.stdout), k.name)
        assert.deepEqual(sortedLines(listOurs.stdout), [roleRow(masterUuid, 'master', masterIp), roleRow(workerUuid, 'worker', workerIp)].sort(), k.name)
        assert.equal(listOurs.stdout.split('\n').slice(0, 2).join('\n'), listGo.stdout.split('\n').slice(0, 2).join('\n'))
      }
    })

    test('our own get-kubeconfig and role list --api against the bridge agree with the Go client', async () => {
      const kc = await runCli(['get-kubeconfig', '--api', ours, '--timeout', '10'])
      assert.equal(kc.code, 0, kc.stderr)
      assert.equal(kc.stdout, expectedKubeconfig)
      const list = await runCli(['role', 'list', '--json', '--api', ours])
      assert.equal(list.code, 0, list.stderr)
      const listed = (JSON.parse(list.stdout) as { uuid: string; role: string; ip: string }[]).map(({ uuid, role, ip }) => ({ uuid, role, ip }))
      assert.deepEqual(listed, (await goClient<Report>(theirs, 'report')).roles)
    })

    test("writes with the Go client through our API reach the Go node, and the Go node's reach us", async () => {
      const value = 'héllo wörld/?&=' // Put marshals and base64-encodes it: any string travels
      await goWrite(ours, 'put', 'apitest', 'from-ours', value)
      assert.equal(await goGet(ours, 'apitest', 'from-ours'), value, 'read back at once through our API')
      await waitUntil(async () => (await goGet(theirs, 'apitest', 'from-ours')) === value, { timeoutMs: 30_000, intervalMs: 500, what: 'our write on the Go node' })

      await goWrite(theirs, 'put', 'apitest', 'from-go', 'ok')
      await waitUntil(async () => (await goGet(ours, 'apitest', 'from-go')) === 'ok', { timeoutMs: 30_000, intervalMs: 500, what: "the Go node's write on our API" })

      // A role change through our API, as `role set` of the Go kairosctl does it.
      await goWrite(ours, 'set', 'role', workerUuid, 'master/ha')
      await waitUntil(async () => (await goGet(theirs, NET, `${workerUuid}-role`)) === 'master/ha', { timeoutMs: 30_000, intervalMs: 500, what: 'the new role on the Go node' })
      await goWrite(theirs, 'set', 'role', workerUuid, 'worker')
      await waitUntil(async () => (await goGet(ours, NET, `${workerUuid}-role`)) === 'worker', { timeoutMs: 30_000, intervalMs: 500, what: 'the role back on our API' })

      // Delete a key, then the bucket, through our API.
      await goWrite(ours, 'delete', 'apitest', 'from-go')
      await waitUntil(async () => (await goGet(theirs, 'apitest', 'from-go')) === undefined, { timeoutMs: 30_000, intervalMs: 500, what: 'the deleted key gone from the Go node' })
      assert.equal(await goGet(theirs, 'apitest', 'from-ours'), value, 'the other key stays')
      await goWrite(ours, 'delete-bucket', 'apitest')
      await waitUntil(async () => (await apiRequest(theirs, 'GET', '/api/ledger/apitest')).body === 'null\n', { timeoutMs: 30_000, intervalMs: 500, what: 'the deleted bucket gone from the Go node' })
      assert.equal((await apiRequest(ours, 'GET', '/api/ledger/apitest')).body, 'null\n')
    })

    test('our ledger get shows a value the Go client wrote decoded, and Go reads what put --encode writes', async () => {
      const value = 'héllo <wörld>'
      await goWrite(theirs, 'put', 'readable', 'from-go', value)
      const get = await runCli(['ledger', 'get', 'readable', 'from-go', '--json', '--api', theirs])
      assert.equal(get.code, 0, get.stderr)
      const shown = JSON.parse(get.stdout) as { value: unknown; raw: string; decoded: boolean }
      assert.deepEqual({ value: shown.value, decoded: shown.decoded }, { value, decoded: true })
      assert.equal(shown.raw, encodeDataText(value), 'the Go client stores what put --encode stores')
      const plain = await runCli(['ledger', 'get', 'readable', 'from-go', '--api', theirs])
      assert.equal(plain.stdout, value + '\n')

      const put = await runCli(['ledger', 'put', 'readable', 'from-ours', value, '--encode', '--api', theirs])
      assert.equal(put.code, 0, put.stderr)
      assert.equal(await goGet(theirs, 'readable', 'from-ours'), value)
      await goWrite(theirs, 'delete-bucket', 'readable')
    })

    test('values that are not Go structs come back as zero structs from both APIs', async () => {
      // A string where EdgeVPN expects {"PeerID", "Name"}: the Go node answers with a zero struct.
      await goWrite(ours, 'put', 'services', 'odd-ours', 'not-a-service')
      await goWrite(theirs, 'put', 'services', 'odd-go', 'not-a-service')
      const both = await waitFor(
        async () => {
          const [a, b] = await Promise.all([goClient<Report>(ours, 'report'), goClient<Report>(theirs, 'report')])
          return (a.services.value ?? []).length > 0 && (b.services.value ?? []).length > 0 ? [a, b] : undefined
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'the odd services on both APIs' },
      )
      for (const r of both) {
        assert.equal(r.services.error, '')
        assert.equal(r.endpoints.services.strict, '')
        for (const s of r.services.value ?? []) assert.deepEqual(s, { PeerID: '', Name: '' })
      }
    })

    test('200 KB values (a large kubeconfig) written with the Go client travel through our API both ways', async () => {
      // client.Put sends base64 of the JSON string in the URL path: about 270 KB, where Node's default allows 16 KB.
      // Compared with ok(), not equal(): a failure must not print the values.
      const values = [randomBytes(150_000).toString('base64'), randomBytes(150_000).toString('base64')]
      const files = values.map((v, i) => {
        const file = join(dir, `value-${i}`)
        writeFileSync(file, v)
        return file
      })
      await goWrite(ours, 'put-file', 'apitest-big', 'from-ours', files[0])
      assert.ok((await goGet(ours, 'apitest-big', 'from-ours')) === values[0], 'read back at once through our API')
      await waitUntil(async () => (await goGet(theirs, 'apitest-big', 'from-ours')) === values[0], { timeoutMs: 30_000, intervalMs: 500, what: 'our 200 KB write on the Go node' })
      await goWrite(theirs, 'put-file', 'apitest-big', 'from-go', files[1])
      await waitUntil(async () => (await goGet(ours, 'apitest-big', 'from-go')) === values[1], { timeoutMs: 30_000, intervalMs: 500, what: "the Go node's 200 KB write on our API" })
      await goWrite(ours, 'delete-bucket', 'apitest-big')
    })
  })
}
