import assert from 'node:assert/strict'
import { test } from 'node:test'
import { syncTimeoutError } from '../../src/peer/join.js'
import type { DiscoveryReport } from '../../src/peer/peer.js'

const base: DiscoveryReport = { modes: ['DHT rendezvous (public Amino DHT)'], connectedPeers: 0, topicPeers: 0, blocksReceived: 0, blockSenders: 0 }
const dht = (d: Partial<NonNullable<DiscoveryReport['dht']>>): DiscoveryReport['dht'] => ({
  bootstrapPeers: 5,
  bootstrapReached: 5,
  rounds: 3,
  lookups: 3,
  providersFound: 0,
  providersConnected: 0,
  providersDirect: 0,
  redialling: 0,
  source: 'public',
  ...d,
})

test('join timeout: nodes announced on the DHT but none reachable names NAT and what to do', () => {
  const e = syncTimeoutError({ ...base, connectedPeers: 5, dht: dht({ providersFound: 2 }) }, 30_000)
  assert.equal(
    e.message,
    'found 2 node(s) of this network through the DHT rendezvous but could not connect to any within 30s, neither directly nor through a relay (they are behind NAT and announce no relay address yet)',
  )
  assert.match(e.hint ?? '', /make one node reachable .* or pass --bootstrap-peer/)
})

test('join timeout: reached through a relay only names the failed hole punch', () => {
  const e = syncTimeoutError({ ...base, connectedPeers: 5, dht: dht({ providersFound: 2, providersConnected: 2 }) }, 30_000)
  assert.match(e.message, /^found 2 node\(s\) .* and reached 2 through a relay, but no direct connection came up within 30s: hole punching failed \(one of the NATs may be symmetric\)/)
  assert.match(e.hint ?? '', /make one node reachable .* or pass --bootstrap-peer/)
  // Once a direct connection came up, the timeout is about the ledger, not NAT.
  assert.doesNotMatch(syncTimeoutError({ ...base, connectedPeers: 5, dht: dht({ providersFound: 2, providersConnected: 2, providersDirect: 1 }) }, 30_000).message, /hole punching/)
})

test('join timeout: no bootstrap peer answered (public list: internet and DNS; explicit: the addresses)', () => {
  const pub = syncTimeoutError({ ...base, dht: dht({ bootstrapReached: 0 }) }, 10_000)
  assert.equal(pub.message, 'could not reach any of the 5 DHT bootstrap peer(s) within 10s (tried DHT rendezvous (public Amino DHT))')
  assert.match(pub.hint ?? '', /internet access and DNS/)
  const mine = syncTimeoutError({ ...base, modes: ['DHT rendezvous', '1 bootstrap peer(s)'], dht: dht({ bootstrapPeers: 1, bootstrapReached: 0, source: 'explicit' }) }, 10_000)
  assert.match(mine.hint ?? '', /check the --bootstrap-peer addresses/)
})

test('join timeout: the DHT answered but nobody announced this network', () => {
  const e = syncTimeoutError({ ...base, connectedPeers: 5, dht: dht({}) }, 20_000)
  assert.match(e.message, /^reached 5 of 5 DHT bootstrap peer\(s\), but no node of this network announced itself on the DHT within 20s/)
  assert.match(e.hint ?? '', /check the network token/)
})

test('join timeout without the DHT keeps the earlier messages', () => {
  assert.match(syncTimeoutError({ ...base, modes: ['1 bootstrap peer(s)'] }, 3_000).message, /^no EdgeVPN peers found within 3s \(tried 1 bootstrap peer/)
  assert.match(syncTimeoutError({ ...base, connectedPeers: 1, modes: ['mDNS'] }, 3_000).message, /^connected to 1 peer\(s\) \(0 on this token's gossip topic\)/)
})
