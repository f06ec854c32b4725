/**
 * TUN device end to end, inside a fresh network namespace (root only).
 *
 * This file is also the worker: with KCTL_TUN_WORKER set, it runs inside the
 * namespace instead of defining tests. The worker opens the TUN (10.99.0.1/24)
 * with our code, reports every packet it reads (one JSON line each), answers
 * ICMP echo requests for 10.99.0.2 with replies it crafts and writes, and on
 * `inject <port>` writes a UDP datagram from 10.99.0.2 to 10.99.0.1:<port>
 * that a socket of its own must receive. On `close` it closes the TUN and
 * must then exit by itself, with nothing left pending.
 *
 * The pure parts (errno mapping, ifreq layout, option checks) are unit tests:
 * test/unit/tun/.
 */
import assert from 'node:assert/strict'
import { spawn as spawnChild, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ExitCode, UserError } from '../../src/errors.js'
import { ipDestination, ipSource } from '../../src/vpn/packet.js'
import { openTun, type TunIo } from '../../src/vpn/tun/index.js'

const SELF = fileURLToPath(import.meta.url)
const TUN_NAME = 'ktun0'
const TUN_ADDRESS = '10.99.0.1/24'
const PEER = '10.99.0.2'

// ---------------------------------------------------------------- packets

function checksum(bytes: Uint8Array, initial = 0): number {
  let sum = initial
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1]
  if (bytes.length % 2) sum += bytes[bytes.length - 1] << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

function ip4(text: string): number[] {
  return text.split('.').map(Number)
}

function ipv4Header(src: string, dst: string, protocol: number, payloadLength: number): Uint8Array {
  const h = new Uint8Array(20)
  const view = new DataView(h.buffer)
  h[0] = 0x45
  view.setUint16(2, 20 + payloadLength)
  view.setUint16(4, 0x1234)
  h[8] = 64
  h[9] = protocol
  h.set(ip4(src), 12)
  h.set(ip4(dst), 16)
  view.setUint16(10, checksum(h))
  return h
}

/** A UDP/IPv4 datagram with valid IP and UDP checksums. */
function udp4(src: string, sport: number, dst: string, dport: number, data: Uint8Array): Uint8Array {
  const udp = new Uint8Array(8 + data.length)
  const view = new DataView(udp.buffer)
  view.setUint16(0, sport)
  view.setUint16(2, dport)
  view.setUint16(4, udp.length)
  udp.set(data, 8)
  const pseudo = new Uint8Array(12 + udp.length)
  pseudo.set(ip4(src), 0)
  pseudo.set(ip4(dst), 4)
  pseudo[9] = 17
  new DataView(pseudo.buffer).setUint16(10, udp.length)
  pseudo.set(udp, 12)
  view.setUint16(6, checksum(pseudo) || 0xffff)
  const packet = new Uint8Array(20 + udp.length)
  packet.set(ipv4Header(src, dst, 17, udp.length), 0)
  packet.set(udp, 20)
  return packet
}

/** The echo reply to an ICMPv4 echo request (addresses swapped, checksums recomputed). */
function icmpEchoReply(request: Uint8Array): Uint8Array {
  const ihl = (request[0] & 0x0f) * 4
  const icmp = request.slice(ihl)
  icmp[0] = 0 // echo reply
  icmp[2] = icmp[3] = 0
  new DataView(icmp.buffer).setUint16(2, checksum(icmp))
  const reply = new Uint8Array(20 + icmp.length)
  reply.set(ipv4Header(ipDestination(request)!, ipSource(request)!, 1, icmp.length), 0)
  reply.set(icmp, 20)
  return reply
}

// ---------------------------------------------------------------- worker

