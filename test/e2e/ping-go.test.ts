/**
 * `kairosctl ping` (the built CLI) against Go EdgeVPN nodes on loopback: the
 * Go node answers libp2p ping, found by its peer ID through the network the
 * token names (a bootstrap peer, no DHT or mDNS).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, test } from 'node:test'
import { generateGoToken, requireGoPeer, startGoPeer } from '../helpers/go-peer.js'
import { root } from '../helpers/cli.js'

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [resolve(root, 'bin/run.js'), ...args], { timeout: 90_000, env: { ...process.env, NO_COLOR: '1', NODE_NO_WARNINGS: '1' } }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    )
  })
}

for (const version of ['v0.35.3', 'v0.34.0']) {
  describe(`ping a Go ${version} node`, () => {
    test('by peer ID: a direct connection and a reply to every ping', async (t) => {
      if (!requireGoPeer(version, t)) return
      const token = generateGoToken({ version })
      const go = await startGoPeer({ version, token, t })
      const r = await cli([
        'ping',
        go.peerId,
        '-c',
        '3',
        '--interval',
        '100',
        '--json',
        '--network-token',
        token,
        '--bootstrap-peer',
        go.p2pAddrs[0],
        '--no-dht',
        '--no-mdns',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--timeout',
        '30',
      ])
      assert.equal(r.code, 0, r.stderr)
      const out = JSON.parse(r.stdout)
      assert.equal(out.target.peerId, go.peerId)
      assert.equal(out.route.direct, true)
      assert.match(out.route.remoteAddr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
      assert.deepEqual([out.sent, out.received], [3, 3])
      for (const reply of out.replies) assert.equal(typeof reply.rttMs, 'number')
    })
  })
}
