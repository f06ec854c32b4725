/**
 * Linux TUN devices from Node, with nothing but the npm registry: the device
 * is opened with `fs`, attached to an interface with one `ioctl(TUNSETIFF)`
 * called through koffi (an FFI package with prebuilt binaries on npm), and
 * configured (MTU, address, link up) with iproute2's `ip`.
 *
 * I/O (see docs/tun.md for the measurements):
 * - `event` (default): the fd is non-blocking and handed to libuv as a stream
 *   (Node's `pipe_wrap` binding), so packets arrive from the event loop
 *   through epoll, one `read(2)`, hence one packet, per callback. No
 *   threadpool thread is held.
 * - `threadpool` (fallback when `process.binding('pipe_wrap')` is unavailable,
 *   e.g. under `--permission`): a blocking fd read with `fs.read`; each pending
 *   `read()` holds one libuv threadpool thread (UV_THREADPOOL_SIZE, default 4).
 * Writes are one `write(2)` per packet in both modes (a TUN write never
 * blocks: the kernel queues or drops).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs'
import net, { isIP } from 'node:net'
import { endianness } from 'node:os'
import { ExitCode, UsageError, UserError } from '../errors.js'

export type TunIo = 'event' | 'threadpool'

export interface TunOptions {
  /** Interface name, at most 15 bytes (e.g. `kairos0`). */
  name: string
  /** Interface MTU. */
  mtu: number
  /** Address with prefix length, e.g. `10.1.0.254/24` (IPv4 or IPv6); omit to assign one later with addTunAddress. */
  address?: string
  /** I/O mode; default `event`, falling back to `threadpool` when unavailable. Env: KAIROSCTL_TUN_IO. */
  io?: TunIo
  /** Packets read from the device but not yet taken by `read()` before reading pauses (event mode; default 512). */
  queueLimit?: number
}

export interface Tun extends AsyncIterable<Uint8Array> {
  readonly name: string
  /** The device's file descriptor (-1 once closed). */
  readonly fd: number
  readonly mtu: number
  /** The address with prefix length; '' while none is assigned. */
  readonly address: string
  readonly io: TunIo
  readonly closed: boolean
  /** The next packet (one whole IP packet), or null once the device is closed. */
  read(): Promise<Uint8Array | null>
  /** Sends one IP packet into the kernel (exactly one packet per call). */
  write(packet: Uint8Array): Promise<void>
  /** Calls `handler` for each packet, one at a time, until the device is closed. */
  onPacket(handler: (packet: Uint8Array) => void | Promise<void>): Promise<void>
  /** Closes the device; pending and later reads return null; the interface is deleted. Idempotent. */
  close(): Promise<void>
}

/** `struct ifreq` flags. */
export const IFF_TUN = 0x0001
export const IFF_NO_PI = 0x1000
/** `sizeof(struct ifreq)` on 64-bit Linux: 16-byte name + 24-byte union (flags: a short at offset 16). */
export const IFREQ_SIZE = 40
const IFNAMSIZ = 16

/** `_IOW('T', 202, int)`: the write direction bit differs on a few architectures. */
export function tunSetIff(arch: string = process.arch): number {
  return ['mips', 'mipsel', 'mips64', 'mips64el', 'ppc', 'ppc64', 'sparc', 'sparc64'].includes(arch) ? 0x800454ca : 0x400454ca
}

/** The `struct ifreq` for TUNSETIFF: the name (NUL-padded) and IFF_TUN | IFF_NO_PI. */
export function ifreqFor(name: string): Buffer {
  const ifr = Buffer.alloc(IFREQ_SIZE)
  ifr.write(name, 0, IFNAMSIZ - 1, 'utf8')
  // A C short, in the machine's byte order.
  if (endianness() === 'LE') ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, IFNAMSIZ)
  else ifr.writeUInt16BE(IFF_TUN | IFF_NO_PI, IFNAMSIZ)
  return ifr
}

const errnoNames: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 16: 'EBUSY', 19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE' }

/**
 * The operator-facing error for a failure to open `/dev/net/tun` (`step`
 * 'open') or to attach the interface (`step` 'attach', the TUNSETIFF ioctl).
 * `code` is an errno name such as 'EPERM'.
 */
