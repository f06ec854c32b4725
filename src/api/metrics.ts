import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { EdgePeer } from '../peer/peer.js'
import type { Bridge } from '../vpn/bridge.js'
import type { PeerTraffic, VpnSnapshot } from '../vpn/router.js'

/** What /metrics reports: read from the peer and, with a TUN, the bridge's router. */
export interface MetricsSnapshot {
  /** Index of the last ledger block. */
  ledgerHeight: number
  /** Ledger blocks received from the network (changed or not). */
  blocksReceived: number
  /** Peers subscribed to the network's gossip topic. */
  topicPeers: number
  /** Peers with an open connection. */
  connectedPeers: number
  /** Peers that sent at least one ledger block. */
  blockSenders: number
  /** Open libp2p connections; `transport` of the first hop (see transportOf), `limited` under a relay's data or time limit. */
  connections: { direction: 'inbound' | 'outbound'; type: 'direct' | 'relayed'; transport: string; limited: boolean }[]
  /** The DHT and its rendezvous rounds; undefined when the DHT is off. */
  dht?: DhtSnapshot
  /** Undefined without a TUN device (`--no-tun`): no packets are routed. */
  vpn?: VpnSnapshot
}

export interface DhtSnapshot {
  /** Peers in the Kademlia routing table. */
  routingTablePeers: number
  /** Rendezvous rounds and provider lookups completed. */
  rounds: number
  lookups: number
  /** Bootstrap peers dialled each round (explicit, or the public Amino list), and how many answered at least once. */
  bootstrapPeers: number
  bootstrapReached: number
  /** Distinct other peers found announcing the token's rendezvous, and how many we got connected to. */
  providersFound: number
  providersConnected: number
  /** Of those, how many over a direct (not relayed) connection. */
  providersDirect: number
  /** Hole punches asked for by peers over relays, and how they ended. */
  holePunches: { requests: number; started: number; punched: number; failed: number }
  /** Lost network peers being redialled now. */
  redialling: number
}

/**
 * The transport of a connection's first hop, from its remote multiaddr
 * (for a relayed one, the hop to the relay): tcp, quic, websocket,
 * webtransport, webrtc, or other.
 */
export function transportOf(remoteAddr: string): string {
  const hop = remoteAddr.split('/p2p-circuit')[0].split('/')
  if (hop.includes('webrtc-direct') || hop.includes('webrtc')) return 'webrtc'
  if (hop.includes('webtransport')) return 'webtransport'
  if (hop.includes('ws') || hop.includes('wss')) return 'websocket'
  if (hop.includes('quic-v1') || hop.includes('quic')) return 'quic'
  if (hop.includes('tcp')) return 'tcp'
  return 'other'
}

export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

type Labels = Record<string, string>

/** Prometheus text exposition: label values escaped (backslash, quote, newline). */
function family(name: string, type: 'counter' | 'gauge', help: string, samples: [Labels, number][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]
  for (const [labels, value] of samples) {
    const text = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',')
    lines.push(`${name}${text ? `{${text}}` : ''} ${value}`)
  }
  return lines.join('\n') + '\n'
}

