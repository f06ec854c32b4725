/**
 * The bridge dashboard in a real headless Chromium, in a namespace next to
 * the bridge (TUN) and Go v0.35.3 VPN nodes: the page loads, shows the Go
 * node's machine, counts the VPN packets of a ping per peer, shows a value
 * written with EdgeVPN's client decoded, offers no write controls, and shows
 * a second Go node once it joins, without a reload; with --api-allow-writes
 * it puts and deletes keys. Screenshots are kept in test-artifacts/.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { launchChromium, requireChromium } from '../helpers/chromium.js'
import { apiGet, apiMachines, apiPut, generateGoToken, requireGoPeer, startGoPeer, waitForKey } from '../helpers/go-peer.js'
import { createNetwork, requireNetns, type TestNetwork } from '../helpers/netns.js'
import { waitFor, waitUntil } from '../helpers/wait.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const VERSION = 'v0.35.3'

interface PageState {
  loadId: unknown
  mode: string
  machines: { address: string; text: string; live: boolean }[]
  peers: { peer: string; packetsOut: number; packetsIn: number }[]
  writeControls: number
  buckets: string[]
  entries: { key: string; text: string; decoded: boolean }[]
}

/** What the page shows, read from its DOM. */
const STATE = `(() => ({
  loadId: window.__loadId ?? null,
  mode: document.getElementById('mode').textContent,
  machines: [...document.querySelectorAll('#machines-body tr')].map((r) => ({ address: r.dataset.address, text: r.innerText, live: !!r.querySelector('td.live') })),
  peers: [...document.querySelectorAll('#peers-body tr')].map((r) => ({ peer: r.dataset.peer, packetsOut: Number(r.dataset.packetsOut ?? -1), packetsIn: Number(r.dataset.packetsIn ?? -1) })),
  writeControls: [...document.querySelectorAll('#put, #put button, button.danger')].filter((e) => e.getClientRects().length > 0).length,
  buckets: [...document.querySelectorAll('[data-bucket]')].map((b) => b.dataset.bucket),
  entries: [...document.querySelectorAll('#entries-body tr')].map((r) => ({ key: r.dataset.key, text: r.querySelector('pre').textContent, decoded: !!r.querySelector('.decoded') })),
}))()`

/**
 * Starts the bridge in `ns` with its API on that namespace's loopback, waits
 * until the Go node at `goApi` lists it, and opens the dashboard in Chromium
 * running in the same namespace (so the browser reaches nothing outside the
 * test network).
 */
