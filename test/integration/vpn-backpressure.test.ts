/**
 * The VPN data plane stays bounded when the other side does not keep up.
 *
 * Outbound: our host sends through a TCP relay on loopback that the test can
 * stop reading, so the receiver stalls as a busy or frozen Go node does (its
 * socket stops being read, the window and then the kernel buffers fill up).
 * However many packets the TUN hands over meanwhile, the link holds at most its
 * queue limit, drops the rest as a full NIC queue does, keeps its stream, and
 * the heap does not grow with the packets offered; once the receiver reads
 * again, packets flow. Several stalls in a row, as sustained load produces.
 *
 * Inbound: a peer that opens VPN streams and never finishes them gets at most
 * MAX_INBOUND_STREAMS of them held open; the rest are reset. A burst of more
 * packets in one turn than TUN_QUEUE_LIMIT: the rest are dropped and counted.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_INBOUND_STREAMS, TUN_QUEUE_LIMIT, VPN_PROTOCOL, VpnRouter } from '../../src/vpn/router.js'
import type { Tun } from '../../src/vpn/tun/index.js'
import { host, identified, MemoryTun, packet, seqOf, until } from '../helpers/vpn.js'

/** A TCP relay to `port` on loopback whose reading from the dialling side can be stopped and resumed. */
async function relay(port: number): Promise<{ port: number; stall(): void; resume(): void; close(): void }> {
  const clients = new Set<net.Socket>()
  const server = net.createServer((client) => {
    clients.add(client)
    const upstream = net.connect(port, '127.0.0.1')
    client.pipe(upstream)
    upstream.pipe(client)
    const end = (): void => {
      client.destroy()
      upstream.destroy()
      clients.delete(client)
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    // unpipe + pause: nothing more is read from the sender's socket until resume.
    stall: () => clients.forEach((c) => c.pause()),
    resume: () => clients.forEach((c) => c.resume()),
    close: () => {
      clients.forEach((c) => c.destroy())
      server.close()
    },
  }
}

const tcpPort = (addr: string): number =>
  Number(
    multiaddr(addr)
      .getComponents()
      .find((c) => c.name === 'tcp')?.value,
  )
const queued = (router: VpnRouter): number => [...router.queueDepths.perPeer.values()].reduce((a, b) => a + b, 0)
const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

test('a stalled receiver: the link queue holds its limit, memory stays flat, sending resumes', async (t) => {
  const [a, b] = [await host(), await host()]
  const [ta, tb] = [new MemoryTun(), new MemoryTun()]
  const limit = 128
  const ra = new VpnRouter({ host: a, tun: ta as unknown as Tun, route: () => b.peerId.toString(), accept: () => true, queueLimit: limit })
  const rb = new VpnRouter({ host: b, tun: tb as unknown as Tun, route: () => undefined, accept: () => true })
  await ra.start()
  await rb.start()
  const r = await relay(tcpPort(b.getMultiaddrs()[0].toString()))
  t.after(async () => {
    r.close()
    await ra.stop()
    await rb.stop()
    await Promise.all([a.stop(), b.stop()])
  })
  await a.dial(multiaddr(`/ip4/127.0.0.1/tcp/${r.port}/p2p/${b.peerId.toString()}`))
  await identified(a, b)

  let seq = 0
  ta.inject(packet(seq++))
  await until(() => tb.written.length === 1, 'the first packet')
  let heapAfterFirstStall = 0
  for (let stall = 1; stall <= 3; stall++) {
    r.stall()
    const arrivedBefore = tb.written.length
    // 20 MB offered while the receiver reads nothing: far more than any window or socket buffer.
    for (let burst = 0; burst < 160; burst++) {
      for (let i = 0; i < 100; i++) ta.inject(packet(seq++))
      await turn()
      assert.ok(queued(ra) <= limit, `stall ${stall}: ${queued(ra)} packets queued, limit ${limit}`)
    }
    await until(() => ra.stats.droppedQueueFull > 0 && ta.pendingCount === 0, `stall ${stall}: the TUN drained into the link`)
    assert.equal(ra.stats.droppedSendError, 0, `stall ${stall}: no send errors`)
    if (stall === 1) heapAfterFirstStall = process.memoryUsage().heapUsed
    else {
      const growth = process.memoryUsage().heapUsed - heapAfterFirstStall
      assert.ok(growth < 48 * 1024 * 1024, `stall ${stall}: heap grew ${(growth / 2 ** 20).toFixed(0)} MiB since the first stall`)
    }
    r.resume()
    await until(() => tb.written.length > arrivedBefore && queued(ra) === 0, `stall ${stall}: the queued packets go out once the receiver reads again`)
    const marker = seq
    ta.inject(packet(seq++))
    await until(() => tb.written.some((p) => new DataView(p.buffer, p.byteOffset).getUint32(20) === marker), `stall ${stall}: a packet sent after the stall arrives`)
  }
  t.diagnostic(`sender ${JSON.stringify(ra.stats)}`)
  assert.equal(ra.stats.streamsOpened, 1, 'one stream throughout: the link never gave up on it')
  assert.ok(ra.stats.drainWaits < 10_000, `${ra.stats.drainWaits} drain waits: each wait ends with a drain`)
})

test(`inbound: at most ${MAX_INBOUND_STREAMS} unfinished VPN streams are held open`, async (t) => {
  const [a, b] = [await host(), await host()]
  const tb = new MemoryTun()
  const rb = new VpnRouter({ host: b, tun: tb as unknown as Tun, route: () => undefined, accept: () => true })
  await rb.start()
  t.after(async () => {
    await rb.stop()
    await Promise.all([a.stop(), b.stop()])
  })
  const connection = await a.dial(b.getMultiaddrs()[0])
  await identified(a, b)
  const extra = 50
  const half = packet(0).subarray(0, 600) // half a packet: the stream stays unfinished
  const opened = []
  for (let i = 0; i < MAX_INBOUND_STREAMS + extra; i++) {
    // A refused stream is reset, before or after its protocol is confirmed.
    const s = await connection.newStream(VPN_PROTOCOL, { maxOutboundStreams: 4096 }).catch(() => undefined)
    if (s?.writeStatus === 'writable') s.send(half)
    if (s) opened.push(s)
  }
  await until(() => rb.stats.inboundStreams + rb.stats.rejectedStreamsBusy === MAX_INBOUND_STREAMS + extra, 'every stream handled')
  assert.equal(rb.stats.inboundStreams, MAX_INBOUND_STREAMS)
  assert.equal(rb.stats.rejectedStreamsBusy, extra)
  assert.equal(tb.written.length, 0, 'no partial packet was delivered')
  // Finished streams free their places.
  for (const s of opened.slice(0, 100)) await s.close().catch(() => s.abort(new Error('done')))
  await until(() => rb.stats.inboundStreams === MAX_INBOUND_STREAMS - 100, 'the places of finished streams released')
})

test(`inbound: at most ${TUN_QUEUE_LIMIT} packets of one turn wait for the TUN device; the rest are dropped and counted`, async (t) => {
  const b = await host()
  const tb = new MemoryTun()
  const rb = new VpnRouter({ host: b, tun: tb as unknown as Tun, route: () => undefined, accept: () => true })
  t.after(() => b.stop())
  // A stream whose one message holds more whole packets than the queue takes, as a burst read at once.
  const stream = new EventTarget() as EventTarget & { remoteWriteStatus: string; close(): Promise<void> }
  stream.remoteWriteStatus = 'open'
  stream.close = async () => {}
  const total = TUN_QUEUE_LIMIT + 88
  const burst = Buffer.concat(Array.from({ length: total }, (_, i) => packet(i, '10.1.0.2', 100)))
  ;(rb as unknown as { inbound(s: unknown, p: unknown): void }).inbound(stream, b.peerId)
  stream.dispatchEvent(Object.assign(new Event('message'), { data: new Uint8Array(burst) }))
  assert.equal(tb.written.length, 0, 'nothing is written during the turn')
  await new Promise((r) => setImmediate(r))
  assert.equal(tb.written.length, TUN_QUEUE_LIMIT)
  assert.equal(rb.stats.droppedTunQueueFull, total - TUN_QUEUE_LIMIT)
  assert.deepEqual(
    tb.written.map(seqOf),
    Array.from({ length: TUN_QUEUE_LIMIT }, (_, i) => i),
    'the first packets, in order',
  )
  // The next turn has the whole queue again.
  stream.dispatchEvent(Object.assign(new Event('message'), { data: packet(total, '10.1.0.2', 100) }))
  await new Promise((r) => setImmediate(r))
  assert.equal(seqOf(tb.written.at(-1)!), total)
})