export function tunOpenError(name: string, step: 'open' | 'attach', code: string, cause?: unknown): UserError {
  const what = `creating TUN device ${name}`
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return new UserError(`${what} needs root or CAP_NET_ADMIN`, {
        exitCode: ExitCode.Permission,
        hint: 'run with sudo, or use --no-tun',
        cause,
      })
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return new UserError(`${what} needs /dev/net/tun, which is missing`, {
        hint: 'load the tun kernel module (modprobe tun), or in a container pass the device (--device /dev/net/tun), or use --no-tun',
        cause,
      })
    case 'EBUSY':
      return new UserError(`TUN device ${name} is already in use by another process`, {
        hint: 'stop the other bridge or choose another --interface',
        cause,
      })
    case 'EINVAL':
      if (step === 'attach') {
        return new UserError(`${what} failed: an interface named ${name} already exists and is not a TUN device`, {
          hint: 'choose another --interface',
          cause,
        })
      }
      return new UserError(`${what} failed at opening /dev/net/tun: ${code}`, { cause })
    default:
      return new UserError(`${what} failed at ${step === 'open' ? 'opening /dev/net/tun' : 'TUNSETIFF'}: ${code}`, { cause })
  }
}

/** Checks the options; throws UsageError. */
export function validateTunOptions(options: TunOptions): void {
  const { name, mtu, address } = options
  if (!name || Buffer.byteLength(name) >= IFNAMSIZ || /[\s/:%]/.test(name) || name === '.' || name === '..') {
    throw new UsageError(`invalid interface name ${JSON.stringify(name)}`, 'use 1 to 15 characters without spaces, "/", ":" or "%"')
  }
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new UsageError(`invalid MTU ${mtu}`, 'use an integer from 68 to 65535')
  }
  if (address === undefined) return
  const [ip, prefix, ...extra] = address.split('/')
  const family = isIP(ip ?? '')
  const bits = Number(prefix)
  if (family === 0 || extra.length > 0 || prefix === undefined || !/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128)) {
    throw new UsageError(`invalid interface address ${JSON.stringify(address)}`, 'use an address with a prefix length, e.g. 10.1.0.254/24')
  }
  if (family === 6 && mtu < 1280) throw new UsageError(`invalid MTU ${mtu} for an IPv6 address`, 'IPv6 needs at least 1280')
}

type Ioctl = (fd: number, request: number, ...args: unknown[]) => number
let ioctlFn: { ioctl: Ioctl; errno: () => number } | undefined

async function loadIoctl(): Promise<{ ioctl: Ioctl; errno: () => number }> {
  if (ioctlFn) return ioctlFn
  let koffi: typeof import('koffi').default
  try {
    koffi = (await import('koffi')).default
  } catch (err) {
    throw new UserError('creating a TUN device needs the koffi package, which failed to load', {
      hint: `reinstall kairosctl for this platform (${process.platform}-${process.arch}), or use --no-tun`,
      cause: err,
    })
  }
  // The process's own symbols: glibc or musl, whichever Node is linked with.
  const self = koffi.load(null)
  const ioctl = self.func('int ioctl(int fd, unsigned long request, ...)') as unknown as Ioctl
  ioctlFn = { ioctl, errno: () => koffi.errno() }
  return ioctlFn
}

function ip(args: string[], timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: timeoutMs, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (!err) return resolve()
      const e = err as NodeJS.ErrnoException & { killed?: boolean }
      if (e.code === 'ENOENT') {
        reject(new UserError('configuring the TUN device needs iproute2 (the `ip` command), which is not installed', { hint: 'install iproute2', cause: err }))
      } else {
        const detail = (stderr || e.message).trim().split('\n')[0]
        reject(new UserError(`ip ${args.join(' ')} failed: ${e.killed ? `no answer within ${timeoutMs} ms` : detail}`, { cause: err }))
      }
    })
  })
}

interface PipeHandle {
  open(fd: number): number
}
type PipeCtor = new (type: number) => PipeHandle

/** libuv's pipe handle, which accepts any pollable fd; undefined where `process.binding` is unavailable. */
function pipeWrap(): { Pipe: PipeCtor; SOCKET: number } | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- saved only to be put back unchanged
    const saved = process.emitWarning
    // process.binding is a documentation-only deprecation (DEP0111); keep --pending-deprecation quiet about it.
    process.emitWarning = () => {}
    try {
      const binding = (process as unknown as { binding(name: string): { Pipe: PipeCtor; constants: { SOCKET: number } } }).binding('pipe_wrap')
      if (typeof binding?.Pipe !== 'function' || typeof binding.constants?.SOCKET !== 'number') return undefined
      return { Pipe: binding.Pipe, SOCKET: binding.constants.SOCKET }
    } finally {
      process.emitWarning = saved
    }
  } catch {
    return undefined
  }
}

