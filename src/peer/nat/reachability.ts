/**
 * NAT awareness: whether the internet can dial us, and with which addresses.
 *
 * The host runs AutoNAT v1 (`/libp2p/autonat/1.0.0`, what Go EdgeVPN nodes
 * serve) and, unless switched off, UPnP port mapping (Go EdgeVPN's `--natmap`,
 * on by default there too). Both feed libp2p's address manager: AutoNAT marks
 * public addresses as verified after a peer dialled them back, UPnP adds the
 * router's external address and port for each listen address ("ip-mapping").
 * Only verified addresses are announced to other peers (identify, DHT
 * provider records), so a Go node that finds us on the DHT dials the mapped
 * address directly.
 */
import { BlockList, isIP } from 'node:net'
import { publicDhtDisabled } from '../bootstrap-list.js'

/** The environment variable Go EdgeVPN reads for `--natmap`. */
export const NATMAP_ENV = 'EDGEVPNNATMAP'

/**
 * Whether UPnP port mapping runs. `flag` is `--natmap`/`--no-natmap` (or
 * EDGEVPNNATMAP) when given; without either it is on, except with
 * KAIROSCTL_NO_PUBLIC_DHT=1 (air-gapped machines and every test: nothing asks
 * a real router for a port unless told to).
 */
export function natmapEnabled(flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag !== undefined) return flag
  return !publicDhtDisabled(env)
}

/** One address as libp2p's address manager keeps it. */
export interface HostAddress {
  multiaddr: { toString(): string }
  verified: boolean
  type: string
}

export type Reachability = 'public' | 'private' | 'unknown'

export interface NatReport {
  /**
   * public: a public address of ours was verified (a peer dialled it back, or
   * the router mapped it); unknown: we have public candidate addresses that no
   * one has confirmed yet; private: no public address at all (behind NAT with
   * no mapping, or on a LAN only).
   */
  reachability: Reachability
  /** Public addresses peers told us they see us at (identify), verified or not. */
  observed: string[]
  /** Addresses the router mapped to us with UPnP. */
  mapped: string[]
  /** Whether UPnP port mapping is on. */
  natmap: boolean
}

const notPublic = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const)
  notPublic.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['64:ff9b::', 96],
] as const)
  notPublic.addSubnet(net, bits, 'ipv6')

/** Whether a connection runs through a relay (limited, or dialled at a /p2p-circuit address). */
export function isRelayed(connection: { limits?: unknown; remoteAddr: { toString(): string } }): boolean {
  return connection.limits !== undefined || connection.remoteAddr.toString().includes('/p2p-circuit')
}

/** The IP of an `/ip4/…` or `/ip6/…` multiaddr that is not relayed, when it is a public one. */
export function publicIp(addr: string): string | undefined {
  if (addr.includes('/p2p-circuit')) return undefined
  const m = /^\/(ip4|ip6)\/([^/]+)\//.exec(addr)
  if (!m || isIP(m[2]) === 0) return undefined
  return notPublic.check(m[2], m[1] === 'ip4' ? 'ipv4' : 'ipv6') ? undefined : m[2]
}

/**
 * Reachability and addresses from the address manager's view. `observedIps`
 * are the public IPs peers' identify reported for us (kept by the hole punch
 * service, since libp2p drops TCP observations); they show as `/ip4/IP`.
 */
export function natReport(addresses: readonly HostAddress[], natmap: boolean, observedIps: readonly string[] = []): NatReport {
  const pub = addresses.filter((a) => publicIp(a.multiaddr.toString()) !== undefined)
  const reachability: Reachability = pub.some((a) => a.verified) ? 'public' : pub.length > 0 ? 'unknown' : 'private'
  const list = (type: string) => [...new Set(pub.filter((a) => a.type === type).map((a) => a.multiaddr.toString()))].sort()
  const observed = [...new Set([...list('observed'), ...observedIps.map((ip) => `/ip4/${ip}`)])].sort()
  return { reachability, observed, mapped: list('ip-mapping'), natmap }
}
