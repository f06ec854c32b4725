import { isIP } from 'node:net'
import { dashboardRoute, kairosctlVersion, type DashboardSource } from '../api/dashboard.js'
import { peerBackend } from '../api/peer-backend.js'
import { peerMetrics, prometheusText } from '../api/metrics.js'
import { startApiServer, type ApiServer } from '../api/server.js'
import { pingRoute } from '../api/ping.js'
import { UserError } from '../errors.js'
import { localMachineEntry, type MachineEntry } from '../ledger/machine.js'
import { healthcheckTime } from '../ledger/go-time.js'
import { ownerFromPeerId } from '../ledger/policy.js'
import { EdgePeer, type PeerOptions } from '../peer/peer.js'
import { DhcpAborted, leasePath, negotiate, readLease, writeLease } from './dhcp.js'
import { VpnRouter, type RouterStats, type SendMode, type VpnSnapshot } from './router.js'
import { addTunAddress, openTun, type Tun } from './tun/index.js'

export interface BridgeOptions {
  peer: EdgePeer
  /** The TUN device; undefined runs the peer (and its API) without a data plane. */
  tun?: Tun
  /** This machine's VPN address with prefix, e.g. 10.1.0.254/24; undefined until assignAddress() (DHCP). */
  address?: string
  /** Healthcheck period (Go's kairosctl bridge: 20 s). */
  heartbeatMs?: number
  /** How often the machines entry is checked and re-announced. */
  announceMs?: number
  /** Ownership liveness TTL in seconds, for routing decisions (0 disables the check). */
  ownershipTtl?: number
  /** How packets travel to peers (default: one long-lived stream per peer). */
  sendMode?: SendMode
  log?: (msg: string) => void
}

/**
 * Makes this machine a member of the cluster VPN: keeps its `machines` entry
 * and its healthcheck in the ledger (signed when the network signs), routes
 * TUN packets to their owners and accepts theirs.
 */
export class Bridge {
  private cidr?: string
  private router?: VpnRouter
  private timers: NodeJS.Timeout[] = []
  private machineIds?: { at: number; ids: Set<string> }
  private readonly routes = new Map<string, { id: string | undefined; at: number }>()
  api?: ApiServer

  constructor(private readonly opts: BridgeOptions) {
    this.cidr = opts.address
  }

  /** The VPN address with prefix, once known. */
  get address(): string | undefined {
    return this.cidr
  }

  /** The VPN address without prefix, once known. */
  get ip(): string | undefined {
    return this.cidr?.split('/')[0]
  }

  get stats(): RouterStats | undefined {
    return this.router?.stats
  }

  /** The router's totals, queues and per-peer traffic (copies); undefined without a TUN device. */
  vpnSnapshot(): VpnSnapshot | undefined {
    return this.router?.snapshot()
  }

  machine(ip: string): MachineEntry {
    return localMachineEntry(this.opts.peer.id, ip)
  }

  /**
   * Starts the healthcheck, the router and, once the address is known, the
   * machines entry. Without an address the bridge is a live node without a
   * machines entry, which is what EdgeVPN's DHCP looks for.
   */
  async start(): Promise<void> {
    const { peer } = this.opts
    this.heartbeat()
    this.announceMachine()
    void peer.announce()
    this.every(this.opts.heartbeatMs ?? 20_000, () => this.heartbeat())
    this.every(this.opts.announceMs ?? 10_000, () => this.announceMachine())
    if (this.opts.tun) {
      this.router = new VpnRouter({
        host: peer.host,
        tun: this.opts.tun,
        route: (ip) => this.owner(ip),
        accept: (id) => this.isMachine(id),
        sendMode: this.opts.sendMode,
        log: this.opts.log,
      })
      await this.router.start()
    }
  }

  /** Sets the address of a bridge started without one (DHCP) and announces it. */
  assignAddress(cidr: string): void {
    if (this.cidr !== undefined) throw new Error(`the bridge already has the address ${this.cidr}`)
    this.cidr = cidr
    this.announceMachine()
  }

