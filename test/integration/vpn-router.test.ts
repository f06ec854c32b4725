/**
 * Two of our hosts on loopback route IP packets to each other through the
 * VPN router, with in-memory TUN devices: every packet arrives, in order, in
 * both send modes; the reuse mode opens one stream; a peer that is not in the
 * machines bucket is refused; the link to a peer that stops is dropped.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { VpnRouter, type SendMode } from '../../src/vpn/router.js'
import type { Tun } from '../../src/vpn/tun/index.js'
import { host, identified, MemoryTun, packet, seqOf, until } from '../helpers/vpn.js'

for (const mode of ['reuse', 'per-packet'] as SendMode[]) {
  test(`${mode}: 2000 packets arrive whole and in order`, async (t) => {
    const [a, b] = [await host(), await host()]
    t.after(() => Promise.all([a.stop(), b.stop()]))
    const [ta, tb] = [new MemoryTun(), new MemoryTun()]
    const ra = new VpnRouter({
      host: a,
      tun: ta as unknown as Tun,
      route: (ip) => (ip === '10.1.0.2' ? b.peerId.toString() : undefined),
      accept: () => true,
      sendMode: mode,
      queueLimit: 256,
      log: console.log,
    })
    const rb = new VpnRouter({ host: b, tun: tb as unknown as Tun, route: () => undefined, accept: (id) => id === a.peerId.toString() })
    await ra.start()
    await rb.start()
    t.after(async () => {
      await ra.stop()
      await rb.stop()
      await ta.close()
      await tb.close()
    })
    await a.dial(b.getMultiaddrs()[0])
    await identified(a, b)
    // Bursts of 100, as a TCP sender's window would send them.
    const n = 2000
    for (let i = 0; i < n; i += 100) {
      for (let j = i; j < i + 100; j++) ta.inject(packet(j))
      await until(() => tb.written.length >= i + 100 || ra.stats.droppedSendError + ra.stats.droppedQueueFull > 0, `burst ${i / 100 + 1}`)
    }
    await until(() => tb.written.length === n, `${n} packets (got ${tb.written.length}; sender ${JSON.stringify(ra.stats)}, receiver ${JSON.stringify(rb.stats)})`)
    assert.ok(
      tb.written.every((p) => p.length === 1200),
      'every packet whole',
    )
    const seqs = tb.written.map(seqOf)
    if (mode === 'reuse') {
      assert.deepEqual(
        seqs,
        Array.from({ length: n }, (_, i) => i),
        'in order',
      )
      assert.equal(ra.stats.streamsOpened, 1)
    } else {
      assert.deepEqual(
        [...seqs].sort((x, y) => x - y),
        Array.from({ length: n }, (_, i) => i),
        'each exactly once',
      )
      assert.equal(ra.stats.streamsOpened, n)
    }
    assert.equal(ra.stats.sent, n)
    assert.equal(rb.stats.received, n)
    assert.deepEqual(ra.peerTraffic.get(b.peerId.toString()), { packetsOut: n, bytesOut: n * 1200, packetsIn: 0, bytesIn: 0 })
    assert.deepEqual(rb.peerTraffic.get(a.peerId.toString()), { packetsOut: 0, bytesOut: 0, packetsIn: n, bytesIn: n * 1200 })
    // Unknown destinations are dropped, not sent.
    ta.inject(packet(n, '10.1.0.9'))
    await until(() => ra.stats.droppedNoRoute === 1, 'the unroutable packet')
    if (mode === 'reuse') {
      // The link to a peer that went away is dropped.
      assert.equal(ra.linkCount, 1)
      await b.stop()
      await until(() => ra.linkCount === 0, 'the link to the stopped peer to be dropped', 10_000)
    }
  })
}

test('streams from a peer without a machines entry are refused', async (t) => {
  const [a, b] = [await host(), await host()]
  t.after(() => Promise.all([a.stop(), b.stop()]))
  const [ta, tb] = [new MemoryTun(), new MemoryTun()]
  const ra = new VpnRouter({ host: a, tun: ta as unknown as Tun, route: () => b.peerId.toString(), accept: () => true })
  const rb = new VpnRouter({ host: b, tun: tb as unknown as Tun, route: () => undefined, accept: () => false })
  await ra.start()
  await rb.start()
  t.after(async () => {
    await ra.stop()
    await rb.stop()
  })
  await a.dial(b.getMultiaddrs()[0])
  for (let i = 0; i < 5; i++) ta.inject(packet(i))
  await until(() => rb.stats.rejectedStreams >= 1, 'the refusal')
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(tb.written.length, 0)
})
