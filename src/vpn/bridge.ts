import { hostname } from 'node:os'
import { peerBackend } from '../api/peer-backend.js'
import { startApiServer, type ApiServer } from '../api/server.js'
import { healthcheckTime, ownerFromPeerId } from '../ledger/policy.js'
import { EdgePeer, type PeerOptions } from '../peer/peer.js'
import { VpnRouter, type RouterStats } from './router.js'
import { openTun, type Tun } from './tun.js'

export interface BridgeOptions {
  peer: EdgePeer
  /** The TUN device; undefined runs the peer (and its API) without a data plane. */
  tun?: Tun
  /** This machine's VPN address with prefix, e.g. 10.1.0.254/24. */
  address: string
  /** Healthcheck period (Go's kairosctl bridge: 20 s). */
  heartbeatMs?: number
  /** How often the machines entry is checked and re-announced. */
  announceMs?: number
  /** Ownership liveness TTL in seconds, for routing decisions (0 disables the check). */
  ownershipTtl?: number
  log?: (msg: string) => void
}

/** Go architecture names, as EdgeVPN writes them in `machines`. */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }

export interface MachineEntry {
  PeerID: string
  Hostname: string
  OS: string
  Arch: string
  Address: string
  Version: string
}

/**
 * Makes this machine a member of the cluster VPN: keeps its `machines` entry
 * and its healthcheck in the ledger (signed when the network signs), routes
 * TUN packets to their owners and accepts theirs.
 */
export class Bridge {
  readonly ip: string
  private router?: VpnRouter
  private timers: NodeJS.Timeout[] = []
  private machineIds?: { at: number; ids: Set<string> }
  private readonly routes = new Map<string, { id: string | undefined; at: number }>()
  api?: ApiServer

  constructor(private readonly opts: BridgeOptions) {
    this.ip = opts.address.split('/')[0]
  }

  get stats(): RouterStats | undefined {
    return this.router?.stats
  }

  machine(): MachineEntry {
    return {
      PeerID: this.opts.peer.id,
      Hostname: hostname(),
      OS: process.platform,
      Arch: GOARCH[process.arch] ?? process.arch,
      Address: this.ip,
      Version: 'kairosctl',
    }
  }

  async start(): Promise<void> {
    const { peer } = this.opts
    this.heartbeat()
    this.announceMachine()
    void peer.announce()
    this.every(this.opts.heartbeatMs ?? 20_000, () => this.heartbeat())
    this.every(this.opts.announceMs ?? 10_000, () => this.announceMachine())
    if (this.opts.tun) {
      this.router = new VpnRouter({
        host: peer.host as never,
        tun: this.opts.tun,
        route: (ip) => this.owner(ip),
        accept: (id) => this.isMachine(id),
        log: this.opts.log,
      })
      await this.router.start()
    }
  }

  /** Removes our entries from the ledger (announced once, best effort) and stops routing. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    await this.router?.stop()
    const { peer } = this.opts
    try {
      const mine = peer.ledger.getKey('machines', this.ip)
      if (mine !== undefined && ownerFromPeerId(this.ip, mine) === peer.id) peer.ledger.delete('machines', this.ip)
      if (peer.ledger.getKey('healthcheck', peer.id) !== undefined) peer.ledger.delete('healthcheck', peer.id)
      await peer.announce()
    } catch (err) {
      this.opts.log?.(`could not withdraw the ledger entries: ${(err as Error).message}`)
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms)
    t.unref()
    this.timers.push(t)
  }

  private heartbeat(): void {
    this.opts.peer.ledger.put('healthcheck', this.opts.peer.id, healthcheckTime())
  }

  /** Like EdgeVPN: (re)write our machines entry when it is missing or names another peer. */
  private announceMachine(): void {
    const { peer } = this.opts
    const current = peer.ledger.getKey('machines', this.ip)
    const owner = current === undefined ? undefined : ownerFromPeerId(this.ip, current)
    if (owner !== peer.id) {
      if (owner) this.opts.log?.(`address ${this.ip} is announced by ${owner}; claiming it`)
      peer.ledger.put('machines', this.ip, this.machine())
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

export interface RunBridgeOptions {
  peer: Omit<PeerOptions, 'log'>
  /** TUN settings; undefined for --no-tun. */
  tun?: { name: string; mtu: number }
  address: string
  /** API listen address (HOST:PORT or unix:///path); undefined disables the API. */
  api?: string
  ownershipTtl?: number
  log?: (msg: string) => void
}

export interface RunningBridge {
  bridge: Bridge
  peer: EdgePeer
  tun?: Tun
  api?: ApiServer
  /** Withdraws the announcements, closes the API, the peer and the TUN device. */
  stop(): Promise<void>
}

/**
 * Brings a bridge up in the order that fails fastest on operator errors: the
 * TUN device (privileges), the peer, then the API (port in use). Whatever was
 * opened is closed again when a later step fails.
 */
export async function runBridge(opts: RunBridgeOptions): Promise<RunningBridge> {
  const opened: (() => Promise<void>)[] = []
  const unwind = async (): Promise<void> => {
    for (const close of opened.reverse()) await close().catch(() => {})
  }
  try {
    let tun: Tun | undefined
    if (opts.tun) {
      tun = await openTun({ name: opts.tun.name, mtu: opts.tun.mtu, address: opts.address })
      opened.push(() => tun!.close())
    }
    const peer = await EdgePeer.start({ ...opts.peer, log: (level, msg) => level !== 'debug' && opts.log?.(msg) })
    opened.push(() => peer.stop())
    let api: ApiServer | undefined
    if (opts.api) {
      api = await startApiServer(peerBackend(peer), opts.api)
      opened.push(() => api!.close())
    }
    const bridge = new Bridge({ peer, tun, address: opts.address, ownershipTtl: opts.ownershipTtl, log: opts.log })
    await bridge.start()
    let stopping: Promise<void> | undefined
    return {
      bridge,
      peer,
      tun,
      api,
      stop: () => (stopping ??= bridge.stop().finally(unwind)),
    }
  } catch (err) {
    await unwind()
    throw err
  }
}