/**
 * Creates the TUN interface, configures it (MTU, address, link up) and
 * returns it. Errors are UserErrors: missing privileges exit with
 * ExitCode.Permission.
 */
export async function openTun(options: TunOptions): Promise<Tun> {
  validateTunOptions(options)
  if (process.platform !== 'linux') {
    throw new UserError(`creating TUN device ${options.name} is only supported on Linux (this is ${process.platform})`, { hint: 'use --no-tun' })
  }
  const envIo = process.env.KAIROSCTL_TUN_IO
  let io: TunIo = options.io ?? (envIo === 'threadpool' || envIo === 'event' ? envIo : 'event')
  const pipe = io === 'event' ? pipeWrap() : undefined
  if (!pipe) io = 'threadpool'

  const { ioctl, errno } = await loadIoctl()
  let fd: number
  try {
    // libuv opens with O_CLOEXEC, so child processes never hold the device open.
    fd = fs.openSync('/dev/net/tun', fs.constants.O_RDWR | (io === 'event' ? fs.constants.O_NONBLOCK : 0))
  } catch (err) {
    throw tunOpenError(options.name, 'open', (err as NodeJS.ErrnoException).code ?? 'EIO', err)
  }
  const ifr = ifreqFor(options.name)
  if (ioctl(fd, tunSetIff(), 'void *', ifr) < 0) {
    const code = errno()
    fs.closeSync(fd)
    throw tunOpenError(options.name, 'attach', errnoNames[code] ?? `errno ${code}`)
  }
  // The kernel writes back the name it used (it expands patterns such as "tun%d").
  const name = ifr.toString('utf8', 0, IFNAMSIZ).replace(/\0.*$/s, '')

  const tun = io === 'event' ? new EventTun(name, fd, options, pipe!, options.queueLimit ?? 512) : new ThreadpoolTun(name, fd, options)
  try {
    await ip(['link', 'set', 'dev', name, 'mtu', String(options.mtu)])
    if (options.address !== undefined) await ip(['address', 'add', options.address, 'dev', name])
    await ip(['link', 'set', 'dev', name, 'up'])
  } catch (err) {
    await tun.close()
    throw err
  }
  return tun
}

/**
 * Assigns an address (with prefix length) to a device opened without one,
 * e.g. once the bridge's DHCP has picked it.
 */
export async function addTunAddress(tun: Tun, address: string): Promise<void> {
  validateTunOptions({ name: tun.name, mtu: tun.mtu, address })
  if (tun.closed) throw new UserError(`TUN device ${tun.name} is closed`)
  await ip(['address', 'add', address, 'dev', tun.name])
  if (tun instanceof TunBase) tun.address = address
}

abstract class TunBase implements Tun {
  readonly mtu: number
  address: string
  abstract readonly io: TunIo
  protected fdValue: number
  protected isClosed = false
  private closing?: Promise<void>

  constructor(
    readonly name: string,
    fd: number,
    options: TunOptions,
  ) {
    this.fdValue = fd
    this.mtu = options.mtu
    this.address = options.address ?? ''
  }

  get fd(): number {
    return this.fdValue
  }

  get closed(): boolean {
    return this.isClosed
  }

  abstract read(): Promise<Uint8Array | null>

  write(packet: Uint8Array): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error(`TUN device ${this.name} is closed`))
    try {
      // One write(2) per packet: a writev or a write of two packets would deliver only the first.
      fs.writeSync(this.fdValue, packet, 0, packet.length)
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async onPacket(handler: (packet: Uint8Array) => void | Promise<void>): Promise<void> {
    for (;;) {
      const packet = await this.read()
      if (packet === null) return
      await handler(packet)
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const packet = await this.read()
      if (packet === null) return
      yield packet
    }
  }

  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  protected abstract doClose(): Promise<void>

  /** Deletes the interface if something else still holds it (normally it vanishes with its last fd). */
  protected async deleteIfPresent(): Promise<void> {
    if (existsSync(`/sys/class/net/${this.name}`)) await ip(['link', 'delete', 'dev', this.name], 5_000).catch(() => {})
  }
}

interface Waiter {
  resolve(packet: Uint8Array | null): void
  reject(err: Error): void
}

/** Event-driven: the non-blocking fd is a libuv stream; each read(2) is one packet. */
class EventTun extends TunBase {
  readonly io = 'event' as const
  private readonly socket: net.Socket
  private readonly queue: Uint8Array[] = []
  private readonly waiters: Waiter[] = []
  private failure?: Error
  private paused = false