/** The snapshot in Prometheus's text format (names `kairosctl_…`, counters `…_total`). */
export function prometheusText(s: MetricsSnapshot): string {
  const byConn = new Map<string, number>()
  for (const c of s.connections) byConn.set(`${c.direction} ${c.type}`, (byConn.get(`${c.direction} ${c.type}`) ?? 0) + 1)
  const connections: [Labels, number][] = []
  for (const direction of ['inbound', 'outbound']) {
    for (const type of ['direct', 'relayed']) connections.push([{ direction, type }, byConn.get(`${direction} ${type}`) ?? 0])
  }
  const byTransport = new Map<string, number>([['tcp', 0]]) // the transport this peer has: always listed
  for (const c of s.connections) byTransport.set(c.transport, (byTransport.get(c.transport) ?? 0) + 1)
  const out = [
    family('kairosctl_ledger_height', 'gauge', 'Index of the last ledger block.', [[{}, s.ledgerHeight]]),
    family('kairosctl_ledger_blocks_received_total', 'counter', 'Ledger blocks received from the network.', [[{}, s.blocksReceived]]),
    family('kairosctl_ledger_block_senders', 'gauge', 'Peers that sent at least one ledger block.', [[{}, s.blockSenders]]),
    family('kairosctl_topic_peers', 'gauge', "Peers subscribed to the network's gossip topic.", [[{}, s.topicPeers]]),
    family('kairosctl_connected_peers', 'gauge', 'Peers with an open libp2p connection.', [[{}, s.connectedPeers]]),
    family('kairosctl_connections', 'gauge', 'Open libp2p connections by direction and type.', connections),
    family('kairosctl_connections_limited', 'gauge', "Open relayed connections under a relay's data or time limit.", [[{}, s.connections.filter((c) => c.limited).length]]),
    family(
      'kairosctl_transport_connections',
      'gauge',
      'Open libp2p connections by transport (of the first hop, for relayed ones).',
      [...byTransport].sort(([a], [b]) => (a < b ? -1 : 1)).map(([transport, n]) => [{ transport }, n]),
    ),
  ]
  if (s.dht) {
    const d = s.dht
    out.push(
      family('kairosctl_dht_routing_table_peers', 'gauge', 'Peers in the Kademlia routing table.', [[{}, d.routingTablePeers]]),
      family('kairosctl_dht_rendezvous_rounds_total', 'counter', 'Rendezvous rounds completed (dial bootstrap peers, advertise, look up).', [[{}, d.rounds]]),
      family('kairosctl_dht_rendezvous_lookups_total', 'counter', 'Lookups of rendezvous providers completed.', [[{}, d.lookups]]),
      family('kairosctl_discovery_peers', 'gauge', 'Peers of each discovery source, by state.', [
        [{ source: 'bootstrap', state: 'configured' }, d.bootstrapPeers],
        [{ source: 'bootstrap', state: 'reached' }, d.bootstrapReached],
        [{ source: 'rendezvous', state: 'found' }, d.providersFound],
        [{ source: 'rendezvous', state: 'connected' }, d.providersConnected],
        [{ source: 'rendezvous', state: 'direct' }, d.providersDirect],
      ]),
      family('kairosctl_holepunch_requests_total', 'counter', 'Hole punches (DCUtR) peers asked us for over a relay.', [[{}, d.holePunches.requests]]),
      family('kairosctl_holepunch_started_total', 'counter', 'Hole punch attempts we started for peers that reached us through our relay.', [[{}, d.holePunches.started]]),
      family('kairosctl_holepunch_results_total', 'counter', 'Hole punches by result.', [
        [{ result: 'direct' }, d.holePunches.punched],
        [{ result: 'failed' }, d.holePunches.failed],
      ]),
      family('kairosctl_discovery_redialling_peers', 'gauge', 'Lost network peers being redialled now.', [[{}, d.redialling]]),
    )
  }
  if (s.vpn) {
    const { stats, queued, inFlight, traffic } = s.vpn
    const peers = [...traffic].sort(([a], [b]) => (a < b ? -1 : 1))
    const perPeer = (out: keyof PeerTraffic, into: keyof PeerTraffic): [Labels, number][] =>
      peers.flatMap(([peer, t]): [Labels, number][] => [
        [{ peer, direction: 'out' }, t[out]],
        [{ peer, direction: 'in' }, t[into]],
      ])
    out.push(
      family('kairosctl_vpn_packets_sent_total', 'counter', 'IP packets sent to peers.', [[{}, stats.sent]]),
      family('kairosctl_vpn_packets_received_total', 'counter', 'IP packets received from peers.', [[{}, stats.received]]),
      family('kairosctl_vpn_packets_dropped_total', 'counter', 'IP packets dropped, by reason.', [
        [{ reason: 'no_route' }, stats.droppedNoRoute],
        [{ reason: 'queue_full' }, stats.droppedQueueFull],
        [{ reason: 'send_error' }, stats.droppedSendError],
        [{ reason: 'tun_queue_full' }, stats.droppedTunQueueFull],
      ]),
      family('kairosctl_vpn_peer_packets_total', 'counter', 'IP packets exchanged with each peer, by direction.', perPeer('packetsOut', 'packetsIn')),
      family('kairosctl_vpn_peer_bytes_total', 'counter', 'Bytes of IP packets exchanged with each peer, by direction.', perPeer('bytesOut', 'bytesIn')),
      family('kairosctl_vpn_streams_opened_total', 'counter', 'VPN streams opened to peers.', [[{}, stats.streamsOpened]]),
      family('kairosctl_vpn_streams_rejected_total', 'counter', 'Inbound VPN streams refused, by reason.', [
        [{ reason: 'not_in_machines' }, stats.rejectedStreams],
        [{ reason: 'too_many_open' }, stats.rejectedStreamsBusy],
      ]),
      family('kairosctl_vpn_inbound_streams', 'gauge', 'Inbound VPN streams open now.', [[{}, stats.inboundStreams]]),
      family('kairosctl_vpn_inbound_streams_total', 'counter', 'Inbound VPN streams accepted, by the way in (light: yamux frames handled without a stream object).', [
        [{ way: 'light' }, stats.acceptedLight],
        [{ way: 'stream' }, stats.acceptedStreams],
      ]),
      family(
        'kairosctl_vpn_queue_depth',
        'gauge',
        'Packets waiting per peer.',
        [...queued].sort(([a], [b]) => (a < b ? -1 : 1)).map(([peer, n]) => [{ peer }, n]),
      ),
      family('kairosctl_vpn_packets_in_flight', 'gauge', 'Packets in flight on streams of their own (per-packet mode).', [[{}, inFlight]]),
    )
  }
  return out.join('')
}

/** A snapshot of a running peer and, when it routes packets, its bridge. */
export function peerMetrics(peer: EdgePeer, bridge?: Bridge): MetricsSnapshot {
  const report = peer.report()
  return {
    ledgerHeight: peer.ledger.lastBlock().index,
    blocksReceived: report.blocksReceived,
    blockSenders: report.blockSenders,
    topicPeers: report.topicPeers,
    connectedPeers: report.connectedPeers,
    connections: peer.host.getConnections().map((c) => {
      const addr = c.remoteAddr.toString()
      return { direction: c.direction, type: addr.includes('/p2p-circuit') ? 'relayed' : 'direct', transport: transportOf(addr), limited: c.limits !== undefined }
    }),
    dht: report.dht && {
      routingTablePeers: (peer.host.services.dht as Partial<SingleKadDHT> | undefined)?.routingTable?.size ?? 0,
      rounds: report.dht.rounds,
      lookups: report.dht.lookups,
      bootstrapPeers: report.dht.bootstrapPeers,
      bootstrapReached: report.dht.bootstrapReached,
      providersFound: report.dht.providersFound,
      providersConnected: report.dht.providersConnected,
      providersDirect: report.dht.providersDirect,
      holePunches: { ...peer.host.services.holePunch.stats },
      redialling: report.dht.redialling,
    },
    vpn: bridge?.vpnSnapshot(),
  }
}
