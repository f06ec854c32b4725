/**
 * TUN throughput and latency, per I/O mode (root; runs in a throw-away network namespace).
 *
 * In namespace kctl-<pid>-<rand>, a "device" process opens ktun0 (10.99.0.1/24,
 * MTU 1500) with src/vpn/tun/index.ts and a "client" process uses a UDP socket:
 *   - echo:  the device reads each UDP packet for 10.99.0.2, swaps addresses and
 *            ports (checksums stay valid) and writes it back; the client keeps
 *            W datagrams in flight and measures replies/s and round trips;
 *   - read:  the client sends as fast as it can; the device only reads (reads/s);
 *   - write: the device writes datagrams for the client's socket as fast as it
 *            can (writes/s; the client counts what arrives).
 * Prints one JSON line per run. Usage:
 *   node --import tsx bench/tun.ts [seconds=3]
 * Env: BENCH_IO="event threadpool".
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { openTun, type TunIo } from '../src/vpn/tun/index.js'

const SELF = fileURLToPath(import.meta.url)
const DEVICE_IP = '10.99.0.1'
const PEER_IP = '10.99.0.2'
const PORT = 7777
const CLIENT_PORT = 7000

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`)
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))] : NaN)

function checksum(bytes: Uint8Array): number {
  let sum = 0
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1]
  if (bytes.length % 2) sum += bytes[bytes.length - 1] << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** UDP/IPv4 from PEER_IP:PORT to DEVICE_IP:CLIENT_PORT, checksums valid. */
function datagram(size: number): Uint8Array {
  const p = new Uint8Array(28 + size)
  const v = new DataView(p.buffer)
  p[0] = 0x45
  v.setUint16(2, p.length)
  p[8] = 64
  p[9] = 17
  p.set(PEER_IP.split('.').map(Number), 12)
  p.set(DEVICE_IP.split('.').map(Number), 16)
  v.setUint16(10, checksum(p.subarray(0, 20)))
  v.setUint16(20, PORT)
  v.setUint16(22, CLIENT_PORT)
  v.setUint16(24, 8 + size)
  const pseudo = new Uint8Array(12 + 8 + size)
  pseudo.set(p.subarray(12, 20), 0)
  pseudo[9] = 17
  new DataView(pseudo.buffer).setUint16(10, 8 + size)
  pseudo.set(p.subarray(20), 12)
  v.setUint16(26, checksum(pseudo) || 0xffff)
  return p
}

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

