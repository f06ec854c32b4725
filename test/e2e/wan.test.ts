/**
 * Reaching a Kairos site across the internet, in a simulated internet
 * (test/helpers/wan-lab.ts): five public nodes (DHT servers, relays, AutoNAT),
 * an edge site behind one NAT with two Go EdgeVPN v0.35.3 nodes started as
 * Kairos starts them, and an operator site behind another NAT.
 *
 * - control: a Go EdgeVPN node at the operator's site syncs the edge's ledger
 *   across both NATs (what Go does there is recorded in docs/wan.md);
 * - rung N: both sites behind NAT; kairosctl reaches the edge nodes through
 *   a public relay, answers their hole punch (DCUtR) from its listen port,
 *   and reads the ledger over the direct connection;
 * - rung P: one edge node has a public address; kairosctl at the operator's
 *   site finds it through the DHT rendezvous on the public nodes alone (no
 *   mDNS, no address of any edge node given) and reads the ledger;
 * - negative: both NATs symmetric; the punch cannot work and kairosctl says
 *   so in one line.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { root } from '../helpers/cli.js'
import { apiGet, apiMachines, apiPut, generateGoToken, goPeerBinary, startGoPeer, waitForKey, type GoPeer } from '../helpers/go-peer.js'
import { netnsUnavailableReason, run } from '../helpers/netns.js'
import { createWanLab, type ConntrackEntry, type WanLab } from '../helpers/wan-lab.js'
import { waitFor } from '../helpers/wait.js'

const GO = 'v0.35.3'
const BIN = resolve(root, 'bin/run.js')
const skip =
  netnsUnavailableReason() ??
  (goPeerBinary(GO) ? undefined : `Go EdgeVPN ${GO} is not installed (bash scripts/install-go-peers.sh)`) ??
  (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status === 0 ? undefined : 'nftables (`nft`) is not installed: the NAT routers need it')

/** Runs the built CLI inside a lab namespace (bounded), with the debug log on. */
function kairosctl(ns: string, args: string[], env: Record<string, string> = { KAIROSCTL_NO_PUBLIC_DHT: '1' }, limitMs = 150_000) {
  return run('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], {
    allowFailure: true,
    timeoutMs: limitMs,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', KAIROSCTL_DEBUG: '1', ...env },
  })
}

const flows = (entries: ConntrackEntry[], a: string, b: string) =>
  entries.filter((e) => (e.replySrc === a && e.replyDst === b) || (e.replySrc === b && e.replyDst === a) || (e.src === b && e.dst === a))

