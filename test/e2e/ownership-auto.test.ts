/**
 * `--ownership auto` (the default) against a hostile token holder and real Go
 * nodes: one peer publishing unsigned blocks with forged `kairos` and
 * `machines` values must not move us off the signed rules of a v0.35 network,
 * while a pure v0.34 network still reads and writes with the default.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { joinNetwork } from '../../src/ledger-access/network.js'
import { parseToken } from '../../src/token/token.js'
import { runBridge, type RunningBridge } from '../../src/vpn/bridge.js'
import { run } from '../helpers/cli.js'
import { apiBucket, apiGet, apiPut, generateGoToken, requireGoPeer, startGoPeer, waitForKey } from '../helpers/go-peer.js'
import { forgedBlock, startHostilePeer } from '../helpers/hostile-peer.js'
import { sleep, waitFor } from '../helpers/wait.js'

const machine = (id: string, ip: string) => ({ PeerID: id, Hostname: 'evil', OS: 'linux', Arch: 'amd64', Address: ip, Version: '' })

/** `kairosctl ledger get` through the token, next to the given peer only. */
function ledgerGet(token: string, peer: string, bucket: string, key: string, extra: string[] = []) {
  return run(['ledger', 'get', bucket, key, '--raw', '--network-token', token, '--bootstrap-peer', peer, '--no-dht', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--timeout', '30', ...extra])
}

describe('ownership auto with a hostile peer on a Go v0.35.3 (enforce) network', () => {
  test('an attacker behind the Go node does not change what `ledger get --ownership auto` prints', async (t) => {
    if (!requireGoPeer('v0.35.3', t)) return
    const token = generateGoToken({ version: 'v0.35.3' })
    const go = await startGoPeer({ version: 'v0.35.3', token, ownership: 'enforce', t })
    await apiPut(go.api, 'kairos', 'role', 'master')
    await waitForKey(go.api, 'kairos', 'role', '"master"', { timeoutMs: 30_000 })

    const evil = await startHostilePeer({ token: parseToken(token), bootstrapPeers: [go.p2pAddrs[0]], t })
    await evil.onTopic()
    // Replaces kairos/role, drops every real key, adds an owned machines entry of its own choosing.
    evil.flood(forgedBlock({ kairos: { role: '"forged"', extra: '"evil"' }, machines: { '10.1.0.66': machine(evil.id, '10.1.0.66') } }), 100)
    await waitForKey(go.api, 'kairos', 'extra', '"evil"', { timeoutMs: 30_000 }) // the Go node got (and merged) the forgery

    for (let i = 0; i < 3; i++) {
      const role = await ledgerGet(token, go.p2pAddrs[0], 'kairos', 'role', ['--ownership', 'auto'])
      assert.equal(role.code, 0, `run ${i + 1}: ${role.stderr}`)
      assert.equal(role.stdout.trim(), '"master"', `run ${i + 1}: kairos/role`)
      const forged = await ledgerGet(token, go.p2pAddrs[0], 'machines', '10.1.0.66')
      assert.notEqual(forged.code, 0, `run ${i + 1}: the forged machines entry was printed: ${forged.stdout}`)
      assert.match(forged.stderr, /key 10\.1\.0\.66 is not in bucket machines/)
    }
    // What the Go node itself answers, for comparison.
    assert.equal(await apiGet(go.api, 'kairos', 'role'), '"master"')
    assert.equal((await apiBucket(go.api, 'machines'))?.['10.1.0.66'], undefined)
  })

  test('an attacker next to the bridge (--no-tun) does not change its write mode or its ledger', async (t) => {
    if (!requireGoPeer('v0.35.3', t)) return
    const token = generateGoToken({ version: 'v0.35.3' })
    const go = await startGoPeer({ version: 'v0.35.3', token, ownership: 'enforce', t })
    await apiPut(go.api, 'kairos', 'role', 'master')
    await waitForKey(go.api, 'kairos', 'role', '"master"', { timeoutMs: 30_000 })
    const evil = await startHostilePeer({ token: parseToken(token), bootstrapPeers: [go.p2pAddrs[0]], t })
    await evil.onTopic()
    evil.flood(forgedBlock({ kairos: { role: '"forged"' }, machines: { '10.1.0.66': machine(evil.id, '10.1.0.66') } }), 100)
    const evilAddr = evil.host.getMultiaddrs()[0].toString()

    // The bridge hears the attacker first: it dials it directly and gets a forged block every 100 ms.
    const running: RunningBridge = await runBridge({
      peer: {
        token: parseToken(token),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        mdns: false,
        dht: false,
        bootstrapPeers: [evilAddr, go.p2pAddrs[0]],
        ownership: 'auto',
        ownershipTtl: 120,
      },
      address: '10.1.0.254/24',
    })
    t.after(() => running.stop())
    const { peer } = running

    // Its machines entry reaches the enforcing Go node, which takes only signed entries there.
    const ours = await waitFor(async () => (await apiBucket(go.api, 'machines'))?.['10.1.0.254'], { timeoutMs: 30_000, what: "the bridge's machines entry on the Go node" })
    assert.match(ours, new RegExp(peer.id))
    await sleep(3_000) // forged blocks keep arriving meanwhile
    assert.equal(peer.effectiveMode, 'enforce', 'write mode')
    assert.notEqual(peer.networkKind, 'legacy')
    assert.ok(peer.ledger.signerId, 'writes are signed')
    const mine = peer.ledger.lastBlock().storage.get('machines')?.get('10.1.0.254')
    assert.ok(mine?.sig, 'our machines entry is signed')
    assert.equal(peer.ledger.getKey('kairos', 'role'), '"master"')
    assert.equal(peer.ledger.getKey('machines', '10.1.0.66'), undefined, 'the forged machines entry')
    t.diagnostic(`network as the bridge sees it: ${peer.networkKind}`)
  })
})

describe('ownership auto on a pure Go v0.34.0 network', () => {
  test('`ledger put` and `ledger get` with the default ownership; a bridge (--no-tun) is seen', async (t) => {
    if (!requireGoPeer('v0.34.0', t)) return
    const token = generateGoToken({ version: 'v0.34.0' })
    const go = await startGoPeer({ version: 'v0.34.0', token, t })
    await apiPut(go.api, 'kairos', 'role', 'master')
    await waitForKey(go.api, 'kairos', 'role', '"master"', { timeoutMs: 30_000 })
    const addr = go.p2pAddrs[0]

    const got = await ledgerGet(token, addr, 'kairos', 'role')
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stdout.trim(), '"master"')
    const put = await run([
      'ledger',
      'put',
      'kairos',
      'from-cli',
      'hello',
      '--network-token',
      token,
      '--bootstrap-peer',
      addr,
      '--no-dht',
      '--no-mdns',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--timeout',
      '30',
    ])
    assert.equal(put.code, 0, put.stderr)
    await waitForKey(go.api, 'kairos', 'from-cli', '"hello"', { timeoutMs: 30_000 })
    // A Go update of a key we wrote arrives too (a v0.34 update replaces the whole block). Not kairos/role:
    // Go keeps re-adding a value written through its API until it sees it, so two quick API writes of one key race.
    await apiPut(go.api, 'kairos', 'from-cli', 'updated')
    await waitForKey(go.api, 'kairos', 'from-cli', '"updated"', { timeoutMs: 30_000 })
    const again = await ledgerGet(token, addr, 'kairos', 'from-cli')
    assert.equal(again.stdout.trim(), '"updated"', again.stderr)

    // A peer of ours already on the network must not take the starting bridge's first (signed) writes as proof of a signing network.
    const watcher = await joinNetwork({ token: parseToken(token), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, bootstrapPeers: [addr], ownership: 'auto', timeoutMs: 30_000 })
    t.after(() => watcher.close())
    await waitFor(async () => (watcher.peer.networkKind === 'legacy' ? true : undefined), { timeoutMs: 30_000, what: 'the watcher to see a legacy network' })
    const watcherAddr = watcher.peer.host.getMultiaddrs()[0].toString()

    const running = await runBridge({
      peer: { token: parseToken(token), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, bootstrapPeers: [watcherAddr, addr], ownership: 'auto', ownershipTtl: 120 },
      address: '10.1.0.254/24',
    })
    t.after(() => running.stop())
    const ours = await waitFor(async () => (await apiBucket(go.api, 'machines'))?.['10.1.0.254'], { timeoutMs: 30_000, what: "the bridge's machines entry on the v0.34 node" })
    assert.match(ours, new RegExp(running.peer.id))
    assert.equal(running.peer.effectiveMode, 'off')
    await waitFor(async () => watcher.peer.ledger.getKey('machines', '10.1.0.254'), { timeoutMs: 30_000, what: "the bridge's machines entry on the watcher" })
    assert.equal(watcher.peer.networkKind, 'legacy')
    assert.equal(watcher.peer.effectiveMode, 'off')
  })
})
