/**
 * An internet in a box: network namespaces with a "public" segment, public
 * libp2p nodes on it, and two sites behind NAT routers.
 *
 *   <id>-inet   bridge br0: the "internet", 11.0.0.0/16 (no route anywhere else)
 *     ├─ <id>-b1..b5   11.0.0.11-15   wanboot: kad-dht server, relay v2, AutoNAT v1 (b4, b5: TCP only)
 *     ├─ <id>-pub<k>   11.0.3.<10+k>  hosts with a public address (addPublicHost)
 *     ├─ <id>-natE     wan0 11.0.1.1 │ lan 192.168.10.1/24, nft masquerade
 *     │    └─ <id>-e<k>  192.168.10.<10+k>  (addSiteHost(lab.edge))
 *     └─ <id>-natH     wan0 11.0.2.1 │ lan 192.168.20.1/24, nft masquerade
 *          └─ <id>-h<k>  192.168.20.<10+k>  (addSiteHost(lab.home))
 *
 * 11.0.0.0/16 is neither private nor a documentation range: go-libp2p (and js
 * libp2p) treat those as unroutable and would never try AutoNAT, relays or
 * hole punching with them. The range exists only inside these namespaces:
 * nothing here has a link to the host's namespace, public hosts only know
 * 11.0.0.0/16 on-link, routers have no default route, and site hosts route only
 * to their router. IPv6 is off everywhere.
 *
 * The routers masquerade on wan0 (Linux keeps the source port when it can, so
 * the mapping is endpoint independent) and forward only LAN → WAN plus
 * established/related flows: unsolicited inbound packets are dropped silently,
 * as on a home router. `symmetric: true` makes a router pick a random port per flow.
 *
 * Like part of the real public DHT, some public nodes listen on TCP only
 * (`tcpOnlyPublicNodes`, default 2): go-libp2p prefers QUIC wherever it can,
 * so without them a Go node behind NAT would only ever have its QUIC address
 * observed, and would offer no TCP address to punch to.
 *
 * The public nodes' identities come from fixed seeds, so their peer IDs and
 * multiaddrs (`bootstrapPeers`) are known before anything dials them.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { buildGoHelper } from './go-peer.js'
import { createNamespaceGroup, run, type NamespaceGroup } from './netns.js'
import { StopWaiting, waitFor } from './wait.js'

interface AfterContext {
  after(fn: () => unknown): void
}

/** Every address the lab uses: the public segment, both LANs, EdgeVPN's VPN range, loopback. */
const LAB_RANGES = [/^11\.0\./, /^192\.168\.10\./, /^192\.168\.20\./, /^10\.1\.0\./, /^127\./]

export interface WanHost {
  ns: string
  ip: string
}

export interface WanbootEvent {
  event: string
  [field: string]: unknown
}

export interface PublicNode extends WanHost {
  seed: string
  peerId: string
  /** `/ip4/…/tcp/4001/p2p/ID` */
  tcp: string
  /** `/ip4/…/udp/4001/quic-v1/p2p/ID` (undefined for a TCP-only node) */
  quic?: string
  events(): WanbootEvent[]
  logs(): string
}

export interface NatSite {
  name: 'edge' | 'home'
  router: string
  wanIp: string
  lanSubnet: string
  hosts: WanHost[]
}

export interface ConntrackEntry {
  proto: string
  /** Original direction: source and destination as the router first saw them. */
  src: string
  dst: string
  sport: number
  dport: number
  /** Reply direction: the translated addresses. */
  replySrc: string
  replyDst: string
  replySport: number
  replyDport: number
  line: string
}

