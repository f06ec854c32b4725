/**
 * The bridge in network namespaces next to Go EdgeVPN VPN nodes: pings both
 * ways over the VPN, 50 MB TCP transfers both ways with equal checksums
 * (v0.35), the bridge API answers EdgeVPN's client calls, and SIGTERM
 * removes the interface.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { apiMachines, apiRequest, generateGoToken, requireGoPeer, startGoPeer } from '../helpers/go-peer.js'
import { createNetwork, requireNetns, type TestNetwork } from '../helpers/netns.js'
import { waitUntil } from '../helpers/wait.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const TRANSFER = fileURLToPath(new URL('../helpers/tcp-transfer.mjs', import.meta.url))
const TRANSFER_BYTES = 50 * 1024 * 1024

interface TransferResult {
  bytes: number
  sha256: string
}

/** Sends TRANSFER_BYTES over TCP from one namespace to a listener on `toIp` in another; both ends' byte counts and checksums. */
async function transfer(net: TestNetwork, fromNs: string, toNs: string, toIp: string): Promise<{ sent: TransferResult; received: TransferResult; seconds: number }> {
  const server = net.spawn(toNs, process.execPath, [TRANSFER, 'serve', toIp, '5201'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  server.stdout?.on('data', (d) => (out += d))
  server.stderr?.on('data', (d) => (out += d))
  await waitUntil(() => out.includes('listening'), { timeoutMs: 10_000, intervalMs: 50, what: `a transfer listener on ${toIp}` })
  const started = Date.now()
  const client = await net.exec(fromNs, process.execPath, [TRANSFER, 'send', toIp, '5201', String(TRANSFER_BYTES)], { timeoutMs: 240_000 })
  const seconds = (Date.now() - started) / 1000
  await waitUntil(() => out.trim().split('\n').length >= 2, { timeoutMs: 30_000, intervalMs: 100, what: "the receiver's checksum" })
  return { sent: JSON.parse(client.stdout) as TransferResult, received: JSON.parse(out.trim().split('\n')[1]) as TransferResult, seconds }
}

for (const version of ['v0.35.3', 'v0.34.0']) {
  describe(`bridge with Go ${version} VPN nodes`, () => {
    test('ping both ways; API; clean shutdown', async (t) => {
      if (!requireNetns(t) || !requireGoPeer(version, t)) return
      const net = await createNetwork({ count: 3, t })
      const [n0, n1, n2] = net.nodes
      const token = generateGoToken({ version })
      const ownership = version === 'v0.34.0' ? undefined : 'enforce'
      const a = await startGoPeer({ version, token, netns: n0.ns, mdns: true, vpnAddress: '10.1.0.1/24', ownership, t })
      await startGoPeer({ version, token, netns: n1.ns, mdns: true, vpnAddress: '10.1.0.2/24', ownership, t })
      const dir = mkdtempSync(join(tmpdir(), 'kctl-bridge-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const sock = join(dir, 'api.sock')
      let out = ''
      const bridge: ChildProcess = net.spawn(
        n2.ns,
        process.execPath,
        [BIN, 'bridge', '--network-token', token, '--no-dht', '--identity', join(dir, 'identity'), '--api', `unix://${sock}`, '--ownership-ttl', '120', '--listen', '/ip4/0.0.0.0/tcp/0'],
        { env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      bridge.stdout?.on('data', (d) => (out += d))
      bridge.stderr?.on('data', (d) => (out += d))

      await waitUntil(async () => (await apiMachines(a.api)).some((m) => m.Address === '10.1.0.254'), {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: `the bridge in the Go node's machines (bridge output: ${out.slice(-500)})`,
      })
      await waitUntil(() => net.ping(n2.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from the bridge to a Go node' })
      await waitUntil(() => net.ping(n0.ns, '10.1.0.254', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from a Go node to the bridge' })
      // Go nodes do not find our peer over mDNS: the second node can send to the bridge once the
      // bridge has found and dialled it (mDNS every 5 s) and the bridge's machines entry reached it.
      const second = Date.now()
      await waitUntil(() => net.ping(n1.ns, '10.1.0.254', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from the second Go node to the bridge' })
      t.diagnostic(`the second Go node reached the bridge after ${Date.now() - second} ms more`)

      if (version !== 'v0.34.0') {
        // 50 MB over TCP each way: everything arrives, unchanged.
        for (const [name, from, to, ip] of [
          ['bridge -> Go', n2.ns, n0.ns, '10.1.0.1'],
          ['Go -> bridge', n0.ns, n2.ns, '10.1.0.254'],
        ] as const) {
          const { sent, received, seconds } = await transfer(net, from, to, ip)
          assert.equal(sent.bytes, TRANSFER_BYTES, `${name}: bytes sent`)
          assert.deepEqual(received, sent, `${name}: the receiver got every byte with the same checksum`)
          t.diagnostic(`${name}: 50 MiB in ${seconds.toFixed(1)} s (${((TRANSFER_BYTES * 8) / seconds / 1e6).toFixed(1)} Mbit/s)`)
        }
      }

      // The bridge API answers EdgeVPN's client calls.
      const summary = JSON.parse((await apiRequest(`unix://${sock}`, 'GET', '/api/summary')).body)
      assert.match(summary.NodeID, /^12D3KooW/)
      const machines = JSON.parse((await apiRequest(`unix://${sock}`, 'GET', '/api/machines')).body) as { Address: string }[]
      assert.deepEqual(machines.map((m) => m.Address).sort(), ['10.1.0.1', '10.1.0.2', '10.1.0.254'])
      // Its /metrics counts the packets routed above.
      const metrics = (await apiRequest(`unix://${sock}`, 'GET', '/metrics')).body
      for (const name of ['kairosctl_vpn_packets_sent_total', 'kairosctl_vpn_packets_received_total']) {
        assert.ok(Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]) > 0, `${name} in:\n${metrics}`)
      }
      assert.match(metrics, /^kairosctl_vpn_packets_dropped_total\{reason="queue_full"\} \d+$/m)
      // Go sends each packet on a stream of its own: those streams took the light way in.
      assert.match(metrics, /^kairosctl_vpn_inbound_streams_total\{way="light"\} [1-9]\d*$/m)
      assert.match(metrics, /^kairosctl_connections\{direction="outbound",type="direct"\} [1-9]\d*$/m)

      // SIGTERM: exit 0 and the interface is gone.
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the bridge did not exit within 15s of SIGTERM: ${out.slice(-500)}`)), 15_000)
        bridge.once('exit', (c) => {
          clearTimeout(timer)
          resolve(c)
        })
        process.kill(-bridge.pid!, 'SIGTERM')
      })
      assert.equal(code, 0, out)
      const links = await net.exec(n2.ns, 'ip', ['-o', 'link', 'show'])
      assert.doesNotMatch(links.stdout, /kairos0/)
    })
  })
}
