import assert from 'node:assert/strict'
import { test } from 'node:test'
import { prometheusText, transportOf, type MetricsSnapshot } from '../../src/api/metrics.js'
import type { ApiBackend } from '../../src/api/backend.js'
import { respond } from '../../src/api/respond.js'
import { emptyRouterStats } from '../../src/vpn/router.js'

const snapshot: MetricsSnapshot = {
  ledgerHeight: 42,
  blocksReceived: 7,
  topicPeers: 2,
  connectedPeers: 3,
  blockSenders: 1,
  connections: [
    { direction: 'outbound', type: 'direct', transport: 'tcp', limited: false },
    { direction: 'outbound', type: 'direct', transport: 'tcp', limited: false },
    { direction: 'inbound', type: 'relayed', transport: 'tcp', limited: true },
    { direction: 'outbound', type: 'direct', transport: 'quic', limited: false },
  ],
  dht: {
    routingTablePeers: 17,
    rounds: 4,
    lookups: 8,
    bootstrapPeers: 5,
    bootstrapReached: 3,
    providersFound: 2,
    providersConnected: 1,
    providersDirect: 1,
    holePunches: { requests: 3, started: 4, punched: 1, failed: 2 },
    redialling: 1,
  },
  vpn: {
    stats: {
      ...emptyRouterStats(),
      sent: 10,
      received: 20,
      droppedNoRoute: 1,
      droppedQueueFull: 2,
      droppedSendError: 3,
      droppedTunQueueFull: 15,
      rejectedStreams: 4,
      rejectedStreamsBusy: 8,
      streamsOpened: 5,
      inboundStreams: 9,
      acceptedLight: 13,
      acceptedStreams: 14,
    },
    queued: new Map([
      ['12D3KooWB', 3],
      ['12D3KooWA', 0],
    ]),
    inFlight: 6,
    traffic: new Map([['12D3KooWA', { packetsOut: 11, bytesOut: 1100, packetsIn: 12, bytesIn: 1200 }]]),
  },
}