export interface WanLab {
  id: string
  group: NamespaceGroup
  publicNodes: PublicNode[]
  /** TCP and QUIC multiaddrs of every public node (for Go's EDGEVPNBOOTSTRAPPEERS). */
  bootstrapPeers: string[]
  /** The TCP multiaddrs only (kairosctl speaks TCP). */
  bootstrapTcp: string[]
  edge: NatSite
  home: NatSite
  /** The home router's UPnP gateway (option `upnp`). */
  upnp?: UpnpGateway
  addSiteHost(site: NatSite): Promise<WanHost>
  addPublicHost(): Promise<WanHost>
  /** The router's connection tracking table. */
  conntrack(site: NatSite): Promise<ConntrackEntry[]>
  /**
   * Waits (bounded) until each of these peers behind NAT has settled as in the field: reserved a
   * slot on a public relay and announced a /p2p-circuit address on the DHT.
   */
  waitForRelayAddresses(peerIds: string[], timeoutMs?: number): Promise<void>
  /** Switches a router between port-preserving and symmetric (random port per flow) NAT, for new flows. */
  setSymmetric(site: NatSite, symmetric: boolean): Promise<void>
  /** Whether an `ss`-style endpoint (`ip:port`) lies inside the lab's address ranges. */
  inLab(endpoint: string): boolean
  /** Throws unless every namespace's routes stay inside the lab (no route out). */
  assertSealed(): Promise<void>
  teardown(): Promise<void>
}

export interface CreateWanLabOptions {
  t?: AfterContext
  /** Number of public nodes (default 5: go-libp2p wants 4 observers and 4 relay candidates). */
  publicNodes?: number
  /**
   * Milliseconds each public node waits before answering a DHT request
   * (default 300): the latency of the real DHT, which netem cannot provide here.
   */
  dhtDelayMs?: number
  /** How many of the public nodes (the last ones) listen on TCP only (default 2). */
  tcpOnlyPublicNodes?: number
  /** Endpoint-dependent (random port) mapping on the routers. */
  symmetric?: { edge?: boolean; home?: boolean }
  /**
   * Run miniupnpd (nftables backend, secure mode, only the LAN may map ports)
   * on the home router, as a home router with UPnP on. `lab.upnp` then exists.
   */
  upnp?: boolean
}

/** miniupnpd on the home router. */
export interface UpnpGateway {
  /** The port mappings miniupnpd installed: the rules of its DNAT chain, one per line. */
  mappings(): Promise<string[]>
  /** miniupnpd's own log (debug mode). */
  logs(): string
}

let wanbootBinary: { binary: string; remove: () => void } | undefined

/** Builds test/go/wanboot once per process (removed at exit). */
export function wanboot(): string {
  if (!wanbootBinary) {
    wanbootBinary = buildGoHelper('wanboot')
    const built = wanbootBinary
    process.once('exit', () => built.remove())
  }
  return wanbootBinary.binary
}

/** Peer ID of the public node with this seed (no network). */
export function wanbootPeerId(seed: string): string {
  return execFileSync(wanboot(), ['-seed', seed, '-id'], { encoding: 'utf8', timeout: 10_000 }).trim()
}

const ip = (args: string[]) => run('ip', args)

function parseConntrack(text: string): ConntrackEntry[] {
  const entries: ConntrackEntry[] = []
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/)
    const proto = cols[2]
    if (!proto) continue
    const all = (key: string) => cols.filter((c) => c.startsWith(`${key}=`)).map((c) => c.slice(key.length + 1))
    const [src, replySrc] = all('src')
    const [dst, replyDst] = all('dst')
    const [sport, replySport] = all('sport').map(Number)
    const [dport, replyDport] = all('dport').map(Number)
    if (!src || !dst || !replySrc || !replyDst) continue
    entries.push({
      proto,
      src,
      dst,
      sport: sport ?? 0,
      dport: dport ?? 0,
      replySrc,
      replyDst,
      replySport: replySport ?? 0,
      replyDport: replyDport ?? 0,
      line: line.trim(),
    })
  }
  return entries
}

