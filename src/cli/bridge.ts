import { isIPv4 } from 'node:net'
import { isLoopback, parseHostPort } from '../api/server.js'
import { listenSocketProblem } from '../api/socket-path.js'
import { UsageError, UserError } from '../errors.js'
import type { NetworkToken } from '../token/token.js'
import type { RunBridgeOptions } from '../vpn/bridge.js'
import type { SendMode } from '../vpn/router.js'
import { peerOptionsFromFlags, type PeerFlagValues } from './network.js'

/** The flag values of `kairosctl bridge`, as its command declares them. */
export interface BridgeFlagValues extends PeerFlagValues {
  interface: string
  address: string
  dhcp: boolean
  'lease-dir': string
  'dhcp-timeout': number
  mtu: number
  tun: boolean
  api: string
  'api-allow-remote': boolean
  'api-allow-writes': boolean
  'ownership-ttl': number
  'vpn-streams': string
}

/**
 * Checks --address and --api before anything starts. Returns the API listen
 * address, or undefined when --api "" disables it.
 */
export function checkBridgeFlags(f: Pick<BridgeFlagValues, 'address' | 'api' | 'api-allow-remote'>): string | undefined {
  if (!isIPv4Cidr(f.address)) throw new UsageError(`invalid --address ${f.address}`, 'use an IPv4 address with a prefix length of 1 to 32, e.g. 10.1.0.254/24')
  const api = f.api === '' ? undefined : f.api
  if (api?.startsWith('unix://')) {
    const problem = listenSocketProblem(api.slice('unix://'.length))
    if (problem) throw new UserError(`cannot serve the API on ${api}: ${problem}`, { hint: 'create it first, or pass another --api path' })
  } else if (api) {
    const { host } = parseHostPort(api)
    if (!isLoopback(host) && !f['api-allow-remote']) {
      throw new UsageError(`refusing to serve the API on ${host}, which is not a loopback address`, 'the API has no authentication: pass --api-allow-remote if you really mean it')
    }
  }
  return api
}

/** `a.b.c.d/n`: a plain IPv4 address (no leading zeros) and a prefix length of 1 to 32. */
function isIPv4Cidr(text: string): boolean {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text)
  return m !== null && isIPv4(m[1]) && Number(m[2]) >= 1 && Number(m[2]) <= 32
}

/** What runBridge() gets from the flags, the token, the checked API address, the stop signal and the log. */
export function bridgeOptions(f: BridgeFlagValues, token: NetworkToken, api: string | undefined, signal: AbortSignal, log: (msg: string) => void): RunBridgeOptions {
  return {
    // A bridge runs for long: it holds a relay slot so that nodes behind NAT can reach it first.
    peer: { ...peerOptionsFromFlags(f, token), ownershipTtl: f['ownership-ttl'] || undefined, relayReservation: true },
    tun: f.tun ? { name: f.interface, mtu: f.mtu } : undefined,
    address: f.address,
    dhcp: f.dhcp ? { leaseDir: f['lease-dir'], timeoutMs: f['dhcp-timeout'] * 1000 } : undefined,
    api,
    apiAllowWrites: f['api-allow-writes'],
    ownershipTtl: f['ownership-ttl'],
    sendMode: f['vpn-streams'] as SendMode,
    signal,
    log,
  }
}
