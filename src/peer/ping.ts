import { peerIdFromString } from '@libp2p/peer-id'
import type { LedgerData } from '../ledger-access/types.js'
import { UsageError, UserError } from '../errors.js'
import { isRelayed } from './nat/reachability.js'
import type { EdgePeer } from './peer.js'

/**
 * `kairosctl ping TARGET`: find a node of the network through the ledger's
 * `machines` bucket (by VPN IP or hostname) or take a peer ID as given, then
 * measure libp2p ping round trips to it (`/ipfs/ping/1.0.0`, which Go
 * EdgeVPN nodes answer).
 */

export interface PingTarget {
  /** What the operator typed. */
  input: string
  peerId: string
  /** How the target was found. */
  by: 'vpn-ip' | 'hostname' | 'peer-id'
  /** The machine's VPN address and hostname, when `machines` lists it. */
  address?: string
  hostname?: string
}

interface Machine {
  PeerID?: string
  Hostname?: string
  Address?: string
}

function machines(data: LedgerData): Array<{ key: string; m: Machine }> {
  return Object.entries(data.machines ?? {}).flatMap(([key, text]) => {
    try {
      const m = JSON.parse(text) as Machine
      return m && typeof m === 'object' && typeof m.PeerID === 'string' ? [{ key, m }] : []
    } catch {
      return []
    }
  })
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

function isPeerId(text: string): boolean {
  try {
    peerIdFromString(text)
    return true
  } catch {
    return false
  }
}

/** Resolves TARGET (a VPN IP, a hostname from `machines`, or a peer ID) against the ledger. */
export function resolvePingTarget(input: string, data: LedgerData): PingTarget {
  const target = input.trim()
  if (target === '') throw new UsageError('no target to ping', 'give a VPN IP, a hostname or a peer ID (see kairosctl status)')
  const known = machines(data)
  const describe = (m: Machine) => ({ address: m.Address || undefined, hostname: m.Hostname || undefined })
  if (IPV4.test(target)) {
    const hit = known.find(({ key, m }) => key === target || m.Address === target)
    if (!hit)
      throw new UserError(`no machine has the VPN address ${target}`, {
        hint: known.length
          ? `known: ${known
              .map(({ key }) => key)
              .sort()
              .join(', ')}`
          : 'the machines bucket is empty',
      })
    return { input, peerId: hit.m.PeerID!, by: 'vpn-ip', ...describe(hit.m) }
  }
  if (isPeerId(target)) {
    const hit = known.find(({ m }) => m.PeerID === target)
    return { input, peerId: target, by: 'peer-id', ...(hit ? describe(hit.m) : {}) }
  }
  const hits = known.filter(({ m }) => m.Hostname?.toLowerCase() === target.toLowerCase())
  if (hits.length === 1) return { input, peerId: hits[0].m.PeerID!, by: 'hostname', ...describe(hits[0].m) }
  if (hits.length > 1) {
    throw new UsageError(
      `hostname ${target} is taken by ${hits.length} machines`,
      `ping one by VPN IP: ${hits
        .map(({ key }) => key)
        .sort()
        .join(', ')}`,
    )
  }
  const names = [...new Set(known.map(({ m }) => m.Hostname).filter((h): h is string => !!h))].sort()
  throw new UserError(`${target} is not a VPN IP, hostname or peer ID of this network`, {
    hint: names.length ? `hostnames: ${names.join(', ')}` : 'the machines bucket is empty; a peer ID works for any peer',
  })
}

export interface PingReply {
  seq: number
  /** Round trip in milliseconds, or null when this ping failed. */
  rttMs: number | null
  error?: string
}

export interface PingRoute {
  /** Whether the connection goes straight to the peer (not through a relay). */
  direct: boolean
  remoteAddr: string
}

export interface PingOptions {
  count: number
  intervalMs: number
  /** For the first connection, and for each ping. */
  timeoutMs: number
  signal?: AbortSignal
  onRoute?: (route: PingRoute) => void
  onReply?: (reply: PingReply) => void
}

export interface PingSummary {
  route: PingRoute
  replies: PingReply[]
  sent: number
  received: number
  minMs: number | null
  avgMs: number | null
  maxMs: number | null
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true })
  })

/** Connects to the peer (reusing a connection when there is one) and pings it `count` times. */
export async function pingPeer(peer: EdgePeer, target: PingTarget, opts: PingOptions): Promise<PingSummary> {
  if (target.peerId === peer.id) throw new UsageError(`${target.input} is this peer itself`, 'ping another node')
  const id = peerIdFromString(target.peerId)
  let connection
  try {
    connection = await peer.host.dial(id, { signal: AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])]) })
  } catch (err) {
    const why = (err as Error).name === 'NoValidAddressesError' ? 'no address is known for it' : (err as Error).message.split('\n')[0]
    throw new UserError(`cannot reach ${describeTarget(target)}: ${why}`, {
      hint: 'it may be offline or behind NAT without a route from here; kairosctl status shows which machines are live',
    })
  }
  const route: PingRoute = { direct: !isRelayed(connection), remoteAddr: connection.remoteAddr.toString() }
  opts.onRoute?.(route)
  const replies: PingReply[] = []
  for (let seq = 1; seq <= opts.count && !opts.signal?.aborted; seq++) {
    if (seq > 1) await sleep(opts.intervalMs, opts.signal)
    if (opts.signal?.aborted) break
    let reply: PingReply
    try {
      const rttMs = await peer.host.services.ping.ping(id, { signal: AbortSignal.timeout(opts.timeoutMs) })
      reply = { seq, rttMs }
    } catch (err) {
      reply = { seq, rttMs: null, error: (err as Error).message.split('\n')[0] }
    }
    replies.push(reply)
    opts.onReply?.(reply)
  }
  const rtts = replies.flatMap((r) => (r.rttMs === null ? [] : [r.rttMs]))
  return {
    route,
    replies,
    sent: replies.length,
    received: rtts.length,
    minMs: rtts.length ? Math.min(...rtts) : null,
    avgMs: rtts.length ? Math.round((rtts.reduce((a, b) => a + b, 0) / rtts.length) * 10) / 10 : null,
    maxMs: rtts.length ? Math.max(...rtts) : null,
  }
}

/** "node-2 (10.1.0.2, 12D3KooW…)" or the peer ID alone. */
export function describeTarget(t: PingTarget): string {
  const about = [t.address, t.peerId].filter(Boolean).join(', ')
  return t.hostname ? `${t.hostname} (${about})` : t.address ? `${t.address} (${t.peerId})` : t.peerId
}
