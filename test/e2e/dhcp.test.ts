/**
 * `bridge --dhcp` in network namespaces next to Go EdgeVPN v0.35.3 VPN nodes:
 * the bridge takes the next free address (highest in machines + 1), Go
 * nodes list and route it, a restart reuses the lease, and a Go node running
 * --dhcp agrees with the bridge on who goes first (FNV leader).
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseToken } from '../../src/token/token.js'
import { dhcpLeader, leaseFileName } from '../../src/vpn/dhcp.js'
import { apiGet, apiMachines, generateGoToken, requireGoPeer, startGoPeer } from '../helpers/go-peer.js'
import { createNetwork, requireNetns, type TestNetwork } from '../helpers/netns.js'
import { waitFor, waitUntil, withTimeout } from '../helpers/wait.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const VERSION = 'v0.35.3'

interface Summary {
  state: string
  peerId: string
  interface: string | null
  address: string
  addressSource: string
  leaseFile: string | null
}

interface RunningCli {
  child: ChildProcess
  output(): string
  /** JSON objects printed on stdout so far. */
  objects(): Record<string, unknown>[]
  /** SIGTERM, then the exit code (bounded). */
  stop(): Promise<number | null>
}

/** Splits `--json` output (objects one after another, pretty-printed or on one line) into objects. */
function jsonObjects(stdout: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  let pending = ''
  for (const line of stdout.split('\n')) {
    pending += `${line}\n`
    try {
      out.push(JSON.parse(pending) as Record<string, unknown>)
      pending = ''
    } catch {
      // not complete yet
    }
  }
  return out
}

function startBridge(net: TestNetwork, ns: string, args: string[]): RunningCli {
  const child = net.spawn(ns, process.execPath, [BIN, 'bridge', '--json', ...args], {
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => (stdout += d))
  child.stderr?.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output: () => `stdout: ${stdout.slice(-1500)}\nstderr: ${stderr.slice(-1500)}`,
    objects: () => jsonObjects(stdout),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM')
      return withTimeout(exited, 15_000, `the bridge's exit after SIGTERM (${stderr.slice(-500)})`)
    },
  }
}

async function waitUp(b: RunningCli, timeoutMs: number): Promise<Summary> {
  return waitFor(
    () => {
      if (b.child.exitCode !== null) throw new Error(`the bridge exited with code ${b.child.exitCode}`)
      return b.objects().find((o) => o.state === 'up') as Summary | undefined
    },
    { timeoutMs, intervalMs: 250, what: `the bridge to report "up" (${b.output()})` },
  )
}

function bridgeArgs(token: string, dir: string, extra: string[] = []): string[] {
  return [
    '--network-token',
    token,
    '--no-dht',
    '--listen',
    '/ip4/0.0.0.0/tcp/0',
    '--identity',
    join(dir, 'identity'),
    '--api',
    `unix://${join(dir, 'api.sock')}`,
    '--ownership-ttl',
    '120',
    '--dhcp',
    '--lease-dir',
    join(dir, 'leases'),
    ...extra,
  ]
}