describe('WAN: across two NATs in a simulated internet', { skip, timeout: 600_000 }, () => {
  let lab: WanLab
  let token: string
  const edges: GoPeer[] = []
  /** Every Go node started in the lab, to tell kairosctl's DHT requests from theirs. */
  const goIds = new Set<string>()
  let started = 0
  let settledS = 0

  before(async () => {
    assert.ok(existsSync(resolve(root, 'dist/commands/ledger/get.js')), 'build the CLI first (npm run build)')
    lab = await createWanLab()
    await lab.assertSealed()
    token = generateGoToken({ version: GO })
    for (let i = 0; i < 2; i++) {
      const host = await lab.addSiteHost(lab.edge)
      edges.push(await startGoPeer({ version: GO, token, kairos: true, netns: host.ns, bootstrapPeers: lab.bootstrapPeers }))
    }
    for (const e of edges) goIds.add(e.peerId)
    started = Date.now()
    // A settled site, as in the field: each edge node found itself behind NAT (AutoNAT), reserved a
    // slot on a public relay and announced its /p2p-circuit address on the DHT. Fresh nodes still
    // announce their public observed address and can meet directly by accident (docs/wan.md).
    await lab.waitForRelayAddresses(edges.map((e) => e.peerId))
    settledS = Math.round((Date.now() - started) / 1000)
    await apiPut(edges[0].api, 'wan', 'written-at-the-edge', 'hello-from-the-edge')
  })

  after(async () => {
    await Promise.all(edges.map((e) => e.stop()))
    await lab?.teardown()
  })

  test('the lab: sites reach the internet through port-preserving NAT, nothing reaches into a site, no route out', async () => {
    await lab.assertSealed()
    const home = await lab.addSiteHost(lab.home)
    const pub = await lab.addPublicHost()
    const b1 = lab.publicNodes[0]
    assert.equal(await lab.group.ping(home.ns, b1.ip), true, 'site → internet')
    assert.equal(await lab.group.ping(b1.ns, home.ip), false, 'internet → site (no route)')
    assert.equal(await lab.group.ping(home.ns, lab.edge.hosts[0].ip), false, 'site → other site LAN')
    assert.equal(await lab.group.ping(b1.ns, '8.8.8.8', { timeoutS: 1 }), false, 'no route out of the lab')
    // A UDP echo of the source address it sees: the home router keeps the port.
    lab.group.spawn(pub.ns, process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(r.address+':'+r.port,r.port,r.address));s.bind(5000,'${pub.ip}')`])
    const seen = await waitFor(
      async () => {
        const r = await lab.group.exec(
          home.ns,
          process.execPath,
          [
            '-e',
            `const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{process.stdout.write(String(m));process.exit(0)});` +
              `s.bind(40000,()=>s.send('x',5000,'${pub.ip}'));setTimeout(()=>process.exit(3),1000)`,
          ],
          { allowFailure: true, timeoutMs: 10_000 },
        )
        return r.code === 0 ? r.stdout : undefined
      },
      { timeoutMs: 15_000, what: 'UDP echo from the public host' },
    )
    assert.equal(seen, `${lab.home.wanIp}:40000`)
    const tracked = (await lab.conntrack(lab.home)).find((e) => e.src === home.ip && e.dst === pub.ip && e.proto === 'udp')
    assert.equal(tracked?.replyDport, 40000, 'conntrack shows the same mapping')
  })

  test('rung N, bridge: across both NATs the bridge pings an edge node and moves 10 MB with iperf3 over the punched connection', async (t) => {
    // First after the lab check: EdgeVPN's DHCP elects its leader among every node with a fresh
    // healthcheck, so a Go node started and stopped by a later test would be elected and never
    // answer, and the edge nodes would wait for an address for 15 minutes.
    const host = await lab.addSiteHost(lab.home)
    const dir = mkdtempSync(join(tmpdir(), 'kctl-wan-bridge-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    let out = ''
    const bridge = lab.group.spawn(
      host.ns,
      process.execPath,
      [
        BIN,
        'bridge',
        '--network-token',
        token,
        ...lab.bootstrapTcp.flatMap((a) => ['--bootstrap-peer', a]),
        '--no-mdns',
        '--address',
        '10.1.0.200/24',
        '--api',
        `unix://${join(dir, 'api.sock')}`,
        '--identity',
        join(dir, 'identity'),
      ],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', KAIROSCTL_NO_PUBLIC_DHT: '1', KAIROSCTL_DEBUG: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    bridge.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
    bridge.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
    t.after(() => {
      if (bridge.exitCode === null) process.kill(-bridge.pid!, 'SIGKILL')
    })
    // An edge node behind NAT with its VPN address (DHCP), from its own machines bucket.
    const { edge, edgeIp, edgeNs } = await waitFor(
      async () => {
        for (const [i, e] of edges.slice(0, 2).entries()) {
          const machines = await apiMachines(e.api).catch(() => [])
          const own = machines.find((m) => m.PeerID === e.peerId)?.Address
          if (own) return { edge: e, edgeIp: own, edgeNs: lab.edge.hosts[i].ns }
        }
        return undefined
      },
      { timeoutMs: 120_000, intervalMs: 500, what: "an edge node's VPN address in its machines bucket" },
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\nbridge output:\n${out.slice(-6000)}\nedge logs:\n${edges
          .slice(0, 2)
          .map((e) => e.logs().slice(-3000))
          .join('\n---\n')}`,
        { cause: err },
      )
    })
    await waitFor(async () => (await apiMachines(edge.api)).some((m) => m.Address === '10.1.0.200') || undefined, {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `the bridge in the edge node's machines (bridge output: ${out.slice(-1500)})`,
    })
    await waitFor(async () => (await lab.group.ping(host.ns, edgeIp, { timeoutS: 1 })) || undefined, { timeoutMs: 60_000, intervalMs: 500, what: `a ping from the bridge to ${edgeIp}` })
    const server = lab.group.spawn(edgeNs, 'iperf3', ['-s', '-1', '-B', edgeIp], { stdio: 'ignore' })
    t.after(() => {
      if (server.exitCode === null) server.kill('SIGKILL')
    })
    const r = await waitFor(
      async () => {
        const run = await lab.group.exec(host.ns, 'iperf3', ['-c', edgeIp, '-n', '10M', '-J', '--connect-timeout', '3000'], { allowFailure: true, timeoutMs: 60_000 })
        return run.code === 0 ? run.stdout : undefined
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: 'iperf3 through the bridge' },
    )
    const { sum_sent: sent, sum_received: sum } = (JSON.parse(r) as { end: Record<'sum_sent' | 'sum_received', { bytes: number; seconds: number }> }).end
    t.diagnostic(`iperf3 bridge → edge node: ${sent.bytes} bytes sent, ${sum.bytes} received in ${sum.seconds.toFixed(1)} s (${((sum.bytes * 8) / sum.seconds / 1e6).toFixed(1)} Mbit/s)`)
    assert.ok(sent.bytes >= 10 * 1024 * 1024, `sent ${sent.bytes} bytes`)
    // (iperf3's receiver total can stop short of the last segments in flight when the client ends.)
    assert.ok(sum.bytes >= 9 * 1024 * 1024, `received ${sum.bytes} bytes`)
    assert.match(out, /hole punch: direct connection to \S+ at \/ip4\/11\.0\.1\.1\/tcp\//, out.slice(-3000))
    // Ten megabytes cannot have gone through a relay (128 KiB per relayed connection): the routers track a direct flow.
    assert.ok(
      flows(await lab.conntrack(lab.home), lab.home.wanIp, lab.edge.wanIp).some((e) => e.proto === 'tcp'),
      'a direct TCP flow between the NATs',
    )

    // The other way round: a node that no one can dial (behind NAT and, with autorelay off, holding no
    // relay slot of its own) finds the bridge's relayed address on the DHT and dials it; the bridge,
    // seeing the inbound relayed connection, starts the hole punch; the lone node's ledger then
    // reaches the bridge over the punched connection (gossipsub ignores the relayed one).
    assert.match(out, /relay: holding a slot; nodes behind NAT can reach us at \S+\/p2p-circuit/, out.slice(-3000))
    const loneHost = await lab.addSiteHost(lab.edge)
    const lone = await startGoPeer({ version: GO, token, kairos: true, netns: loneHost.ns, bootstrapPeers: lab.bootstrapPeers, extraEnv: { EDGEVPNAUTORELAY: 'false' } })
    t.after(() => lone.stop())
    goIds.add(lone.peerId)
    await waitFor(() => new RegExp(`hole punch: direct connection to ${lone.peerId} at \\S+ after \\d+ ms \\(we started it\\)`).test(out) || undefined, {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `a hole punch the bridge started with ${lone.peerId}`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nbridge output:\n${out.slice(-3000)}\nlone node:\n${lone.logs().slice(-3000)}`, { cause: err })
    })
    assert.match(out, new RegExp(`hole punch: ${lone.peerId} reached us through our relay; starting a hole punch \\(attempt 1\\)`))
    const punched = Date.now()
    const bridgeApi = `unix://${join(dir, 'api.sock')}`
    await apiPut(lone.api, 'wan', 'written-at-the-lone-node', 'hello-from-the-lone-node')
    await waitForKey(bridgeApi, 'wan', 'written-at-the-lone-node', '"hello-from-the-lone-node"', { timeoutMs: 60_000, intervalMs: 500 }).catch((err: Error) => {
      throw new Error(`${err.message}\nbridge output:\n${out.slice(-4000)}\nlone node:\n${lone.logs().slice(-4000)}`, { cause: err })
    })
    t.diagnostic(`the lone node's key reached the bridge ${Date.now() - punched} ms after the punch`)
    process.kill(-bridge.pid!, 'SIGTERM')
  })

  test('control: a Go node behind the other NAT syncs the edge ledger, over a direct path between the two NATs', async (t) => {
    const host = await lab.addSiteHost(lab.home)
    // Kairos' environment; only go-libp2p's hole punching log is switched on (GOLOG_LOG_LEVEL).
    const op = await startGoPeer({ version: GO, token, kairos: true, netns: host.ns, bootstrapPeers: lab.bootstrapPeers, extraEnv: { GOLOG_LOG_LEVEL: 'error,p2p-holepunch=debug' } })
    goIds.add(op.peerId)
    try {
      const t0 = Date.now()
      await waitForKey(op.api, 'wan', 'written-at-the-edge', '"hello-from-the-edge"', { timeoutMs: 180_000, intervalMs: 500 })
      t.diagnostic(`operator Go node saw the edge's key ${Date.now() - t0} ms after its start (the edge settled ${settledS} s after its start)`)

      // First contact went through a public relay (the relay's ACL saw the circuit)...
      const relayed = lab.publicNodes.flatMap((n) =>
        n
          .events()
          .filter((e) => e.event === 'connect' && (e.src === op.peerId || e.dest === op.peerId))
          .map((e) => `${n.seed}: ${String(e.src)} (${String(e.addr)}) → ${String(e.dest)}`),
      )
      t.diagnostic(`relayed connections of the operator: ${relayed.join('; ')}`)
      assert.ok(relayed.length > 0, 'the operator reached the edge through a relay first')
      // ...then DCUtR punched a direct path: both routers track a flow between their public addresses.
      const edgeFlows = flows(await lab.conntrack(lab.edge), lab.edge.wanIp, lab.home.wanIp)
      const homeFlows = flows(await lab.conntrack(lab.home), lab.home.wanIp, lab.edge.wanIp)
      t.diagnostic(`edge router, flows with the home router:\n${edgeFlows.map((e) => e.line).join('\n')}`)
      t.diagnostic(`home router, flows with the edge router:\n${homeFlows.map((e) => e.line).join('\n')}`)
      assert.ok(edgeFlows.length > 0 && homeFlows.length > 0, 'a direct flow between the NATs')
      const punched = op
        .logs()
        .split('\n')
        .filter((l) => /hole punch successful/.test(l))
      t.diagnostic(`operator log: ${punched.length} × "hole punch successful"`)
      assert.ok(punched.length > 0, 'the operator logged a successful hole punch')
      // (QUIC shares one unconnected UDP socket: only TCP peers show up here.)
      for (const node of [op, ...edges]) {
        for (const ep of await node.remoteEndpoints()) assert.ok(lab.inLab(ep), `${node.peerId} talked to ${ep}`)
      }
    } finally {
      await op.stop()
    }
  })

  test('rung N: both sites behind NAT, kairosctl reaches the edge through a relay, punches a direct connection and reads the ledger', async (t) => {
    // Whichever edge node kairosctl reaches first answers, so both must hold the key; two nodes
    // behind one NAT need not have met yet (the lab has no hairpin NAT), so write it where missing.
    for (const e of edges.slice(0, 2)) {
      if (!(await apiGet(e.api, 'wan', 'written-at-the-edge').catch(() => ''))) await apiPut(e.api, 'wan', 'written-at-the-edge', 'hello-from-the-edge')
      await waitForKey(e.api, 'wan', 'written-at-the-edge', '"hello-from-the-edge"', { timeoutMs: 30_000, intervalMs: 500 })
    }
    const host = await lab.addSiteHost(lab.home)
    const t0 = Date.now()
    const r = await kairosctl(
      host.ns,
      ['ledger', 'get', 'wan', 'written-at-the-edge', '--network-token', token, ...lab.bootstrapTcp.flatMap((a) => ['--bootstrap-peer', a]), '--no-mdns', '--timeout', '120', '--verbose'],
      { KAIROSCTL_NO_PUBLIC_DHT: '1', KAIROSCTL_DEBUG: '' },
    )
    const ms = Date.now() - t0
    const steps = r.stderr.split('\n').filter(Boolean)
    t.diagnostic(`kairosctl ledger get --verbose: exit ${r.code} after ${ms} ms; ${steps.join(' | ')}`)
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-6000)}`)
    assert.match(r.stdout, /hello-from-the-edge/)
    // --verbose names each step of the way, in order: bootstrap, rendezvous, relay, punch, sync.
    const at = (re: RegExp): number => steps.findIndex((l) => re.test(l))
    const order = [
      /^bootstrap: reached \/ip4\/11\.0\.0\./,
      /^rendezvous: found \S+ on the DHT \(\d+ address\(es\), [1-9]\d* through a relay\)/,
      /^connected to \S+ through a relay/,
      /^hole punch: direct connection to \S+ at \/ip4\/11\.0\.1\.1\/tcp\//,
      /^synced after \d+ ms/,
    ].map(at)
    assert.ok(
      order.every((i) => i >= 0),
      `missing steps (${order.join(', ')}):\n${steps.join('\n')}`,
    )
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      steps.join('\n'),
    )
    assert.ok(!steps.some((l) => /^\[debug\]/.test(l)), 'no debug lines without KAIROSCTL_DEBUG')
    // The ledger came over a direct path between the two NATs: both routers track it.
    const edgeFlows = flows(await lab.conntrack(lab.edge), lab.edge.wanIp, lab.home.wanIp)
    const homeFlows = flows(await lab.conntrack(lab.home), lab.home.wanIp, lab.edge.wanIp)
    t.diagnostic(`home router, flows with the edge router:\n${homeFlows.map((e) => e.line).join('\n')}`)
    assert.ok(edgeFlows.some((e) => e.proto === 'tcp') && homeFlows.some((e) => e.proto === 'tcp'), 'a direct TCP flow between the NATs')
  })

  test('rung P: with one edge node public, kairosctl behind NAT finds it through the DHT rendezvous and reads the ledger', async (t) => {
    const pub = await lab.addPublicHost()
    const publicEdge = await startGoPeer({ version: GO, token, kairos: true, netns: pub.ns, bootstrapPeers: lab.bootstrapPeers })
    edges.push(publicEdge)
    goIds.add(publicEdge.peerId)
    await waitForKey(publicEdge.api, 'wan', 'written-at-the-edge', '"hello-from-the-edge"', { timeoutMs: 120_000, intervalMs: 500 })

    const host = await lab.addSiteHost(lab.home)
    const t0 = Date.now()
    const r = await kairosctl(host.ns, [
      'ledger',
      'get',
      'wan',
      'written-at-the-edge',
      '--network-token',
      token,
      ...lab.bootstrapTcp.flatMap((a) => ['--bootstrap-peer', a]),
      '--no-mdns',
      '--timeout',
      '120',
    ])
    const ms = Date.now() - t0
    t.diagnostic(`kairosctl ledger get: exit ${r.code} after ${ms} ms`)
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-6000)}`)
    assert.match(r.stdout, /hello-from-the-edge/)
    // kairosctl reached the public edge node itself, through its own router.
    const home = await lab.conntrack(lab.home)
    assert.ok(
      home.some((e) => e.src === host.ip && e.dst === pub.ip),
      `no flow ${host.ip} → ${pub.ip}:\n${home.map((e) => e.line).join('\n')}`,
    )
    // It found that node through the rendezvous (it was never given its address): it looked up
    // the same provider key the Go nodes announce, on the go-libp2p-kad-dht servers. (Its own
    // ADD_PROVIDER may still be under way when it exits with the answer.)
    const dhtEvents = lab.publicNodes.flatMap((n) => n.events().filter((e) => e.event === 'dht'))
    const goKeys = new Set(dhtEvents.filter((e) => e.type === 'ADD_PROVIDER' && goIds.has(String(e.from))).map((e) => e.key))
    const ours = dhtEvents.filter((e) => !goIds.has(String(e.from)) && goKeys.has(e.key))
    t.diagnostic(`kairosctl's requests for the rendezvous key: ${[...new Set(ours.map((e) => e.type))].join(', ')} (${ours.length})`)
    assert.ok(
      ours.some((e) => e.type === 'GET_PROVIDERS'),
      'kairosctl looked up the rendezvous the Go nodes announce',
    )
    await waitFor(async () => (await publicEdge.remoteEndpoints()).every((ep) => lab.inLab(ep)) || undefined, { timeoutMs: 5_000, what: 'public edge talks only inside the lab' })
  })

  test('public DHT by default: with no bootstrap peer, kairosctl dials the Amino bootstrap list (from a namespace with no way out)', async (t) => {
    const host = await lab.addSiteHost(lab.home)
    await lab.assertSealed()
    const r = await kairosctl(host.ns, ['ledger', 'get', 'wan', 'written-at-the-edge', '--network-token', token, '--no-mdns', '--timeout', '10'], {}, 60_000)
    t.diagnostic(
      `exit ${r.code}; ${r.stderr
        .split('\n')
        .filter((l) => /bootstrap|Amino/.test(l))
        .join(' | ')}`,
    )
    assert.notEqual(r.code, 0, 'nothing is reachable from here')
    assert.match(r.stderr, /error: could not reach any of the 5 DHT bootstrap peer\(s\) within 10s .*internet access and DNS/)
    assert.match(r.stderr, /joining the public Amino DHT \(5 bootstrap peers\)/)
    for (const id of ['QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN', 'QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ']) {
      assert.match(r.stderr, new RegExp(`bootstrap peer \\S+/p2p/${id} not reachable`), `dialled ${id}`)
    }
    // The same command with the hygiene switch dials nobody.
    const off = await kairosctl(host.ns, ['ledger', 'get', 'wan', 'written-at-the-edge', '--network-token', token, '--no-mdns', '--timeout', '3'], { KAIROSCTL_NO_PUBLIC_DHT: '1' }, 60_000)
    assert.notEqual(off.code, 0)
    assert.doesNotMatch(off.stderr, /bootstrap peer|Amino/)
  })

  test('negative: with both NATs symmetric, kairosctl says within --timeout that hole punching failed, in one line', async (t) => {
    // The public edge node of rung P would answer directly: only the nodes behind NAT stay.
    await Promise.all(edges.slice(2).map((e) => e.stop()))
    await lab.setSymmetric(lab.edge, true)
    await lab.setSymmetric(lab.home, true)
    const host = await lab.addSiteHost(lab.home)
    const t0 = Date.now()
    const r = await kairosctl(
      host.ns,
      ['ledger', 'get', 'wan', 'written-at-the-edge', '--network-token', token, ...lab.bootstrapTcp.flatMap((a) => ['--bootstrap-peer', a]), '--no-mdns', '--timeout', '30'],
      { KAIROSCTL_NO_PUBLIC_DHT: '1', KAIROSCTL_DEBUG: '' },
    )
    const ms = Date.now() - t0
    t.diagnostic(`exit ${r.code} after ${ms} ms: ${r.stderr.trim()}`)
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stderr.split('\n').filter(Boolean)
    assert.equal(lines.length, 1, r.stderr)
    assert.match(
      lines[0],
      /^error: found [1-9] node\(s\) of this network through the DHT rendezvous and reached [1-9] through a relay, but no direct connection came up within 30s: hole punching failed/,
    )
    assert.match(lines[0], /make one node reachable/)
  })
})