async function bridgeWithPage(t: TestContext, net: TestNetwork, ns: string, token: string, goApi: string, chromium: string, args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'kctl-dash-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  let out = ''
  const bridge: ChildProcess = net.spawn(
    ns,
    process.execPath,
    [BIN, 'bridge', '--network-token', token, '--no-dht', '--identity', join(dir, 'identity'), '--api', '127.0.0.1:8080', '--ownership-ttl', '120', '--listen', '/ip4/0.0.0.0/tcp/0', ...args],
    { env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  bridge.stdout?.on('data', (d) => (out += d))
  bridge.stderr?.on('data', (d) => (out += d))
  await waitUntil(async () => (await apiMachines(goApi)).some((m) => m.Address === '10.1.0.254'), {
    timeoutMs: 60_000,
    intervalMs: 500,
    what: `the bridge in the Go node's machines (bridge output: ${out.slice(-500)})`,
  })
  const browser = await launchChromium({ net, ns, binary: chromium, width: 1280, height: 1000 })
  t.after(() => browser.close())
  await browser.navigate('http://127.0.0.1:8080/')
  await browser.evaluate('window.__loadId = 1')
  const state = (): Promise<PageState> => browser.evaluate<PageState>(STATE)
  const until = <T>(what: string, probe: (s: PageState) => T | undefined | false, timeoutMs = 30_000): Promise<T> =>
    waitFor(async () => probe(await state()), { timeoutMs, intervalMs: 250, what: `the page to show ${what}` })
  return { browser, state, until }
}

test('dashboard in headless Chromium: Go machines, traffic per peer, decoded values, live updates', async (t) => {
  const chromium = requireChromium(t)
  if (!chromium || !requireNetns(t) || !requireGoPeer(VERSION, t)) return
  const net = await createNetwork({ count: 3, t })
  const [n0, n1, n2] = net.nodes
  const token = generateGoToken({ version: VERSION })
  const a = await startGoPeer({ version: VERSION, token, netns: n0.ns, mdns: true, vpnAddress: '10.1.0.1/24', ownership: 'enforce', t })
  const { browser, state, until } = await bridgeWithPage(t, net, n2.ns, token, a.api, chromium, [])

  // The Go node's machine entry, live, next to ours.
  const goRow = await until("the Go node's machine", (s) => s.machines.find((m) => m.address === '10.1.0.1'))
  assert.ok(goRow.text.includes(a.peerId.slice(-8)), goRow.text)
  assert.ok(goRow.text.includes(VERSION), goRow.text)
  await until('both machines live', (s) => s.machines.filter((m) => m.live).length === 2)
  const first = await state()
  assert.equal(first.mode, 'read-only')
  assert.equal(first.writeControls, 0, 'no write controls without --api-allow-writes')

  // A ping over the VPN shows in the Go node's traffic counters.
  await waitUntil(() => net.ping(n2.ns, '10.1.0.1', { timeoutS: 1 }), { timeoutMs: 60_000, intervalMs: 500, what: 'a ping from the bridge to the Go node' })
  assert.ok(await net.ping(n2.ns, '10.1.0.1', { count: 5, timeoutS: 2 }), 'five pings answered')
  const traffic = await until('VPN packets to and from the Go node', (s) => s.peers.find((p) => p.peer === a.peerId && p.packetsOut >= 6 && p.packetsIn >= 6))
  t.diagnostic(`Go node's traffic on the page: ${traffic.packetsOut} packets out, ${traffic.packetsIn} in`)

  // A value written with EdgeVPN's client (base64 of JSON) is shown decoded.
  await apiPut(a.api, 'kairos', 'ip', Buffer.from(JSON.stringify('10.1.0.1')).toString('base64'))
  await until('the kairos bucket', (s) => s.buckets.includes('kairos'))
  await browser.evaluate(`document.querySelector('[data-bucket="kairos"]').click()`)
  const entry = await until('the decoded value', (s) => s.entries.find((e) => e.key === 'ip'))
  assert.deepEqual(entry, { key: 'ip', text: '10.1.0.1', decoded: true })
  assert.equal((await state()).writeControls, 0, 'no write controls on a bucket either')

  // A second Go node joins: the page shows it without being reloaded.
  const b = await startGoPeer({ version: VERSION, token, netns: n1.ns, mdns: true, vpnAddress: '10.1.0.2/24', ownership: 'enforce', t })
  const bRow = await until('the second Go node', (s) => s.loadId === 1 && s.machines.find((m) => m.address === '10.1.0.2' && m.live), 60_000)
  assert.ok(bRow.text.includes(b.peerId.slice(-8)), bRow.text)
  const last = await state()
  assert.equal(last.loadId, 1, 'the page was not reloaded')
  assert.deepEqual(
    last.machines.map((m) => m.address),
    ['10.1.0.1', '10.1.0.2', '10.1.0.254'],
  )

  mkdirSync(ARTIFACTS, { recursive: true })
  const shot = join(ARTIFACTS, 'dashboard.png')
  await browser.screenshot(shot)
  t.diagnostic(`screenshot: ${shot}`)
})

test('dashboard with --api-allow-writes: a value put on the page reaches a Go node as its client writes it, and is deleted', async (t) => {
  const chromium = requireChromium(t)
  if (!chromium || !requireNetns(t) || !requireGoPeer(VERSION, t)) return
  const net = await createNetwork({ count: 2, t })
  const [n0, n1] = net.nodes
  const token = generateGoToken({ version: VERSION })
  const a = await startGoPeer({ version: VERSION, token, netns: n0.ns, mdns: true, ownership: 'enforce', t })
  const { browser, state, until } = await bridgeWithPage(t, net, n1.ns, token, a.api, chromium, ['--no-tun', '--api-allow-writes'])
  await until('write mode', (s) => s.mode === 'writes allowed' && s.writeControls >= 2)
  await browser.evaluate(`(() => {
    document.getElementById('put-bucket').value = 'kairos'
    document.getElementById('put-key').value = 'greeting'
    document.getElementById('put-value').value = 'hello'
    document.getElementById('put-encode').checked = true
    document.getElementById('put').requestSubmit()
  })()`)
  // Base64 of the JSON "hello", as EdgeVPN's Go client stores it.
  await waitForKey(a.api, 'kairos', 'greeting', JSON.stringify(Buffer.from('"hello"').toString('base64')))
  assert.deepEqual(await until('the new value, decoded', (s) => s.entries.find((e) => e.key === 'greeting')), { key: 'greeting', text: 'hello', decoded: true })
  mkdirSync(ARTIFACTS, { recursive: true })
  const shot = join(ARTIFACTS, 'dashboard-writes.png')
  await browser.screenshot(shot)
  t.diagnostic(`screenshot: ${shot}`)
  await browser.evaluate(`document.querySelector('tr[data-key="greeting"] button.danger').click()`)
  await waitUntil(async () => (await apiGet(a.api, 'kairos', 'greeting')) === '', { timeoutMs: 30_000, intervalMs: 250, what: 'the Go node to see the key deleted' })
  assert.equal((await state()).loadId, 1)
})
