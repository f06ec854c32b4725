/**
 * Rung U: kairosctl behind a home router with UPnP (miniupnpd, nftables
 * backend, in the lab's home router) maps its listen port, announces the
 * router's public address on the DHT rendezvous, and Go EdgeVPN v0.35.3 nodes
 * behind the other NAT dial it directly: no relay, no hole punch.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { root } from '../helpers/cli.js'
import { apiPut, generateGoToken, goPeerBinary, startGoPeer, waitForKey, type GoPeer } from '../helpers/go-peer.js'
import { netnsUnavailableReason, run } from '../helpers/netns.js'
import { createWanLab, type WanLab } from '../helpers/wan-lab.js'

const GO = 'v0.35.3'
const BIN = resolve(root, 'bin/run.js')
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0
const skip =
  netnsUnavailableReason() ??
  (goPeerBinary(GO) ? undefined : `Go EdgeVPN ${GO} is not installed (bash scripts/install-go-peers.sh)`) ??
  (has('nft', ['--version']) ? undefined : 'nftables (`nft`) is not installed: the NAT routers need it') ??
  (has('sh', ['-c', 'command -v miniupnpd']) ? undefined : 'miniupnpd is not installed (Debian: miniupnpd miniupnpd-nftables)')

/** Runs the built CLI inside a lab namespace (bounded), with the debug log on. */
function kairosctl(ns: string, args: string[], env: Record<string, string> = {}, limitMs = 180_000) {
  return run('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], {
    allowFailure: true,
    timeoutMs: limitMs,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', KAIROSCTL_DEBUG: '1', KAIROSCTL_NO_PUBLIC_DHT: '1', ...env },
  })
}