describe(`bridge --dhcp with Go ${VERSION} VPN nodes`, () => {
  test('takes the highest address + 1; Go lists and routes it; a restart reuses the lease', async (t) => {
    if (!requireNetns(t) || !requireGoPeer(VERSION, t)) return
    const net = await createNetwork({ count: 3, t })
    const [n0, n1, n2] = net.nodes
    const token = generateGoToken({ version: VERSION })
    const a = await startGoPeer({ version: VERSION, token, netns: n0.ns, mdns: true, vpnAddress: '10.1.0.1/24', ownership: 'enforce', t })
    await startGoPeer({ version: VERSION, token, netns: n1.ns, mdns: true, vpnAddress: '10.1.0.5/24', ownership: 'enforce', t })
    const dir = mkdtempSync(join(tmpdir(), 'kctl-dhcp-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const args = bridgeArgs(token, dir)
    const lease = join(dir, 'leases', leaseFileName(parseToken(token)))

    const started = Date.now()
    const first = startBridge(net, n2.ns, args)
    t.after(() => first.stop().catch(() => {}))
    const up = await waitUp(first, 120_000)
    t.diagnostic(`first start: up with ${up.address} after ${Date.now() - started} ms`)
    // 10.1.0.1 and 10.1.0.5 are in use: the next is 10.1.0.6 (not the first free one, 10.1.0.2).
    assert.equal(up.address, '10.1.0.6/24', first.output())
    assert.equal(up.addressSource, 'dhcp')
    assert.equal(up.leaseFile, lease)
    assert.equal(readFileSync(lease, 'utf8'), '10.1.0.6')
    const addrs = await net.exec(n2.ns, 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'kairos0'])
    assert.match(addrs.stdout, /inet 10\.1\.0\.6\/24 /)

    // The Go node sees the bridge's dhcp/leader flag and its machines entry, and routes to it.
    await waitUntil(async () => (await apiGet(a.api, 'dhcp', 'leader')) === JSON.stringify(up.peerId), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: `the bridge as dhcp/leader on the Go node (${first.output()})`,
    })
    await waitUntil(async () => (await apiMachines(a.api)).some((m) => m.Address === '10.1.0.6' && m.PeerID === up.peerId), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: `10.1.0.6 in the Go node's /api/machines (${first.output()})`,
    })
    await waitUntil(() => net.ping(n2.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from the bridge to 10.1.0.1' })
    await waitUntil(() => net.ping(n0.ns, '10.1.0.6', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from a Go node to 10.1.0.6' })
    // The second Go node can send to the bridge once the bridge has found and dialled it (Go does not find us over mDNS).
    await waitUntil(() => net.ping(n1.ns, '10.1.0.6', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from the second Go node to 10.1.0.6' })

    assert.equal(await first.stop(), 0, first.output())
    assert.ok(existsSync(lease), 'the lease outlives the bridge')

    // Restart: the lease is reused at once, no DHCP round.
    const restarted = Date.now()
    const second = startBridge(net, n2.ns, args)
    t.after(() => second.stop().catch(() => {}))
    const again = await waitUp(second, 60_000)
    t.diagnostic(`restart: up with ${again.address} after ${Date.now() - restarted} ms`)
    assert.equal(again.address, '10.1.0.6/24')
    assert.equal(again.addressSource, 'lease')
    assert.equal(again.peerId, up.peerId)
    await waitUntil(() => net.ping(n0.ns, '10.1.0.6', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: `a ping to 10.1.0.6 after the restart (${second.output()})` })
    assert.equal(await second.stop(), 0, second.output())
  })

  for (const leader of ['bridge', 'Go node'] as const) {
    test(`next to a Go --dhcp node, the ${leader} leading: the leader goes first, two distinct addresses, ping both ways`, async (t) => {
      if (!requireNetns(t) || !requireGoPeer(VERSION, t)) return
      const net = await createNetwork({ count: 2, t })
      const [n0, n1] = net.nodes
      const token = generateGoToken({ version: VERSION })
      // No fixed node: nobody moves until both are alive; then the FNV leader takes its own default address first.
      const go = await startGoPeer({ version: VERSION, token, netns: n0.ns, mdns: true, vpnAddress: '10.1.0.20/24', dhcp: true, ownership: 'enforce', t })
      const dir = mkdtempSync(join(tmpdir(), 'kctl-dhcp-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      // An identity whose FNV hash puts the wanted side in the lead.
      let bridgeId: string
      for (;;) {
        const key = await generateKeyPair('Ed25519')
        bridgeId = peerIdFromPrivateKey(key).toString()
        if ((dhcpLeader([bridgeId, go.peerId]) === bridgeId) === (leader === 'bridge')) {
          writeFileSync(join(dir, 'identity'), privateKeyToProtobuf(key), { mode: 0o600 })
          break
        }
      }
      const started = Date.now()
      const bridge = startBridge(net, n1.ns, bridgeArgs(token, dir, ['--address', '10.1.0.10/24']))
      t.after(() => bridge.stop().catch(() => {}))
      const up = await waitUp(bridge, 120_000)
      assert.equal(up.peerId, bridgeId)
      const goIp = await waitFor(async () => (await apiMachines(go.api)).find((m) => m.PeerID === go.peerId)?.Address, {
        timeoutMs: 90_000,
        intervalMs: 500,
        what: `the Go --dhcp node's own machines entry (${go.logs().slice(-1500)})`,
      })
      t.diagnostic(`${leader} led: bridge up with ${up.address} after ${Date.now() - started} ms, Go node ${goIp}`)
      if (leader === 'bridge') {
        assert.equal(up.address, '10.1.0.10/24')
        assert.equal(goIp, '10.1.0.11')
      } else {
        assert.equal(goIp, '10.1.0.20')
        assert.equal(up.address, '10.1.0.21/24')
      }
      const bridgeIp = up.address.split('/')[0]
      await waitUntil(async () => (await apiMachines(go.api)).some((m) => m.Address === bridgeIp && m.PeerID === up.peerId), {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: `${bridgeIp} in the Go node's /api/machines`,
      })
      await waitUntil(() => net.ping(n1.ns, goIp, { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: `a ping from the bridge to the Go node (${goIp})` })
      await waitUntil(() => net.ping(n0.ns, bridgeIp, { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: `a ping from the Go node to the bridge (${bridgeIp})` })
      assert.equal(await bridge.stop(), 0, bridge.output())
    })
  }

  test('alone: waits with a clear message and gives up after --dhcp-timeout', async (t) => {
    if (!requireNetns(t)) return
    const net = await createNetwork({ count: 1, t })
    const token = generateGoToken({ version: VERSION })
    const dir = mkdtempSync(join(tmpdir(), 'kctl-dhcp-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const lone = startBridge(net, net.nodes[0].ns, bridgeArgs(token, dir, ['--dhcp-timeout', '12']))
    t.after(() => lone.stop().catch(() => {}))
    const code = await withTimeout(new Promise<number | null>((resolve) => lone.child.once('exit', resolve)), 60_000, 'the lone bridge to give up')
    assert.equal(code, 1, lone.output())
    const error = lone.objects().find((o) => typeof o.error === 'string')
    assert.match(String(error?.error), /^no VPN address from DHCP within 1\d+s: waiting for another live node: .*1 seen: start the bridge once another node/, lone.output())
    const links = await net.exec(net.nodes[0].ns, 'ip', ['-o', 'link', 'show'])
    assert.doesNotMatch(links.stdout, /kairos0/, 'the interface is removed')
    assert.ok(!existsSync(join(dir, 'leases', leaseFileName(parseToken(token)))), 'no lease without an address')
  })
})