/** Builds the lab and starts the public nodes; everything is removed at teardown (also on failure). */
export async function createWanLab(options: CreateWanLabOptions = {}): Promise<WanLab> {
  const binary = wanboot()
  const group = createNamespaceGroup(options.t)
  const scratch = mkdtempSync(join(tmpdir(), 'kctl-wanlab-'))
  const children: ChildProcess[] = []
  const teardown = async () => {
    await group.teardown()
    rmSync(scratch, { recursive: true, force: true })
  }
  try {
    const sysctl = (ns: string, ...settings: string[]) => run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...settings])
    const newNs = async (suffix: string) => {
      const ns = await group.addNamespace(suffix)
      await sysctl(ns, 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1')
      return ns
    }
    const inet = await newNs('inet')
    await ip(['-n', inet, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0'])
    await ip(['-n', inet, 'link', 'set', 'br0', 'up'])
    let port = 0
    /** A veth from the internet bridge to `ns` (named `dev` there) with `cidr` on it. */
    const plugIntoInternet = async (ns: string, dev: string, cidr: string) => {
      const p = `p${port++}`
      await ip(['-n', inet, 'link', 'add', p, 'type', 'veth', 'peer', 'name', dev, 'netns', ns])
      await ip(['-n', inet, 'link', 'set', p, 'master', 'br0'])
      await ip(['-n', inet, 'link', 'set', p, 'up'])
      await ip(['-n', ns, 'addr', 'add', cidr, 'dev', dev])
      await ip(['-n', ns, 'link', 'set', dev, 'up'])
    }

    const site = async (name: 'edge' | 'home', tag: string, wanIp: string, lanSubnet: string, symmetric: boolean, upnp = false): Promise<NatSite> => {
      const router = await newNs(`nat${tag}`)
      await plugIntoInternet(router, 'wan0', `${wanIp}/16`)
      await ip(['-n', router, 'link', 'add', 'lan', 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0'])
      await ip(['-n', router, 'addr', 'add', `${lanSubnet}.1/24`, 'dev', 'lan'])
      await ip(['-n', router, 'link', 'set', 'lan', 'up'])
      await sysctl(router, 'net.ipv4.ip_forward=1')
      const rules = join(scratch, `${name}.nft`)
      writeFileSync(
        rules,
        [
          'table ip nat {',
          '  chain post {',
          '    type nat hook postrouting priority 100; policy accept;',
          `    oifname "wan0" masquerade${symmetric ? ' random' : ''}`,
          '  }',
          '}',
          'table ip filter {',
          // Unsolicited packets to the router itself are dropped before their conntrack entry is
          // confirmed: a punch packet that arrives before our own outbound one must not claim the
          // port pair, or masquerade would move our flow to another port (home routers drop too).
          '  chain wan_in {',
          '    type filter hook input priority 0; policy accept;',
          '    iifname "wan0" ct state new drop',
          '  }',
          '  chain lan_out {',
          '    type filter hook forward priority 0; policy drop;',
          '    ct state established,related accept',
          '    iifname "lan" oifname "wan0" accept',
          // Port forwardings (miniupnpd's DNAT rules) let inbound flows through, as on a home router.
          ...(upnp ? ['    iifname "wan0" oifname "lan" ct status dnat accept'] : []),
          '  }',
          '}',
          // The chains miniupnpd fills (its nft_init.sh layout, in a table of its own).
          ...(upnp
            ? [
                'table inet upnp {',
                '  chain miniupnpd {',
                '  }',
                '  chain prerouting {',
                '    type nat hook prerouting priority -100; policy accept;',
                '    jump prerouting_miniupnpd',
                '  }',
                '  chain postrouting {',
                '    type nat hook postrouting priority 99; policy accept;',
                '    jump postrouting_miniupnpd',
                '  }',
                '  chain prerouting_miniupnpd {',
                '  }',
                '  chain postrouting_miniupnpd {',
                '  }',
                '}',
              ]
            : []),
          '',
        ].join('\n'),
      )
      await group.exec(router, 'nft', ['-f', rules])
      return { name, router, wanIp, lanSubnet, hosts: [] }
    }
    const edge = await site('edge', 'E', '11.0.1.1', '192.168.10', options.symmetric?.edge ?? false)
    const home = await site('home', 'H', '11.0.2.1', '192.168.20', options.symmetric?.home ?? false, options.upnp ?? false)

    let upnp: UpnpGateway | undefined
    if (options.upnp) {
      const conf = join(scratch, 'miniupnpd.conf')
      writeFileSync(
        conf,
        [
          'ext_ifname=wan0',
          'listening_ip=lan',
          'http_port=5000',
          'enable_upnp=yes',
          'enable_natpmp=no',
          'secure_mode=yes',
          'system_uptime=yes',
          'notify_interval=60',
          'clean_ruleset_interval=600',
          'uuid=3f1c6a52-0d6c-4d6e-9d4a-6b1a2f0e7c11',
          `lease_file=${join(scratch, 'upnp.leases')}`,
          'upnp_table_name=upnp',
          'upnp_nat_table_name=upnp',
          'upnp_forward_chain=miniupnpd',
          'upnp_nat_chain=prerouting_miniupnpd',
          'upnp_nat_postrouting_chain=postrouting_miniupnpd',
          `allow 1024-65535 ${home.lanSubnet}.0/24 1024-65535`,
          'deny 0-65535 0.0.0.0/0 0-65535',
          '',
        ].join('\n'),
      )
      // -d: foreground with its log on stderr; -P: a pid file of its own (the default is shared).
      const child = group.spawn(home.router, 'miniupnpd', ['-d', '-f', conf, '-P', join(scratch, 'miniupnpd.pid')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      })
      // Stopped with the namespaces at teardown (the group kills what runs in them).
      let log = ''
      const append = (c: Buffer) => {
        log = (log + c.toString('utf8')).slice(-64_000)
      }
      child.stdout?.on('data', append)
      child.stderr?.on('data', append)
      ;(child.stdout as unknown as { unref?: () => void } | null)?.unref?.()
      ;(child.stderr as unknown as { unref?: () => void } | null)?.unref?.()
      // Listening once its HTTP port answers on the LAN address.
      await waitFor(
        async () => {
          if (child.exitCode !== null || child.signalCode !== null) throw new StopWaiting(`miniupnpd exited: ${log.slice(-2000)}`)
          const r = await group.exec(home.router, 'ss', ['-Htln', 'sport = :5000'], { allowFailure: true })
          return r.stdout.includes(':5000') || undefined
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'miniupnpd listening' },
      )
      upnp = {
        async mappings() {
          const { stdout } = await group.exec(home.router, 'nft', ['list', 'chain', 'inet', 'upnp', 'prerouting_miniupnpd'])
          return stdout
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => /dnat/.test(l))
        },
        logs: () => log,
      }
    }

    const addSiteHost = async (s: NatSite): Promise<WanHost> => {
      const k = s.hosts.length + 1
      const ns = await newNs(`${s.name === 'edge' ? 'e' : 'h'}${k}`)
      const p = `l${k}`
      await ip(['-n', s.router, 'link', 'add', p, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await ip(['-n', s.router, 'link', 'set', p, 'master', 'lan'])
      await ip(['-n', s.router, 'link', 'set', p, 'up'])
      const addr = `${s.lanSubnet}.${10 + k}`
      await ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0'])
      await ip(['-n', ns, 'link', 'set', 'eth0', 'multicast', 'on', 'up'])
      await ip(['-n', ns, 'route', 'add', 'default', 'via', `${s.lanSubnet}.1`])
      const host = { ns, ip: addr }
      s.hosts.push(host)
      return host
    }
    const publicHosts: WanHost[] = []
    const addPublicHost = async (): Promise<WanHost> => {
      const k = publicHosts.length + 1
      const ns = await newNs(`pub${k}`)
      const addr = `11.0.3.${10 + k}`
      await plugIntoInternet(ns, 'eth0', `${addr}/16`)
      const host = { ns, ip: addr }
      publicHosts.push(host)
      return host
    }

    // ---- public nodes -----------------------------------------------------
    const count = options.publicNodes ?? 5
    const tcpOnly = options.tcpOnlyPublicNodes ?? 2
    const specs = Array.from({ length: count }, (_, i) => {
      const seed = `b${i + 1}`
      const peerId = wanbootPeerId(seed)
      const addr = `11.0.0.${11 + i}`
      const quic = i < count - tcpOnly ? `/ip4/${addr}/udp/4001/quic-v1/p2p/${peerId}` : undefined
      return { seed, peerId, ip: addr, tcp: `/ip4/${addr}/tcp/4001/p2p/${peerId}`, quic }
    })
    const all = specs.flatMap((s) => (s.quic ? [s.tcp, s.quic] : [s.tcp]))
    const publicNodes: PublicNode[] = []
    for (const spec of specs) {
      const ns = await newNs(spec.seed)
      await plugIntoInternet(ns, 'eth0', `${spec.ip}/16`)
      const child = group.spawn(ns, binary, ['-seed', spec.seed, '-ip', spec.ip, '-peers', all.join(','), '-dht-delay', `${options.dhtDelayMs ?? 300}ms`, ...(spec.quic ? [] : ['-tcp-only'])], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch },
      })
      children.push(child)
      ;(child.stdout as unknown as { unref?: () => void } | null)?.unref?.()
      ;(child.stderr as unknown as { unref?: () => void } | null)?.unref?.()
      let out = ''
      let err = ''
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString('utf8')
      })
      child.stderr?.on('data', (c: Buffer) => {
        err = (err + c.toString('utf8')).slice(-64_000)
      })
      const events = () =>
        out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as WanbootEvent)
      publicNodes.push({ ...spec, ns, events, logs: () => `${out}${err}` })
    }
    await waitFor(
      () => {
        for (const [i, node] of publicNodes.entries()) {
          const c = children[i]
          if (c.exitCode !== null || c.signalCode !== null) throw new StopWaiting(`wanboot ${node.seed} exited: ${node.logs().slice(-2000)}`)
        }
        return publicNodes.every((n) => n.events().some((e) => e.event === 'ready')) || undefined
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'public nodes ready' },
    )

    const lab: WanLab = {
      id: group.id,
      group,
      publicNodes,
      bootstrapPeers: all,
      bootstrapTcp: specs.map((s) => s.tcp),
      edge,
      home,
      upnp,
      addSiteHost,
      addPublicHost,
      async waitForRelayAddresses(peerIds, timeoutMs = 180_000) {
        await waitFor(
          () => {
            const ev = publicNodes.flatMap((n) => n.events())
            return (
              peerIds.every((id) => ev.some((x) => x.event === 'reserve' && x.peer === id)) &&
              peerIds.every((id) =>
                ev.some((x) => x.event === 'dht' && x.type === 'ADD_PROVIDER' && x.from === id && Array.isArray(x.addrs) && x.addrs.some((a) => String(a).includes('/p2p-circuit'))),
              )
            )
          },
          { timeoutMs, intervalMs: 500, what: 'nodes behind NAT announcing relay addresses' },
        )
      },
      async setSymmetric(s, symmetric) {
        await group.exec(s.router, 'nft', ['flush', 'chain', 'ip', 'nat', 'post'])
        await group.exec(s.router, 'nft', ['add', 'rule', 'ip', 'nat', 'post', 'oifname', 'wan0', 'masquerade', ...(symmetric ? ['random'] : [])])
      },
      async conntrack(s) {
        const { stdout } = await group.exec(s.router, 'cat', ['/proc/net/nf_conntrack'])
        return parseConntrack(stdout)
      },
      inLab(endpoint) {
        const host = endpoint
          .replace(/:\d+$/, '')
          .replace(/^\[|\]$/g, '')
          .replace(/^::ffff:/, '')
        return LAB_RANGES.some((r) => r.test(host))
      },
      async assertSealed() {
        for (const ns of group.list()) {
          const { stdout } = await group.exec(ns, 'ip', ['-4', 'route', 'show'])
          for (const route of stdout.split('\n').filter(Boolean)) {
            const dest = route.split(' ')[0]
            const isSiteHost = edge.hosts.concat(home.hosts).some((h) => h.ns === ns)
            const ok = /^(11\.0\.0\.0\/16|192\.168\.(10|20)\.0\/24|10\.1\.0\.0\/24|224\.0\.0\.0\/4)$/.test(dest) || (dest === 'default' && isSiteHost && / via 192\.168\.(10|20)\.1 /.test(`${route} `))
            if (!ok) throw new Error(`namespace ${ns} has a route out of the lab: ${route}`)
          }
        }
      },
      teardown,
    }
    return lab
  } catch (err) {
    await teardown()
    throw err
  }
}
