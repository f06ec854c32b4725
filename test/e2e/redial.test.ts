/**
 * A lost peer is redialled soon: the bridge (--no-tun) next to its only Go
 * node, which is restarted (same identity and port) or frozen with SIGSTOP.
 * Once the node is back, a write on each side must reach the other within a
 * bounded wait; the measured times are printed as diagnostics.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { parseToken } from '../../src/token/token.js'
import { runBridge } from '../../src/vpn/bridge.js'
import { apiBucket, apiGet, apiPut, freePort, generateGoToken, requireGoPeer, startGoPeer, type GoPeer } from '../helpers/go-peer.js'
import { sleep, waitFor } from '../helpers/wait.js'

/**
 * Generous: convergence is expected within about 10 s of the node being back.
 * Before redialling, a bridge that had run for 45 s waited for its next
 * discovery round, 20-60 s away (about 4 minutes on a bridge running longer).
 */
const CONVERGE_MS = 30_000

const SCENARIOS = [
  {
    name: 'a 5 s restart',
    outage: async (go: GoPeer, start: () => Promise<GoPeer>) => {
      await go.stop()
      await sleep(5_000)
      return start()
    },
  },
  {
    name: 'a 30 s SIGSTOP',
    outage: async (go: GoPeer) => {
      process.kill(go.pid!, 'SIGSTOP')
      try {
        await sleep(30_000)
      } finally {
        process.kill(go.pid!, 'SIGCONT')
      }
      return go
    },
  },
]

describe('redialling the only Go v0.35.3 peer', () => {
  for (const s of SCENARIOS) {
    test(`after ${s.name}, writes on either side reach the other`, async (t) => {
      if (!requireGoPeer('v0.35.3', t)) return
      const token = generateGoToken({ version: 'v0.35.3' })
      const privkey = privateKeyToProtobuf(await generateKeyPair('Ed25519'))
      const opts = { version: 'v0.35.3', token, ownership: 'enforce' as const, listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`], apiPort: await freePort(), privkey, t }
      const start = () => startGoPeer(opts)
      let go = await start()
      const running = await runBridge({
        peer: { token: parseToken(token), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, bootstrapPeers: [go.p2pAddrs[0]], ownership: 'auto', ownershipTtl: 120 },
        address: '10.1.0.254/24',
      })
      t.after(() => running.stop())
      const { peer } = running
      await waitFor(async () => (await apiBucket(go.api, 'machines'))?.['10.1.0.254'], { timeoutMs: 30_000, what: "the bridge's machines entry on the Go node" })
      // Run a while first, so that the discovery rounds have backed off as on a long-running bridge.
      await sleep(45_000)

      go = await s.outage(go, start)
      const back = Date.now()
      await apiPut(go.api, 'redial', 'from-go', 'hello')
      peer.ledger.put('redial', 'from-us', 'hello')
      void peer.announce()
      const [toUs, toGo] = await Promise.all([
        waitFor(async () => (peer.ledger.getKey('redial', 'from-go') === '"hello"' ? Date.now() - back : undefined), { timeoutMs: CONVERGE_MS, intervalMs: 100, what: 'the Go write on the bridge' }),
        waitFor(async () => ((await apiGet(go.api, 'redial', 'from-us')) === '"hello"' ? Date.now() - back : undefined), {
          timeoutMs: CONVERGE_MS,
          intervalMs: 100,
          what: "the bridge's write on the Go node",
        }),
      ])
      t.diagnostic(`after ${s.name}: Go -> bridge ${toUs} ms, bridge -> Go ${toGo} ms`)
      assert.ok(peer.isConnected(go.peerId))
    })
  }
})
