/**
 * TCP sockets that dial from the port we listen on (Linux, through koffi).
 *
 * A hole punch over TCP needs both sides to send their SYN from the port the
 * other side was told about: ours is the listen port, since a port-preserving
 * NAT maps it to the same public port whoever we talk to. Node 20 cannot bind
 * a dialling socket to a port its listener holds (no SO_REUSEPORT before Node
 * 22.12, and then only for listeners), so this file does what go-libp2p's
 * reuseport package does with system calls:
 *
 * - `shareListenPort(port)` sets SO_REUSEPORT on the process's listening socket
 *   of that port (found in /proc/self/net/tcp, then among /proc/self/fd). The
 *   kernel reads the flag when another socket binds, so setting it after the
 *   listener was bound is enough;
 * - `dialFromPort(port, host, remotePort)` makes a socket with SO_REUSEADDR
 *   and SO_REUSEPORT, binds it to the listen port, and connects it (a blocking
 *   connect on koffi's worker thread, bounded by SO_SNDTIMEO). A SYN that
 *   crosses the other side's SYN completes as a TCP simultaneous open. The
 *   connected socket becomes a Node `net.Socket`.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { isIPv4, Socket } from 'node:net'

const AF_INET = 2
const SOCK_STREAM = 1
const SOCK_CLOEXEC = 0o2000000
const SOL_SOCKET = 1
const SO_REUSEADDR = 2
const SO_REUSEPORT = 15
const SO_SNDTIMEO = 21

interface Calls {
  socket(domain: number, type: number, protocol: number): number
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number
  bind(fd: number, addr: Buffer, length: number): number
  connect: ((fd: number, addr: Buffer, length: number) => number) & {
    async(fd: number, addr: Buffer, length: number, done: (err: unknown, result: number) => void): void
  }
  close(fd: number): number
  errno(): number
}

let calls: Promise<Calls> | undefined

function load(): Promise<Calls> {
  calls ??= import('koffi').then(({ default: koffi }) => {
    const libc = koffi.load(null)
    return {
      socket: libc.func('int socket(int, int, int)') as Calls['socket'],
      setsockopt: libc.func('int setsockopt(int, int, int, const void *, uint32_t)') as Calls['setsockopt'],
      bind: libc.func('int bind(int, const void *, uint32_t)') as Calls['bind'],
      connect: libc.func('int connect(int, const void *, uint32_t)') as unknown as Calls['connect'],
      close: libc.func('int close(int)') as Calls['close'],
      errno: () => koffi.errno(),
    }
  })
  return calls
}

/** struct sockaddr_in for an IPv4 address and port. */
function sockaddr(host: string, port: number): Buffer {
  const b = Buffer.alloc(16)
  b.writeUInt16LE(AF_INET, 0)
  b.writeUInt16BE(port, 2)
  host.split('.').forEach((octet, i) => b.writeUInt8(Number(octet), 4 + i))
  return b
}

const one = (): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32LE(1)
  return b
}

/** The descriptors of this process's TCP sockets listening on `port` (IPv4). */
export function listeningFds(port: number): number[] {
  const inodes = new Set<string>()
  for (const line of readFileSync('/proc/self/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 10 || cols[3] !== '0A') continue
    if (Number.parseInt(cols[1].split(':')[1], 16) === port) inodes.add(cols[9])
  }
  if (inodes.size === 0) return []
  const fds: number[] = []
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${name}`))
      if (m && inodes.has(m[1])) fds.push(Number(name))
    } catch {
      // closed meanwhile
    }
  }
  return fds
}

/** Lets sockets of ours bind the listen port `port` to dial from it; false when no listener was found. */
export async function shareListenPort(port: number): Promise<boolean> {
  const fds = listeningFds(port)
  if (fds.length === 0) return false
  const c = await load()
  for (const fd of fds) {
    if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one(), 4) !== 0) return false
  }
  return true
}

export class DialFromPortError extends Error {
  constructor(
    readonly step: string,
    readonly errno: number,
  ) {
    super(`${step} failed (errno ${errno})`)
    this.name = 'DialFromPortError'
  }
}

/**
 * Connects to host:remotePort from local port `localPort` (shared with our
 * listener), within timeoutMs; the socket is destroyed if the signal aborts
 * first.
 */
export async function dialFromPort(localPort: number, host: string, remotePort: number, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  if (!isIPv4(host)) throw new Error(`not an IPv4 address: ${host}`)
  const c = await load()
  const fd = c.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
  if (fd < 0) throw new DialFromPortError('socket', c.errno())
  const fail = (step: string): never => {
    const errno = c.errno()
    c.close(fd)
    throw new DialFromPortError(step, errno)
  }
  if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one(), 4) !== 0) fail('SO_REUSEADDR')
  if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one(), 4) !== 0) fail('SO_REUSEPORT')
  const timeval = Buffer.alloc(16)
  timeval.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0)
  timeval.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8)
  if (c.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeval, 16) !== 0) fail('SO_SNDTIMEO')
  if (c.bind(fd, sockaddr('0.0.0.0', localPort), 16) !== 0) fail('bind')
  const result = await new Promise<number>((resolve) => {
    c.connect.async(fd, sockaddr(host, remotePort), 16, (err, r) => resolve(err ? -1 : r))
  })
  if (result !== 0) {
    c.close(fd)
    throw new DialFromPortError('connect', 0)
  }
  if (signal?.aborted) {
    c.close(fd)
    throw new DialFromPortError('connect (aborted)', 0)
  }
  return new Socket({ fd, readable: true, writable: true })
}