describe('WAN rung U: kairosctl behind a UPnP router, reached directly by Go nodes behind NAT', { skip, timeout: 600_000 }, () => {
  let lab: WanLab
  let token: string
  const edges: GoPeer[] = []

  before(async () => {
    assert.ok(existsSync(resolve(root, 'dist/commands/ledger/get.js')), 'build the CLI first (npm run build)')
    lab = await createWanLab({ upnp: true })
    await lab.assertSealed()
    token = generateGoToken({ version: GO })
    for (let i = 0; i < 2; i++) {
      const host = await lab.addSiteHost(lab.edge)
      // Kairos' environment; EDGEVPNDHTINTERVAL=20 only shortens the rendezvous rounds (default
      // ceiling 720 s): a Go node dials newly announced providers only at its next round.
      edges.push(await startGoPeer({ version: GO, token, kairos: true, netns: host.ns, bootstrapPeers: lab.bootstrapPeers, extraEnv: { EDGEVPNDHTINTERVAL: '20' } }))
    }
    // Settled edges (relay reservations, /p2p-circuit addresses on the DHT), as in wan.test.ts.
    await lab.waitForRelayAddresses(edges.map((e) => e.peerId))
    // On both edge nodes: whichever dials us first must have the key (two nodes behind the same NAT
    // do not always sync with each other quickly here: no hairpin NAT, docs/wan.md).
    for (const e of edges) await apiPut(e.api, 'wan', 'written-at-the-edge', 'hello-from-the-edge')
    for (const e of edges) await waitForKey(e.api, 'wan', 'written-at-the-edge', '"hello-from-the-edge"', { timeoutMs: 30_000, intervalMs: 250 })
  })

  after(async () => {
    await Promise.all(edges.map((e) => e.stop()))
    await lab?.teardown()
  })

  test('kairosctl maps its port with UPnP and the edge nodes dial the mapped address', async (t) => {
    const host = await lab.addSiteHost(lab.home)
    const seen: string[] = []
    let running = true
    // The mapping lives while kairosctl runs (it is removed when the peer stops).
    const watch = (async () => {
      while (running) {
        for (const m of await lab.upnp!.mappings()) if (!seen.includes(m)) seen.push(m)
        await new Promise((r) => setTimeout(r, 250))
      }
    })()
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
      '--natmap',
      '--timeout',
      '150',
    ])
    running = false
    await watch
    t.diagnostic(`kairosctl ledger get: exit ${r.code} after ${Date.now() - t0} ms`)
    t.diagnostic(`miniupnpd mappings seen: ${seen.join(' | ')}`)
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-6000)}\nminiupnpd:\n${lab.upnp!.logs().slice(-3000)}`)
    assert.match(r.stdout, /hello-from-the-edge/)

    // e.g. `iif "wan0" @nh,72,8 0x6 th dport 34861 dnat ip to 192.168.20.11:34861` (0x6: TCP)
    const mapping = seen.map((l) => /(?:\btcp|@nh,72,8 0x6) .*?dport (\d+) dnat ip to ([\d.]+):(\d+)/.exec(l)).find((m) => m?.[2] === host.ip)
    assert.ok(mapping, `a TCP mapping to ${host.ip}: ${seen.join(' | ')}`)
    const port = Number(mapping[1])
    // An inbound flow from the edge router's public address to the mapped port, forwarded to kairosctl.
    const home = await lab.conntrack(lab.home)
    const inbound = home.filter((e) => e.proto === 'tcp' && e.src === lab.edge.wanIp && e.dst === lab.home.wanIp && e.dport === port && e.replySrc === host.ip)
    t.diagnostic(`home router, inbound flows to ${lab.home.wanIp}:${port}:\n${inbound.map((e) => e.line).join('\n')}`)
    // The edge learnt it from our provider records on the public DHT servers (a round announced
    // before the mapping existed carries only the LAN and loopback addresses).
    const goIds = new Set(edges.map((e) => e.peerId))
    const ours = lab.publicNodes.flatMap((n) => n.events().filter((e) => e.event === 'dht' && e.type === 'ADD_PROVIDER' && !goIds.has(String(e.from))))
    const mapped = ours.filter((e) => Array.isArray(e.addrs) && e.addrs.some((a) => String(a).startsWith(`/ip4/${lab.home.wanIp}/tcp/${port}/`)))
    t.diagnostic(`our ADD_PROVIDER requests: ${ours.length}, ${mapped.length} with the mapped address`)
    // With hole punching, the ledger may come through a punch before a round announced the mapping and an
    // edge node dialled it: then these two are only reported.
    const punched = /hole punch: direct connection/.test(r.stderr)
    if (!punched) {
      assert.ok(mapped.length > 0, `the mapped address in our provider records: ${[...new Set(ours.map((e) => JSON.stringify(e.addrs)))].join(' ')}`)
      assert.ok(inbound.length > 0, `no inbound flow ${lab.edge.wanIp} → ${lab.home.wanIp}:${port}:\n${home.map((e) => e.line).join('\n')}`)
    } else t.diagnostic(`the ledger came through a hole punch first; mapped address announced: ${mapped.length > 0}, inbound flows: ${inbound.length}`)
  })

  test('status --json: reachability public, and the mapped address', async (t) => {
    const host = await lab.addSiteHost(lab.home)
    const t0 = Date.now()
    const r = await kairosctl(host.ns, ['status', '--network-token', token, ...lab.bootstrapTcp.flatMap((a) => ['--bootstrap-peer', a]), '--no-mdns', '--natmap', '--timeout', '150', '--json'], {
      KAIROSCTL_DEBUG: '',
    })
    t.diagnostic(`kairosctl status: exit ${r.code} after ${Date.now() - t0} ms`)
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-6000)}`)
    const s = JSON.parse(r.stdout) as { node: { peerId: string }; nat: { reachability: string; mapped: string[]; observed: string[]; natmap: boolean } }
    t.diagnostic(`nat: ${JSON.stringify(s.nat)}`)
    assert.equal(s.nat.reachability, 'public')
    assert.equal(s.nat.natmap, true)
    assert.ok(
      s.nat.mapped.some((a) => a.startsWith(`/ip4/${lab.home.wanIp}/tcp/`)),
      JSON.stringify(s.nat),
    )
    // (kairosctl also dials the edge nodes' relay addresses; the direct path through the mapping is
    // checked in the test above.)
  })

  test('--no-natmap asks the router for nothing (the ledger then comes through a hole punch)', async (t) => {
    const host = await lab.addSiteHost(lab.home)
    const before = lab.upnp!.logs().length
    const r = await kairosctl(
      host.ns,
      [
        'ledger',
        'get',
        'wan',
        'written-at-the-edge',
        '--network-token',
        token,
        ...lab.bootstrapTcp.flatMap((a) => ['--bootstrap-peer', a]),
        '--no-mdns',
        '--no-natmap',
        '--timeout',
        '90',
        '--verbose',
      ],
      { KAIROSCTL_DEBUG: '' },
    )
    t.diagnostic(`exit ${r.code}: ${r.stderr.trim()}`)
    // Without a mapping the edge nodes cannot dial us; we reach them through a relay and a hole punch.
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /^hole punch: direct connection to /m)
    const mappings = await lab.upnp!.mappings()
    assert.ok(!mappings.some((m) => m.includes(host.ip)), mappings.join('\n'))
    assert.ok(!lab.upnp!.logs().slice(before).includes(host.ip), `miniupnpd heard from ${host.ip}:\n${lab.upnp!.logs().slice(before)}`)
  })
})
