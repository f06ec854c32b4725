/** Shaping a source's answers into the status object (pure). */
import { parseJson } from '../ledger/json.js'
import { dateNanos, healthcheckTime, parseGoRfc3339 } from '../ledger/go-time.js'
import { isLive } from '../ledger/policy.js'
import { LIVE_TTL_SECONDS, type MachineStatus, type Status, type StatusInputs } from './model.js'

const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** The stored healthcheck time of a peer, with its Unix nanoseconds, when it parses as EdgeVPN's does. */
export function healthcheckOf(health: Readonly<Record<string, string>>, peerId: string): { text: string; nanos: bigint } | undefined {
  if (!Object.hasOwn(health, peerId)) return undefined
  let v
  try {
    v = parseJson(health[peerId])
  } catch {
    return undefined
  }
  if (typeof v !== 'string') return undefined
  const nanos = parseGoRfc3339(v)
  return nanos === undefined ? undefined : { text: v, nanos }
}

/** IPv4 addresses in numeric order, then anything else in text order. */
function addressOrder(a: string, b: string): number {
  const key = (s: string): number | undefined => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
    return m ? m.slice(1).reduce((n, p) => n * 256 + Number(p), 0) : undefined
  }
  const ka = key(a)
  const kb = key(b)
  if (ka !== undefined && kb !== undefined) return ka - kb
  if (ka !== undefined) return -1
  if (kb !== undefined) return 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** Shapes a source's answers into the status object. */
export function buildStatus(inputs: StatusInputs, now: Date = new Date()): Status {
  const nodeId = str(inputs.summary.NodeID) || null
  const nowNanos = dateNanos(now)
  const machines: MachineStatus[] = inputs.machines.map((m) => {
    const peerId = str(m.PeerID)
    const hc = peerId ? healthcheckOf(inputs.healthcheck, peerId) : undefined
    return {
      peerId,
      hostname: str(m.Hostname),
      address: str(m.Address),
      os: str(m.OS),
      arch: str(m.Arch),
      version: str(m.Version),
      self: nodeId !== null && peerId === nodeId,
      // A peer on the gossip topic is connected too. Go's API needs this: it looks the
      // machine up by peer.ID(PeerID), the base58 text cast to an ID, which never
      // matches, so its Connected is always false.
      connected: m.Connected === true || m.OnChain === true,
      onNetwork: m.OnChain === true,
      link: (peerId && inputs.links?.[peerId]) || null,
      healthcheck: hc?.text ?? null,
      // Floor, so a healthcheck from a clock a fraction of a second ahead reads 0, not -1.
      healthcheckAgeSeconds: hc ? Math.floor(Number(nowNanos - hc.nanos) / 1e9) : null,
      live: peerId !== '' && isLive(inputs.healthcheck, peerId, LIVE_TTL_SECONDS, now),
    }
  })
  machines.sort((a, b) => addressOrder(a.address, b.address) || (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0))
  const me = machines.find((m) => m.self)
  const others = machines.filter((m) => !m.self)
  return {
    source: inputs.source,
    api: inputs.source === 'api' ? (inputs.api ?? null) : null,
    node: {
      peerId: nodeId,
      shortLived: inputs.source === 'network',
      vpnAddress: me?.address || null,
      hostname: me?.hostname || null,
    },
    ledger: { height: count(inputs.summary.BlockChain) },
    peers: {
      onNetwork: count(inputs.summary.OnChainNodes),
      peerstore: count(inputs.summary.Peers) ?? (inputs.peerstore ? inputs.peerstore.length : null),
      machines: others.length,
      machinesConnected: others.filter((m) => m.connected).length,
      machinesLive: others.filter((m) => m.live).length,
    },
    machines,
    time: healthcheckTime(now),
    liveTtlSeconds: LIVE_TTL_SECONDS,
    nat: inputs.nat ? { ...inputs.nat, observed: [...inputs.nat.observed], mapped: [...inputs.nat.mapped] } : null,
  }
}
