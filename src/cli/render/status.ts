/** `kairosctl status` as people read it. */
import chalk from 'chalk'
import type { NatReport } from '../../peer/nat/reachability.js'
import type { Status } from '../../status/model.js'
import { clip, table } from '../table.js'

/** "12s ago", "14m ago", "3h ago", "2d ago"; "just now"; "5s ahead" for a clock ahead of ours. */
export function formatAge(seconds: number): string {
  const span = (s: number): string => (s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`)
  if (seconds < -1) return `${span(-seconds)} ahead`
  if (seconds < 1) return 'just now'
  return `${span(seconds)} ago`
}

/** The tail of a peer ID, enough to tell machines apart in a table. */
export function shortPeerId(id: string): string {
  return id.length > 10 ? `…${id.slice(-8)}` : id
}

/** Ledger text is written by other machines: no control characters (escape sequences) reach the terminal, and cells stay short. */
function safe(text: string, max = 60): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it replaces
  return clip(text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?'), max)
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

function renderNat(n: NatReport): string {
  const what =
    n.reachability === 'public' ? 'public (dialable from the internet)' : n.reachability === 'private' ? 'private (behind NAT, not dialable from the internet)' : 'unknown (not verified yet)'
  const parts = [what]
  if (n.mapped.length > 0) parts.push(`UPnP mapped ${n.mapped.map((a) => safe(a, 80)).join(', ')}`)
  else parts.push(n.natmap ? 'no UPnP mapping' : 'UPnP off')
  if (n.observed.length > 0) parts.push(`observed ${n.observed.map((a) => safe(a, 80)).join(', ')}`)
  return parts.join('; ')
}

/** The status as people read it: a few lines about this node, then a table of machines. */
export function renderStatus(s: Status, opts: { verbose?: boolean } = {}): string {
  const lines: [string, string][] = []
  if (s.node.shortLived) {
    lines.push(['node', `${safe(s.node.peerId ?? 'unknown')} (a short-lived peer kairosctl joined with the network token)`])
    lines.push(['vpn', 'none: a short-lived peer is not part of the VPN'])
    lines.push(['via', 'the network token'])
  } else {
    lines.push(['node', s.node.peerId === null ? 'unknown (the API does not report its NodeID)' : safe(s.node.peerId)])
    lines.push(['vpn', s.node.vpnAddress ? `${safe(s.node.vpnAddress)}${s.node.hostname ? ` (${safe(s.node.hostname)})` : ''}` : 'none: this node has no machines entry'])
    lines.push(['via', `API ${safe(s.api ?? 'unknown', 200)}`])
  }
  const p = s.peers
  const peerParts = [p.onNetwork === null ? undefined : `${p.onNetwork} connected on the network`, p.peerstore === null ? undefined : `${p.peerstore} in the peer store`].filter(Boolean)
  lines.push(['peers', peerParts.length > 0 ? peerParts.join(', ') : 'unknown (the API does not report peer counts)'])
  lines.push(['machines', p.machines === 0 ? 'no other machine' : `${p.machinesConnected} of ${plural(p.machines, 'other machine')} connected, ${p.machinesLive} live`])
  lines.push(['ledger', s.ledger.height === null ? 'unknown height' : `block ${s.ledger.height}`])
  if (s.nat) lines.push(['reach', renderNat(s.nat)])
  const width = Math.max(...lines.map(([k]) => k.length))
  let out = lines.map(([k, v]) => `${chalk.dim(k.padEnd(width))}  ${v}`).join('\n') + '\n'

  if (s.machines.length === 0) return out + '\nno machines in the ledger (nothing has joined the VPN yet)\n'
  const headers = ['ADDRESS', 'HOSTNAME', 'PEER', ...(opts.verbose ? ['OS/ARCH', 'VERSION'] : []), 'HEALTHCHECK', 'CONNECTED']
  const rows = s.machines.map((m) => {
    const age = m.healthcheckAgeSeconds === null ? 'none' : formatAge(m.healthcheckAgeSeconds) + (m.live ? '' : ' (stale)')
    const connected = m.self ? 'this node' : m.connected ? (m.link ? `yes (${m.link})` : 'yes') : m.link === 'relayed' ? 'relayed only' : 'no'
    const extra = opts.verbose ? [m.os || m.arch ? safe(`${m.os || '?'}/${m.arch || '?'}`, 30) : '-', safe(m.version, 30) || '-'] : []
    const peer = opts.verbose ? safe(m.peerId, 100) : shortPeerId(safe(m.peerId, 100))
    return [safe(m.address, 40) || '-', safe(m.hostname, 40) || '-', peer || '-', ...extra, age, connected]
  })
  out += '\n' + table(headers, rows)
  return out
}