  constructor(name: string, fd: number, options: TunOptions, pipe: { Pipe: PipeCtor; SOCKET: number }, private readonly queueLimit: number) {
    super(name, fd, options)
    const handle = new pipe.Pipe(pipe.SOCKET)
    const rc = handle.open(fd)
    if (rc !== 0) {
      fs.closeSync(fd)
      throw new UserError(`TUN device ${name}: libuv refused the fd (${rc})`)
    }
    // 64 KiB: the largest IP packet; the kernel never returns more than one packet per read.
    const buffer = Buffer.alloc(65536)
    const SocketWithHandle = net.Socket as unknown as new (options: object) => net.Socket
    this.socket = new SocketWithHandle({
      handle,
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          const packet = new Uint8Array(buf.subarray(0, n))
          const waiter = this.waiters.shift()
          if (waiter) {
            waiter.resolve(packet)
            return true
          }
          this.queue.push(packet)
          if (this.queue.length >= this.queueLimit) {
            // Stop reading: the kernel's queue (txqueuelen) fills and then drops.
            this.paused = true
            return false
          }
          return true
        },
      },
    })
    this.socket.on('error', (err) => this.fail(err))
    this.socket.on('end', () => this.fail(new Error(`TUN device ${name} ended`)))
  }

  private fail(err: Error): void {
    if (this.isClosed) return
    const code = (err as NodeJS.ErrnoException).code
    this.failure = new UserError(`reading TUN device ${this.name} failed: ${code ?? err.message}${code === 'EFAULT' ? ' (the interface was deleted)' : ''}`, { cause: err })
    for (const w of this.waiters.splice(0)) w.reject(this.failure)
    void this.close()
  }

  read(): Promise<Uint8Array | null> {
    const packet = this.queue.shift()
    if (packet) {
      if (this.paused && this.queue.length <= this.queueLimit / 2 && !this.isClosed) {
        this.paused = false
        this.socket.resume()
      }
      return Promise.resolve(packet)
    }
    if (this.failure) return Promise.reject(this.failure)
    if (this.isClosed) return Promise.resolve(null)
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  protected async doClose(): Promise<void> {
    this.isClosed = true
    this.queue.length = 0
    for (const w of this.waiters.splice(0)) w.resolve(null)
    // uv_close() closes the fd synchronously; with the last fd gone the kernel deletes the interface.
    this.socket.destroy()
    this.fdValue = -1
    await this.deleteIfPresent()
  }
}

/**
 * Blocking fd, `fs.read` on the threadpool: one thread per pending read().
 * close() deletes the interface first, which makes a blocked read(2) fail
 * (EFAULT), then closes the fd.
 */
class ThreadpoolTun extends TunBase {
  readonly io = 'threadpool' as const
  private pending = new Set<Promise<unknown>>()
  private readonly buffers: Buffer[] = []

  read(): Promise<Uint8Array | null> {
    if (this.isClosed) return Promise.resolve(null)
    const buffer = this.buffers.pop() ?? Buffer.alloc(65536)
    const result = new Promise<Uint8Array | null>((resolve, reject) => {
      fs.read(this.fdValue, buffer, 0, buffer.length, null, (err, n) => {
        const packet = err ? null : new Uint8Array(buffer.subarray(0, n))
        this.buffers.push(buffer)
        if (this.isClosed) return resolve(null)
        if (err) {
          const code = err.code
          return reject(new UserError(`reading TUN device ${this.name} failed: ${code ?? err.message}${code === 'EFAULT' ? ' (the interface was deleted)' : ''}`, { cause: err }))
        }
        resolve(packet)
      })
    })
    const tracked = result.then(
      () => {},
      () => {},
    )
    this.pending.add(tracked)
    void tracked.then(() => this.pending.delete(tracked))
    return result
  }

  protected async doClose(): Promise<void> {
    this.isClosed = true
    // Closing an fd under a blocked read(2) does not wake it; deleting the interface does.
    if (this.pending.size > 0) await ip(['link', 'delete', 'dev', this.name], 5_000).catch(() => {})
    const settled = Promise.all([...this.pending])
    let timer: NodeJS.Timeout | undefined
    const bounded = await Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 5_000)
      }),
    ])
    clearTimeout(timer)
    // A read still blocked would make a reused fd number dangerous: then leave the fd to process exit.
    if (bounded) fs.closeSync(this.fdValue)
    this.fdValue = -1
    await this.deleteIfPresent()
  }
}
