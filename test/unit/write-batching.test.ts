/**
 * batchSocketWrites on a real loopback TCP socket pair, with a stand-in for
 * @libp2p/tcp's connection class: writes of one event-loop turn leave
 * together and in order, back-pressure is signalled and always followed by a
 * 'drain', close sends what is pending first, reset drops it; a Noise
 * connection's messages of one turn are sealed together, in order.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { afterEach, test } from 'node:test'
import { Uint8ArrayList } from 'uint8arraylist'
import { batchSocketWrites } from '../../src/peer/patches/write-batching.js'

/** The parts of @libp2p/tcp's TCPSocketMultiaddrConnection that batching replaces or uses. */
class FakeTcpConnection {
  readonly events: string[] = []
  writeStatus = 'writable'
  closed = false
  reset = false
  constructor(readonly socket: Socket) {
    socket.on('drain', () => this.safeDispatchEvent('drain'))
  }
  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean } {
    let canSendMore = true
    for (const buf of data) canSendMore = this.socket.write(buf)
    return { sentBytes: data.byteLength, canSendMore }
  }
  async sendClose(): Promise<void> {
    this.closed = true
    this.socket.end()
  }
  sendReset(): void {
    this.reset = true
    this.socket.destroy()
  }
  safeDispatchEvent(type: string): void {
    this.events.push(type)
  }
}

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** A connected pair on loopback; `received` resolves with everything the server side read until EOF or close. */
async function pair(): Promise<{ client: Socket; received: Promise<Buffer> }> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const client = connect(port, '127.0.0.1')
  const [accepted] = (await once(server, 'connection')) as [Socket]
  await once(client, 'connect')
  const chunks: Buffer[] = []
  accepted.on('data', (c: Buffer) => chunks.push(c))
  const received = new Promise<Buffer>((resolve) => accepted.once('close', () => resolve(Buffer.concat(chunks))))
  cleanups.push(() => {
    client.destroy()
    accepted.destroy()
    server.close()
  })
  return { client, received }
}

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256)

test('writes of one turn go to the socket together, after the turn, in order', async () => {
  const { client, received } = await pair()
  const conn = new FakeTcpConnection(client)
  batchSocketWrites(conn)
  const writes: number[] = []
  const write = client.write.bind(client)
  client.write = (buf: Uint8Array, ...rest: never[]) => {
    writes.push(buf.byteLength)
    return write(buf, ...rest)
  }
  const parts = [bytes(10, 1), bytes(2, 2), bytes(1500, 3), bytes(12, 4)]
  for (let i = 0; i < parts.length; i += 2) {
    const result = conn.sendData(new Uint8ArrayList(parts[i], parts[i + 1]))
    assert.deepEqual(result, { sentBytes: parts[i].length + parts[i + 1].length, canSendMore: true })
  }
  assert.deepEqual(writes, [], 'nothing is written during the turn')
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(writes, [10, 2, 1500, 12])
  await conn.sendClose()
  assert.deepEqual(new Uint8Array(await received), new Uint8Array(Buffer.concat(parts)))
})

test('a large turn asks the writer to wait, and a drain follows', async () => {
  const { client, received } = await pair()
  const conn = new FakeTcpConnection(client)
  batchSocketWrites(conn)
  const total = 600 * 1024
  let sent = 0
  let canSendMore = true
  while (canSendMore && sent < total) {
    const r = conn.sendData(new Uint8ArrayList(bytes(16 * 1024, sent)))
    sent += r.sentBytes
    canSendMore = r.canSendMore
  }
  assert.equal(canSendMore, false, 'back-pressure before 600 KiB in one turn')
  assert.ok(sent < total)
  const end = Date.now() + 5_000
  while (!conn.events.includes('drain')) {
    assert.ok(Date.now() < end, 'a drain must follow')
    await new Promise((r) => setTimeout(r, 5))
  }
  await conn.sendClose()
  assert.equal((await received).length, sent)
})

test('close sends what is pending first; reset drops it', async () => {
  const a = await pair()
  const closing = new FakeTcpConnection(a.client)
  batchSocketWrites(closing)
  closing.sendData(new Uint8ArrayList(bytes(100, 9)))
  await closing.sendClose()
  assert.equal(closing.closed, true)
  assert.equal((await a.received).length, 100)

  const b = await pair()
  const resetting = new FakeTcpConnection(b.client)
  batchSocketWrites(resetting)
  resetting.sendData(new Uint8ArrayList(bytes(100, 9)))
  resetting.sendReset()
  assert.equal(resetting.reset, true)
  assert.equal((await b.received).length, 0)
})

/** A stand-in for @libp2p/noise's connection: "sealing" numbers each message, so order and count show. */
class FakeNoise {
  sealed = 0
  constructor(readonly stream: FakeTcpConnection) {}
  encrypt(chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList {
    const plain = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    return new Uint8ArrayList(Uint8Array.of(0xee, ++this.sealed, plain.length >> 8, plain.length & 0xff), plain)
  }
  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean } {
    return this.stream.sendData(this.encrypt(data))
  }
}

test("a Noise connection's writes of one turn are sealed as one message, in order with the raw ones", async () => {
  const { client, received } = await pair()
  const conn = new FakeTcpConnection(client)
  const noise = new FakeNoise(conn)
  assert.equal(batchSocketWrites(conn)!.mergeNoise(noise), true)
  conn.sendData(new Uint8ArrayList(bytes(3, 1))) // e.g. the end of the handshake, written raw
  for (let i = 0; i < 5; i++) noise.sendData(new Uint8ArrayList(bytes(12, i), bytes(100, i)))
  assert.equal(noise.sealed, 0, 'nothing is sealed during the turn')
  await new Promise((r) => setImmediate(r))
  assert.equal(noise.sealed, 1, 'five writes, one message')
  // The connection starts to close: what is merged is sealed before the late write.
  noise.sendData(new Uint8ArrayList(bytes(7, 7)))
  conn.writeStatus = 'closing'
  noise.sendData(new Uint8ArrayList(bytes(9, 9)))
  assert.equal(noise.sealed, 3)
  await conn.sendClose()
  const merged = Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.concat([bytes(12, i), bytes(100, i)])))
  const expected = Buffer.concat([bytes(3, 1), Buffer.of(0xee, 1, 560 >> 8, 560 & 0xff), merged, Buffer.of(0xee, 2, 0, 7), bytes(7, 7), Buffer.of(0xee, 3, 0, 9), bytes(9, 9)])
  assert.deepEqual(new Uint8Array(await received), new Uint8Array(expected))
})

test('anything that is not a TCP connection is left alone', () => {
  const other = { sendData: () => ({ sentBytes: 0, canSendMore: true }) }
  const before = other.sendData
  batchSocketWrites(other)
  assert.equal(other.sendData, before)
})
