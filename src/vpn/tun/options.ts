import { isIP } from 'node:net'
import { UsageError } from '../../errors.js'
import type { TunOptions } from './index.js'
import { IFNAMSIZ } from './ioctl.js'

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