async function device(io: TunIo, mode: string): Promise<void> {
  const tun = await openTun({ name: 'ktun0', mtu: 1500, address: `${DEVICE_IP}/24`, io })
  let packets = 0
  let t0 = 0
  let cpu0 = 0
  const start = () => {
    t0 = performance.now()
    cpu0 = cpuMs()
  }
  const report = () => {
    const s = (performance.now() - t0) / 1000
    say({ event: 'device', io: tun.io, mode, packets, perSecond: Math.round(packets / s), cpuPercent: Math.round((cpuMs() - cpu0) / 10 / s) })
  }
  say({ event: 'ready' })
  const lines = createInterface({ input: process.stdin })
  let stopping = false
  lines.on('line', (line) => {
    if (line === 'start' && mode === 'write') start()
    if (line === 'stop') {
      stopping = true
      report()
      void tun.close()
    }
  })
  if (mode === 'write') {
    const packet = datagram(64)
    await new Promise<void>((resolve) => lines.once('line', () => resolve()))
    while (!stopping) {
      for (let i = 0; i < 256; i++) {
        await tun.write(packet)
        packets++
      }
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return
  }
  for await (const p of tun) {
    if (packets === 0) start() // timed from the first packet
    if (mode === 'echo' && p[9] === 17) {
      // Swap addresses and ports: both checksums stay valid.
      const src = p.slice(12, 16)
      p.copyWithin(12, 16, 20)
      p.set(src, 16)
      const sport = p.slice(20, 22)
      p.copyWithin(20, 22, 24)
      p.set(sport, 22)
      await tun.write(p)
    }
    packets++
  }
  lines.close()
}

async function client(mode: string, window: number, seconds: number): Promise<void> {
  const sock = createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(CLIENT_PORT, DEVICE_IP, resolve))
  const payload = Buffer.alloc(64)
  let sent = 0
  let received = 0
  const rtts: number[] = []
  const times = new Map<number, number>()
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  const send = () => {
    const seq = sent++
    payload.writeUInt32BE(seq, 0)
    if (mode === 'echo') times.set(seq, performance.now())
    sock.send(payload, PORT, PEER_IP)
  }
  sock.on('message', (msg) => {
    received++
    if (mode !== 'echo') return
    const seq = msg.readUInt32BE(0)
    const t = times.get(seq)
    if (t !== undefined) {
      times.delete(seq)
      if (rtts.length < 200_000) rtts.push(performance.now() - t)
    }
    if (performance.now() < end) send()
  })
  if (mode === 'echo') {
    for (let i = 0; i < window; i++) send()
    // Lost datagrams would shrink the window: top it up.
    const topUp = setInterval(() => {
      const now = performance.now()
      for (const [seq, t] of times) if (now - t > 200) times.delete(seq)
      while (times.size < window && now < end) send()
    }, 100)
    await new Promise((r) => setTimeout(r, seconds * 1000 + 300))
    clearInterval(topUp)
  } else if (mode === 'read') {
    while (performance.now() < end) {
      for (let i = 0; i < 64; i++) send()
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  } else {
    await new Promise((r) => setTimeout(r, seconds * 1000))
  }
  const s = (performance.now() - t0) / 1000
  say({
    event: 'client',
    mode,
    window,
    sent,
    received,
    perSecond: Math.round((mode === 'read' ? sent : received) / s),
    rttP50us: Math.round(pct(rtts, 0.5) * 1000),
    rttP99us: Math.round(pct(rtts, 0.99) * 1000),
  })
  sock.close()
}

function lineReader(child: ChildProcess): (what: string, timeoutMs: number) => Promise<Record<string, unknown>> {
  const queue: Record<string, unknown>[] = []
  let wake: (() => void) | undefined
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      queue.push(JSON.parse(l) as Record<string, unknown>)
    } catch {
      process.stderr.write(`${l}\n`)
    }
    wake?.()
  })
  child.once('exit', () => wake?.())
  return async (what, timeoutMs) => {
    const deadline = Date.now() + timeoutMs
    while (queue.length === 0) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${what} (exit ${child.exitCode})`)
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, 100)
      })
    }
    return queue.shift()!
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3)
  const ns = `kctl-${process.pid}-${randomBytes(3).toString('hex')}`
  const children: ChildProcess[] = []
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 })
    } catch {
      /* gone */
    }
  }
  process.once('exit', cleanup)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130))
  execFileSync('ip', ['netns', 'add', ns], { timeout: 10_000 })
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { timeout: 10_000 })
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', SELF, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    })
    children.push(c)
    return c
  }
  const ios = (process.env.BENCH_IO ?? 'event threadpool').split(/\s+/) as TunIo[]
  const plans: [string, number][] = [
    ['echo', 1],
    ['echo', 64],
    ['read', 0],
    ['write', 0],
  ]
  try {
    for (const io of ios) {
      for (const [mode, window] of plans) {
        const dev = run(['device', io, mode])
        const devNext = lineReader(dev)
        await devNext('ready', 20_000)
        dev.stdin.write('start\n')
        const cli = run(['client', mode, String(window), String(seconds)])
        const cliNext = lineReader(cli)
        const result = await cliNext('client result', seconds * 1000 + 20_000)
        dev.stdin.write('stop\n')
        const devResult = await devNext('device result', 10_000)
        say({ io, mode, window, client: result, device: devResult })
        await Promise.race([new Promise((r) => dev.once('exit', r)), new Promise((r) => setTimeout(r, 5_000))])
        if (dev.exitCode === null) dev.kill('SIGKILL')
      }
    }
  } finally {
    cleanup()
  }
}

const [role, a, b, c] = process.argv.slice(2)
if (role === 'device') await device(a as TunIo, b)
else if (role === 'client') await client(a, Number(b), Number(c))
else await main()
