/**
 * The bridge in network namespaces next to Go EdgeVPN VPN nodes: pings both
 * ways over the VPN, the bridge API answers EdgeVPN's client calls, and
 * SIGTERM removes the interface.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { apiMachines, apiRequest, generateGoToken, requireGoPeer, startGoPeer } from '../helpers/go-peer.js'
import { createNetwork, requireNetns } from '../helpers/netns.js'
import { waitUntil } from '../helpers/wait.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

for (const version of ['v0.35.3', 'v0.34.0']) {
  describe(`bridge with Go ${version} VPN nodes`, () => {
    test('ping both ways; API; clean shutdown', async (t) => {
      if (!requireNetns(t) || !requireGoPeer(version, t)) return
      const net = await createNetwork({ count: 3, t })
      const [n0, n1, n2] = net.nodes
      const token = generateGoToken({ version })
      const ownership = version === 'v0.34.0' ? undefined : 'enforce'
      const a = await startGoPeer({ version, token, netns: n0.ns, mdns: true, vpnAddress: '10.1.0.1/24', ownership, t })
      const b = await startGoPeer({ version, token, netns: n1.ns, mdns: true, vpnAddress: '10.1.0.2/24', ownership, t })
      const dir = mkdtempSync(join(tmpdir(), 'kctl-bridge-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const sock = join(dir, 'api.sock')
      let out = ''
      const bridge: ChildProcess = net.spawn(n2.ns, process.execPath, [
        BIN, 'bridge', '--network-token', token, '--no-dht', '--identity', join(dir, 'identity'),
        '--api', `unix://${sock}`, '--ownership-ttl', '120', '--listen', '/ip4/0.0.0.0/tcp/0',
      ], { env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
      bridge.stdout?.on('data', (d) => (out += d))
      bridge.stderr?.on('data', (d) => (out += d))

      await waitUntil(async () => (await apiMachines(a.api)).some((m) => m.Address === '10.1.0.254'), {
        timeoutMs: 60_000, intervalMs: 500, what: `the bridge in the Go node's machines (bridge output: ${out.slice(-500)})`,
      })
      await waitUntil(() => net.ping(n2.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from the bridge to a Go node' })
      await waitUntil(() => net.ping(n0.ns, '10.1.0.254', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from a Go node to the bridge' })
      assert.ok(await net.ping(n1.ns, '10.1.0.254', { count: 3, timeoutS: 2 }), 'the second Go node reaches the bridge too')

      // The bridge API answers EdgeVPN's client calls.
      const summary = JSON.parse((await apiRequest(`unix://${sock}`, 'GET', '/api/summary')).body)
      assert.match(summary.NodeID, /^12D3KooW/)
      const machines = JSON.parse((await apiRequest(`unix://${sock}`, 'GET', '/api/machines')).body) as { Address: string }[]
      assert.deepEqual(machines.map((m) => m.Address).sort(), ['10.1.0.1', '10.1.0.2', '10.1.0.254'])

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
