/**
 * The one ioctl a TUN device needs: TUNSETIFF on an fd of `/dev/net/tun`,
 * called through koffi with a `struct ifreq` built here.
 */
import { endianness } from 'node:os'
import { UserError } from '../../errors.js'

/** `struct ifreq` flags. */
export const IFF_TUN = 0x0001
export const IFF_NO_PI = 0x1000
/** `sizeof(struct ifreq)` on 64-bit Linux: 16-byte name + 24-byte union (flags: a short at offset 16). */
export const IFREQ_SIZE = 40
export const IFNAMSIZ = 16

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

/** Names for the errno values TUNSETIFF is known to fail with. */
export const errnoNames: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 16: 'EBUSY', 19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE' }

type Ioctl = (fd: number, request: number, ...args: unknown[]) => number
let ioctlFn: { ioctl: Ioctl; errno: () => number } | undefined

/** libc's `ioctl` and `errno`, loaded through koffi on first use. */
export async function loadIoctl(): Promise<{ ioctl: Ioctl; errno: () => number }> {
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
  const ioctl = self.func('int ioctl(int fd, unsigned long request, ...)') as Ioctl
  ioctlFn = { ioctl, errno: () => koffi.errno() }
  return ioctlFn
}