  /** Removes our entries from the ledger (announced once, best effort) and stops routing. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    await this.router?.stop()
    const { peer } = this.opts
    try {
      const ip = this.ip
      const mine = ip === undefined ? undefined : peer.ledger.getKey('machines', ip)
      if (ip !== undefined && mine !== undefined && ownerFromPeerId(ip, mine) === peer.id) peer.ledger.delete('machines', ip)
      if (peer.ledger.getKey('healthcheck', peer.id) !== undefined) peer.ledger.delete('healthcheck', peer.id)
      await peer.announce()
    } catch (err) {
      this.opts.log?.(`could not withdraw the ledger entries: ${(err as Error).message}`)
    }
  }

  private every(ms: number, fn: () => void): void {
    // A refused write (a ledger too large to send) is logged; it must not end the process.
    const t = setInterval(() => {
      try {
        fn()
      } catch (err) {
        this.opts.log?.((err as Error).message)
      }
    }, ms)
    t.unref()
    this.timers.push(t)
  }

  private heartbeat(): void {
    this.opts.peer.ledger.put('healthcheck', this.opts.peer.id, healthcheckTime())
  }

  /** Like EdgeVPN: (re)write our machines entry when it is missing or names another peer. */
  private announceMachine(): void {
    const { peer } = this.opts
    const ip = this.ip
    if (ip === undefined) return
    const current = peer.ledger.getKey('machines', ip)
    const owner = current === undefined ? undefined : ownerFromPeerId(ip, current)
    // An entry of ours written before the ledger signed (auto mode) is written again, signed.
    const unsigned = peer.ledger.signerId !== undefined && peer.ledger.lastBlock().storage.get('machines')?.get(ip)?.sig === null
    if (owner !== peer.id || unsigned) {
      if (owner) this.opts.log?.(`address ${ip} is announced by ${owner}; claiming it`)
      peer.ledger.put('machines', ip, this.machine(ip))
      void peer.announce()
    }
  }

  /** The peer to route an address to; decisions are cached for a second (this runs for every outbound packet). */
  private owner(ip: string): string | undefined {
    const now = Date.now()
    const cached = this.routes.get(ip)
    if (cached && now - cached.at < 1000) return cached.id
    const id = this.lookupOwner(ip)
    this.routes.set(ip, { id, at: now })
    return id
  }

  private lookupOwner(ip: string): string | undefined {
    const text = this.opts.peer.ledger.getKey('machines', ip)
    if (text === undefined) return undefined
    const id = ownerFromPeerId(ip, text)
    if (!id || id === this.opts.peer.id) return undefined
    // Like Go v0.35 senders: under ownership, only route to owners whose healthcheck is fresh.
    if ((this.opts.ownershipTtl ?? 0) > 0 && !this.opts.peer.ledger.isOwnerLive(id)) return undefined
    return id
  }

  /** Peers with a machines entry; rebuilt at most once a second (this runs for every inbound packet stream). */
  private isMachine(id: string): boolean {
    const now = Date.now()
    if (!this.machineIds || now - this.machineIds.at > 1000) {
      const ids = new Set<string>()
      for (const [ip, text] of Object.entries(this.opts.peer.ledger.currentData().machines ?? {})) ids.add(ownerFromPeerId(ip, text))
      this.machineIds = { at: now, ids }
    }
    return this.machineIds.ids.has(id)
  }
}

export interface DhcpSettings {
  /** Directory of the lease files (one per network, named after the token). */
  leaseDir: string
  /** Give up negotiating after this many milliseconds (undefined or 0: wait as long as the bridge runs). */
  timeoutMs?: number
  /** Milliseconds between DHCP rounds (default 5000, as EdgeVPN). */
  intervalMs?: number
}

export interface RunBridgeOptions {
  peer: Omit<PeerOptions, 'log'>
  /** TUN settings; undefined for --no-tun. */
  tun?: { name: string; mtu: number }
  /**
   * The VPN address with prefix. With `dhcp`, its IP is only the default
   * that EdgeVPN's DHCP takes when no machine has an address yet, and its
   * prefix length is kept for the negotiated address.
   */
  address: string
  /** Take the address from a lease or EdgeVPN's DHCP instead of `address`. */
  dhcp?: DhcpSettings
  /** API listen address (HOST:PORT or unix:///path); undefined disables the API. */
  api?: string
  /** The dashboard at the API root may write to the ledger (EdgeVPN's API routes write regardless). */
  apiAllowWrites?: boolean
  ownershipTtl?: number
  sendMode?: SendMode
  /** Stops a start that is still waiting (for a DHCP address); runBridge then rejects with DhcpAborted. */
  signal?: AbortSignal
  log?: (msg: string) => void
}

/** Where the bridge's address came from. */
export type AddressSource = 'flag' | 'lease' | 'dhcp' | 'ledger'

export interface RunningBridge {
  bridge: Bridge
  peer: EdgePeer
  tun?: Tun
  api?: ApiServer
  /** The VPN address with prefix, e.g. 10.1.0.2/24. */
  address: string
  addressSource: AddressSource
  /** The lease file (with DHCP). */
  leaseFile?: string
  /** Withdraws the announcements, closes the API, the peer and the TUN device. */
  stop(): Promise<void>
}