async function worker(mode: string): Promise<void> {
  const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`)
  if (mode === 'noperm') {
    try {
      const tun = await openTun({ name: TUN_NAME, mtu: 1400, address: TUN_ADDRESS })
      await tun.close()
      say({ event: 'opened' })
    } catch (err) {
      const e = err as UserError
      say({ event: 'error', name: e.name, exitCode: e.exitCode, line: typeof e.line === 'function' ? e.line() : e.message })
    }
    return
  }
  const tun = await openTun({ name: TUN_NAME, mtu: 1400, address: TUN_ADDRESS, io: mode as TunIo })
  say({ event: 'ready', name: tun.name, fd: tun.fd, io: tun.io })
  const loop = tun.onPacket(async (packet) => {
    const proto = packet[0] >> 4 === 4 ? packet[9] : null
    say({ event: 'packet', src: ipSource(packet), dst: ipDestination(packet), proto, length: packet.length })
    if (proto === 1 && ipDestination(packet) === PEER && packet[(packet[0] & 0x0f) * 4] === 8) {
      await tun.write(icmpEchoReply(packet))
    }
  })
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    const [cmd, arg] = line.trim().split(/\s+/)
    if (cmd === 'inject') {
      const port = Number(arg)
      const sock = createSocket('udp4')
      await new Promise<void>((resolve) => sock.bind(port, TUN_ADDRESS.split('/')[0], resolve))
      const got = new Promise<{ data: string; from: string }>((resolve) => sock.once('message', (msg, rinfo) => resolve({ data: msg.toString(), from: `${rinfo.address}:${rinfo.port}` })))
      await tun.write(udp4(PEER, 5555, TUN_ADDRESS.split('/')[0], port, new TextEncoder().encode('hello through the tun')))
      let timer: NodeJS.Timeout | undefined
      const result = await Promise.race([got, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 3_000)))])
      clearTimeout(timer)
      sock.close()
      say({ event: 'udp', received: result })
    } else if (cmd === 'close') {
      const t0 = performance.now()
      await tun.close()
      await loop
      say({ event: 'closed', ms: Math.round(performance.now() - t0), fd: tun.fd })
      lines.close()
      process.stdin.destroy()
    }
  }
  // Nothing else: the process must now exit by itself (no pending read may hold it).
}

if (process.env.KCTL_TUN_WORKER) {
  await worker(process.env.KCTL_TUN_WORKER)
} else {
  await defineTests()
}

// ---------------------------------------------------------------- tests

async function defineTests(): Promise<void> {
  const { test } = await import('node:test')
  const { createNetwork, requireNetns } = await import('../helpers/netns.js')

  interface Worker {
    child: ChildProcess
    next(predicate: (e: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>
    events: Record<string, unknown>[]
    stderr(): string
    exited: Promise<number | null>
  }

  function attach(child: ChildProcess): Worker {
    const events: Record<string, unknown>[] = []
    const listeners = new Set<() => void>()
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        events.push(JSON.parse(line))
      } catch {
        err += `${line}\n`
      }
      for (const l of listeners) l()
    })
    return {
      child,
      events,
      exited,
      stderr: () => err,
      next(predicate, what, timeoutMs = 10_000) {
        return new Promise((resolve, reject) => {
          let seen = 0
          const check = () => {
            for (; seen < events.length; seen++) {
              if (predicate(events[seen])) {
                done()
                return resolve(events[seen])
              }
            }
          }
          const timer = setTimeout(() => {
            done()
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${err.slice(-2000)}`))
          }, timeoutMs)
          const done = () => {
            clearTimeout(timer)
            listeners.delete(check)
          }
          listeners.add(check)
          void exited.then((code) => {
            if (!listeners.has(check)) return
            check()
            if (!listeners.has(check)) return
            done()
            reject(new Error(`worker exited (${code}) while waiting for ${what}; stderr: ${err.slice(-2000)}`))
          })
          check()
        })
      },
    }
  }

  for (const io of ['event', 'threadpool'] as const) {
    test(`TUN read and write in a namespace (${io} I/O)`, { timeout: 60_000 }, async (t) => {
      if (!requireNetns(t)) return
      const net = await createNetwork({ count: 1, t })
      const ns = net.nodes[0].ns
      const child = net.spawn(ns, process.execPath, ['--import', 'tsx', SELF], {
        stdio: ['pipe', 'pipe', 'pipe'],
        cwd: process.cwd(),
        env: { ...process.env, KCTL_TUN_WORKER: io, UV_THREADPOOL_SIZE: '4' },
      })
      const w = attach(child)
      const ready = await w.next((e) => e.event === 'ready', 'the TUN to open', 20_000)
      assert.equal(ready.name, TUN_NAME)
      assert.equal(ready.io, io)
      assert.equal(typeof ready.fd, 'number')

      const link = await net.exec(ns, 'ip', ['-o', 'address', 'show', 'dev', TUN_NAME])
      assert.match(link.stdout, /inet 10\.99\.0\.1\/24/)
      const linkInfo = await net.exec(ns, 'ip', ['-d', '-o', 'link', 'show', 'dev', TUN_NAME])
      assert.match(linkInfo.stdout, /mtu 1400/)
      assert.match(linkInfo.stdout, /tun type tun pi off/)
      assert.match(linkInfo.stdout, /state UNKNOWN|,UP/)

      // Read: the kernel routes pings for 10.99.0.2 into the TUN; write: our crafted replies answer them.
      const ping = await net.exec(ns, 'ping', ['-n', '-c', '3', '-i', '0.2', '-W', '2', PEER], { allowFailure: true, timeoutMs: 15_000 })
      const requests = w.events.filter((e) => e.event === 'packet' && e.proto === 1 && e.dst === PEER)
      assert.ok(requests.length >= 3, `reader saw ${requests.length} ICMP packets for ${PEER}`)
      assert.equal(requests[0].src, '10.99.0.1')
      assert.equal(requests[0].length, 84)
      assert.equal(ping.code, 0, `ping got no replies through our writes: ${ping.stdout}`)
      assert.match(ping.stdout, /3 packets transmitted, 3 received/)

      // Write: a UDP datagram written into the TUN reaches a socket in the namespace (checksums valid).
      child.stdin!.write('inject 40404\n')
      const udp = await w.next((e) => e.event === 'udp', 'the injected datagram')
      assert.deepEqual(udp.received, { data: 'hello through the tun', from: `${PEER}:5555` })

      // Close with a read pending: it returns null, the interface goes, the process exits by itself.
      child.stdin!.write('close\n')
      const closed = await w.next((e) => e.event === 'closed', 'close()')
      assert.equal(closed.fd, -1)
      const t0 = performance.now()
      let timer: NodeJS.Timeout | undefined
      const code = await Promise.race([w.exited, new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 5_000)))])
      clearTimeout(timer)
      assert.notEqual(code, 'hung', `the worker did not exit within 5 s of close() (${io})`)
      assert.equal(code, 0, w.stderr())
      t.diagnostic(`${io}: close() took ${String(closed.ms)} ms, exit ${Math.round(performance.now() - t0)} ms later`)
      const gone = await net.exec(ns, 'ip', ['link', 'show', 'dev', TUN_NAME], { allowFailure: true })
      assert.notEqual(gone.code, 0, `${TUN_NAME} still exists after close()`)
    })
  }

  test('opening without privileges fails with the permission error', { timeout: 60_000 }, async (t) => {
    if (!requireNetns(t)) return
    const probe = spawnChild('setpriv', ['--version'], { stdio: 'ignore' })
    const available = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false))
      probe.once('exit', (code) => resolve(code === 0))
    })
    if (!available) return t.skip('setpriv (util-linux) is not installed')
    const net = await createNetwork({ count: 1, t })
    const ns = net.nodes[0].ns
    const child = net.spawn(ns, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--import', 'tsx', SELF], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: process.cwd(),
      // An unprivileged tsx needs a cache directory it can write.
      env: { ...process.env, KCTL_TUN_WORKER: 'noperm', TSX_DISABLE_CACHE: '1', HOME: '/tmp' },
    })
    const w = attach(child)
    const result = await w.next((e) => e.event === 'error' || e.event === 'opened', 'the unprivileged attempt', 30_000)
    assert.equal(result.event, 'error', 'an unprivileged process created a TUN device')
    assert.equal(result.name, 'UserError')
    assert.equal(result.exitCode, ExitCode.Permission)
    assert.equal(result.line, `creating TUN device ${TUN_NAME} needs root or CAP_NET_ADMIN: run with sudo, or use --no-tun`)
  })
}
