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
 *
 * This file is the contract (`Tun`, `openTun`, `addTunAddress`); the parts
 * are in ./tun/: `ioctl.ts` (koffi, `ifreq`, TUNSETIFF), `errors.ts`,
 * `options.ts`, `ip.ts` (iproute2), `base.ts`, and the two I/O modes
 * `event-tun.ts` (the `pipe_wrap` reach-in) and `threadpool-tun.ts`.
 */
import fs from 'node:fs'
import { UserError } from '../../errors.js'
import { tunOpenError } from './errors.js'
import { EventTun, pipeWrap } from './event-tun.js'
import { TunBase } from './base.js'
import { errnoNames, IFNAMSIZ, ifreqFor, loadIoctl, tunSetIff } from './ioctl.js'
import { ip } from './ip.js'
import { validateTunOptions } from './options.js'
import { ThreadpoolTun } from './threadpool-tun.js'

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
