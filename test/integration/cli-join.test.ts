/**
 * The built CLI (node bin/run.js; `npm test` builds first) joining an
 * in-process Kairos-shaped network on loopback: EDGEVPNBOOTSTRAPPEERS read as
 * Go EdgeVPN reads it (comma-separated, spaces trimmed) by every command that
 * joins and by `bridge`, EdgeVPN's --discovery-bootstrap-peers spelling, a
 * --timeout longer than a Node timer holds, and a busy --listen address.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startDemoNetwork, type DemoNetwork } from '../../src/kairos/demo.js'
import { assertOneErrorLine, run, spawnCli } from '../helpers/cli.js'
import { waitUntil } from '../helpers/wait.js'

/** Discovery only through the bootstrap peers, listening on loopback. */
const QUIET = ['--no-dht', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
/** What `ledger get` prints for the master IP the demo stores as EdgeVPN's Go client does (base64 of JSON, shown decoded). */
const MASTER_IP = '10.1.0.1'

describe('joining with EDGEVPNBOOTSTRAPPEERS', () => {
  let net: DemoNetwork
  let env: Record<string, string>
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kctl-cli-join-'))
    net = await startDemoNetwork({ nodes: 2 })
    env = { EDGEVPNTOKEN: net.token.base64, EDGEVPNBOOTSTRAPPEERS: net.bootstrap }
  })
  after(async () => {
    await net.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const second = (): string => String(net.nodes[1].peer.host.getMultiaddrs()[0])

  it('ledger ls, ledger get, get-kubeconfig, role list and status --network-token, with one address', async () => {
    const [ls, get, kube, roles, status] = await Promise.all([
      run(['ledger', 'ls', '--json', ...QUIET], env),
      run(['ledger', 'get', net.networkId, 'ip-master', ...QUIET], env),
      run(['get-kubeconfig', '--json', ...QUIET], env),
      run(['role', 'list', '--json', ...QUIET], env),
      run(['status', '--json', '--network-token', net.token.base64, ...QUIET], { EDGEVPNBOOTSTRAPPEERS: net.bootstrap }),
    ])
    for (const [name, r] of Object.entries({ ls, get, kube, roles, status })) assert.equal(r.code, 0, `${name}: ${r.stderr}`)
    assert.ok((JSON.parse(ls.stdout) as Record<string, number>)[net.networkId] > 0, ls.stdout)
    assert.equal(get.stdout.trim(), MASTER_IP)
    assert.equal((JSON.parse(kube.stdout) as { masterIp: string }).masterIp, '10.1.0.1')
    assert.equal((JSON.parse(roles.stdout) as unknown[]).length, 2, roles.stdout)
    assert.equal((JSON.parse(status.stdout) as { source: string }).source, 'network')
  })

  it('several addresses, comma-separated with spaces as Go trims them; role set writes through them', async () => {
    const list = ` ${net.bootstrap} , ${second()},`
    const [get, set] = await Promise.all([
      run(['ledger', 'get', net.networkId, 'ip-master', ...QUIET], { ...env, EDGEVPNBOOTSTRAPPEERS: list }),
      run(['role', 'set', net.nodes[1].uuid, 'worker', ...QUIET], { ...env, EDGEVPNBOOTSTRAPPEERS: list }),
    ])
    assert.equal(get.code, 0, get.stderr)
    assert.equal(get.stdout.trim(), MASTER_IP)
    assert.equal(set.code, 0, set.stderr)
  })

  it('--discovery-bootstrap-peers, the Go spelling, with a comma-separated value', async () => {
    const r = await run(['ledger', 'get', net.networkId, 'ip-master', ...QUIET, '--discovery-bootstrap-peers', `${second()},${net.bootstrap}`], { EDGEVPNTOKEN: net.token.base64 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), MASTER_IP)
  })

  it('get-kubeconfig --wait --timeout 3000000 (more than a Node timer holds) joins and prints the kubeconfig', async () => {
    const r = await run(['get-kubeconfig', '--wait', ...QUIET, '--timeout', '3000000', '--bootstrap-peer', net.bootstrap], { EDGEVPNTOKEN: net.token.base64 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /server: https:\/\/10\.1\.0\.1:6443/)
    assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/)
  })

  it('bridge (--no-tun) joins through the variable: its machines entry reaches the network', async (t) => {
    const bridge = spawnCli(['bridge', '--no-tun', '--api', '', '--address', '10.1.0.200/24', '--identity', join(dir, 'identity'), ...QUIET], env)
    let out = ''
    bridge.stdout!.on('data', (d) => (out += d))
    bridge.stderr!.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((resolve) => bridge.once('exit', (code) => resolve(code)))
    t.after(() => bridge.kill('SIGKILL'))
    const first = net.nodes[0].peer
    await waitUntil(() => first.ledger.getKey('machines', '10.1.0.200') !== undefined, { timeoutMs: 30_000, intervalMs: 200, what: `the bridge's machines entry (bridge output: ${out.slice(-500)})` })
    bridge.kill('SIGTERM')
    assert.equal(await exited, 0, out)
  })

  it('a busy --listen address: one line naming it, exit 1', async (t) => {
    const busy: Server = createServer()
    await new Promise<void>((ready) => busy.listen(0, '127.0.0.1', ready))
    t.after(() => busy.close())
    const addr = `/ip4/127.0.0.1/tcp/${(busy.address() as { port: number }).port}`
    const tokenOnly = { EDGEVPNTOKEN: net.token.base64 }
    const r = await run(['ledger', 'ls', '--no-dht', '--no-mdns', '--listen', addr], tokenOnly)
    assert.equal(r.code, 1, r.stderr)
    assertOneErrorLine(r, `cannot listen on ${addr}: the address is already in use: stop what uses it, or pass --listen`, 'busy')
    const b = spawnCli(['bridge', '--no-tun', '--api', '', '--no-dht', '--no-mdns', '--listen', addr, '--identity', join(dir, 'busy-identity')], tokenOnly)
    let err = ''
    b.stderr!.on('data', (d) => (err += d))
    const code = await new Promise<number | null>((resolve) => b.once('exit', (c) => resolve(c)))
    assert.equal(code, 1, err)
    assertOneErrorLine({ code: 1, stdout: '', stderr: err }, `cannot listen on ${addr}: the address is already in use`, 'bridge busy')
  })
})