/** name{labels} → value, from Prometheus text; checks every sample has HELP and TYPE lines before it. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  const typed = new Set<string>()
  for (const line of text.trimEnd().split('\n')) {
    const meta = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line)
    if (meta) {
      if (meta[1] === 'TYPE') typed.add(meta[2])
      continue
    }
    const m = /^(\w+)(\{[^}]*\})? (\d+)$/.exec(line)
    assert.ok(m, `not a sample line: ${line}`)
    assert.ok(typed.has(m[1]), `no TYPE before ${m[1]}`)
    out.set(m[1] + (m[2] ?? ''), Number(m[3]))
  }
  return out
}

test('metrics in Prometheus text: ledger, connections by type, VPN packets, drops by reason, queue depths', () => {
  const s = samples(prometheusText(snapshot))
  assert.equal(s.get('kairosctl_ledger_height'), 42)
  assert.equal(s.get('kairosctl_ledger_blocks_received_total'), 7)
  assert.equal(s.get('kairosctl_topic_peers'), 2)
  assert.equal(s.get('kairosctl_connected_peers'), 3)
  assert.equal(s.get('kairosctl_ledger_block_senders'), 1)
  assert.equal(s.get('kairosctl_connections{direction="outbound",type="direct"}'), 3)
  assert.equal(s.get('kairosctl_connections{direction="inbound",type="relayed"}'), 1)
  assert.equal(s.get('kairosctl_connections{direction="inbound",type="direct"}'), 0)
  assert.equal(s.get('kairosctl_connections_limited'), 1)
  assert.equal(s.get('kairosctl_transport_connections{transport="tcp"}'), 3)
  assert.equal(s.get('kairosctl_transport_connections{transport="quic"}'), 1)
  assert.equal(s.get('kairosctl_dht_routing_table_peers'), 17)
  assert.equal(s.get('kairosctl_dht_rendezvous_rounds_total'), 4)
  assert.equal(s.get('kairosctl_dht_rendezvous_lookups_total'), 8)
  assert.equal(s.get('kairosctl_discovery_peers{source="bootstrap",state="configured"}'), 5)
  assert.equal(s.get('kairosctl_discovery_peers{source="bootstrap",state="reached"}'), 3)
  assert.equal(s.get('kairosctl_discovery_peers{source="rendezvous",state="found"}'), 2)
  assert.equal(s.get('kairosctl_discovery_peers{source="rendezvous",state="connected"}'), 1)
  assert.equal(s.get('kairosctl_discovery_peers{source="rendezvous",state="direct"}'), 1)
  assert.equal(s.get('kairosctl_holepunch_requests_total'), 3)
  assert.equal(s.get('kairosctl_holepunch_started_total'), 4)
  assert.equal(s.get('kairosctl_holepunch_results_total{result="direct"}'), 1)
  assert.equal(s.get('kairosctl_holepunch_results_total{result="failed"}'), 2)
  assert.equal(s.get('kairosctl_discovery_redialling_peers'), 1)
  assert.equal(s.get('kairosctl_vpn_packets_sent_total'), 10)
  assert.equal(s.get('kairosctl_vpn_packets_received_total'), 20)
  assert.equal(s.get('kairosctl_vpn_packets_dropped_total{reason="no_route"}'), 1)
  assert.equal(s.get('kairosctl_vpn_packets_dropped_total{reason="queue_full"}'), 2)
  assert.equal(s.get('kairosctl_vpn_packets_dropped_total{reason="send_error"}'), 3)
  assert.equal(s.get('kairosctl_vpn_packets_dropped_total{reason="tun_queue_full"}'), 15)
  assert.equal(s.get('kairosctl_vpn_streams_rejected_total{reason="not_in_machines"}'), 4)
  assert.equal(s.get('kairosctl_vpn_streams_rejected_total{reason="too_many_open"}'), 8)
  assert.equal(s.get('kairosctl_vpn_inbound_streams'), 9)
  assert.equal(s.get('kairosctl_vpn_inbound_streams_total{way="light"}'), 13)
  assert.equal(s.get('kairosctl_vpn_inbound_streams_total{way="stream"}'), 14)
  assert.equal(s.get('kairosctl_vpn_peer_packets_total{peer="12D3KooWA",direction="out"}'), 11)
  assert.equal(s.get('kairosctl_vpn_peer_packets_total{peer="12D3KooWA",direction="in"}'), 12)
  assert.equal(s.get('kairosctl_vpn_peer_bytes_total{peer="12D3KooWA",direction="out"}'), 1100)
  assert.equal(s.get('kairosctl_vpn_peer_bytes_total{peer="12D3KooWA",direction="in"}'), 1200)
  assert.equal(s.get('kairosctl_vpn_queue_depth{peer="12D3KooWB"}'), 3)
  assert.equal(s.get('kairosctl_vpn_packets_in_flight'), 6)
  // Counters end in _total; nothing else does.
  assert.match(prometheusText(snapshot), /# TYPE kairosctl_vpn_packets_sent_total counter\n/)
  assert.match(prometheusText(snapshot), /# TYPE kairosctl_ledger_height gauge\n/)
  assert.match(prometheusText(snapshot), /# TYPE kairosctl_dht_rendezvous_rounds_total counter\n/)
  // Without a TUN device there is nothing to route: no VPN families. Without the DHT, no DHT or discovery families.
  assert.doesNotMatch(prometheusText({ ...snapshot, vpn: undefined }), /kairosctl_vpn_/)
  const bare = samples(prometheusText({ ...snapshot, dht: undefined, connections: [] }))
  assert.equal(
    [...bare.keys()].some((k) => /^kairosctl_(dht|discovery)_/.test(k)),
    false,
  )
  assert.equal(bare.get('kairosctl_transport_connections{transport="tcp"}'), 0, 'tcp is listed even with no connection')
  assert.equal(bare.get('kairosctl_connections_limited'), 0)
  // Each family's HELP and TYPE once, every sample of it right after them.
  const text = prometheusText(snapshot)
  const names = [...text.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1])
  assert.equal(new Set(names).size, names.length)
  for (const name of names) assert.match(text, new RegExp(`# HELP ${name} [^\n]+\n# TYPE ${name} (counter|gauge)\n(${name}(\\{[^}]*\\})? \\d+\n)+`))
})

test('transport of a connection, from its remote address (relayed: the hop to the relay)', () => {
  assert.equal(transportOf('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWA'), 'tcp')
  assert.equal(transportOf('/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWR/p2p-circuit/p2p/12D3KooWA'), 'tcp')
  assert.equal(transportOf('/ip4/1.2.3.4/udp/4001/quic-v1'), 'quic')
  assert.equal(transportOf('/dns4/x.example/tcp/443/wss'), 'websocket')
  assert.equal(transportOf('/ip4/1.2.3.4/udp/4001/quic-v1/webtransport/certhash/u1'), 'webtransport')
  assert.equal(transportOf('/ip6/::1/udp/9/webrtc-direct'), 'webrtc')
  assert.equal(transportOf('/unix/tmp%2Fs'), 'other')
})

test("GET /metrics serves the backend's text; without metrics it is an unknown path", () => {
  const base = {
    nodeId: () => 'me',
    data: () => ({}),
    lastBlockJson: () => '{}',
    index: () => 0,
    topicPeers: () => [],
    knownPeers: () => [],
    isConnected: () => false,
    persist() {},
    persistJson() {},
    deleteKey() {},
    deleteBucket() {},
  } satisfies ApiBackend
  const reply = respond({ ...base, metrics: () => prometheusText(snapshot) }, 'GET', '/metrics', '')
  assert.equal(reply.status, 200)
  assert.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  assert.equal(samples(reply.text).get('kairosctl_ledger_height'), 42)
  assert.equal(respond(base, 'GET', '/metrics', '').status, 404)
  assert.equal(respond({ ...base, metrics: () => '' }, 'PUT', '/metrics', '').status, 405)
})