export { DhcpAborted }

/**
 * Brings a bridge up in the order that fails fastest on operator errors: the
 * lease (a damaged file), the TUN device (privileges), the peer, then the API
 * (port in use). Whatever was opened is closed again when a later step fails.
 *
 * With DHCP and no lease, the TUN device comes up without an address and the
 * bridge runs as a live node without a machines entry until EdgeVPN's DHCP
 * lets it take one; then the address is added to the device, written to the
 * lease file and announced.
 */
export async function runBridge(opts: RunBridgeOptions): Promise<RunningBridge> {
  const opened: (() => Promise<void>)[] = []
  const unwind = async (): Promise<void> => {
    for (const close of opened.reverse()) await close().catch(() => {})
  }
  const [flagIp, prefix] = opts.address.split('/')
  let address: string | undefined = opts.address
  let addressSource: AddressSource = 'flag'
  let leaseFile: string | undefined
  if (opts.dhcp) {
    const lease = readLease(opts.dhcp.leaseDir, opts.peer.token)
    leaseFile = leasePath(opts.dhcp.leaseDir, opts.peer.token)
    address = lease === undefined ? undefined : `${lease}/${prefix}`
    addressSource = 'lease'
    if (lease !== undefined) opts.log?.(`DHCP: reusing the lease ${lease} from ${leaseFile}`)
  }
  try {
    let tun: Tun | undefined
    if (opts.tun) {
      tun = await openTun({ name: opts.tun.name, mtu: opts.tun.mtu, address })
      opened.push(() => tun!.close())
    }
    const peer = await EdgePeer.start({ ...opts.peer, log: (level, msg) => level !== 'debug' && opts.log?.(msg) })
    opened.push(() => peer.stop())
    let api: ApiServer | undefined
    // eslint-disable-next-line prefer-const -- the API's closures above read it (undefined) before the bridge exists
    let bridge: Bridge | undefined
    if (opts.api) {
      const backend = peerBackend(peer)
      backend.metrics = () => prometheusText(peerMetrics(peer, bridge))
      const dashboard: DashboardSource = {
        backend,
        connections: () =>
          peer.host.getConnections().map((c) => {
            const remoteAddr = c.remoteAddr.toString()
            return { peer: c.remotePeer.toString(), direction: c.direction, remoteAddr, relayed: remoteAddr.includes('/p2p-circuit') }
          }),
        vpn: () => bridge?.vpnSnapshot(),
        version: kairosctlVersion(),
        writes: opts.apiAllowWrites === true,
      }
      backend.serve = (method, target) => dashboardRoute(dashboard, method, target)
      backend.serveLater = (method, target, signal) => pingRoute(peer, method, target, signal)
      api = await startApiServer(backend, opts.api, { maxBodyBytes: opts.peer.token.maxMessageSize, log: opts.log })
      opened.push(() => api!.close())
    }
    bridge = new Bridge({ peer, tun, address, ownershipTtl: opts.ownershipTtl, sendMode: opts.sendMode, log: opts.log })
    opened.push(() => bridge.stop())
    await bridge.start()
    if (address === undefined) {
      const dhcp = opts.dhcp!
      opts.log?.(`DHCP: no lease in ${dhcp.leaseDir}; negotiating an address with the network (peer ${peer.id})`)
      const got = await negotiate({ peer, defaultIp: flagIp, intervalMs: dhcp.intervalMs, timeoutMs: dhcp.timeoutMs, signal: opts.signal, log: opts.log })
      if (isIP(got.ip) !== 4) {
        throw new UserError(`DHCP chose ${got.ip}, which is not an IPv4 address (the highest address in machines is not IPv4)`, { hint: 'pass a fixed --address without --dhcp' })
      }
      address = `${got.ip}/${prefix}`
      addressSource = got.source === 'ledger' ? 'ledger' : 'dhcp'
      if (tun) await addTunAddress(tun, address)
      bridge.assignAddress(address)
      try {
        leaseFile = writeLease(dhcp.leaseDir, opts.peer.token, got.ip)
      } catch (err) {
        opts.log?.(`could not save the DHCP lease in ${dhcp.leaseDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): the next start negotiates again`)
      }
    }
    let stopping: Promise<void> | undefined
    return {
      bridge,
      peer,
      tun,
      api,
      address,
      addressSource,
      leaseFile,
      // bridge.stop() is the last step pushed to `opened`, so unwinding runs it first.
      stop: () => (stopping ??= unwind()),
    }
  } catch (err) {
    await unwind()
    throw err
  }
}
