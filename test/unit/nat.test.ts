import assert from 'node:assert/strict'
import { test } from 'node:test'
import { natmapEnabled, natReport, publicIp } from '../../src/peer/nat/reachability.js'
import { renderStatus } from '../../src/cli/render/status.js'
import { buildStatus } from '../../src/status/build.js'

test('natmap: on unless switched off; KAIROSCTL_NO_PUBLIC_DHT=1 switches the default off, an explicit flag wins', () => {
  assert.equal(natmapEnabled(undefined, {}), true)
  assert.equal(natmapEnabled(false, {}), false)
  assert.equal(natmapEnabled(undefined, { KAIROSCTL_NO_PUBLIC_DHT: '1' }), false)
  assert.equal(natmapEnabled(true, { KAIROSCTL_NO_PUBLIC_DHT: '1' }), true)
  assert.equal(natmapEnabled(undefined, { KAIROSCTL_NO_PUBLIC_DHT: '0' }), true)
})

test('publicIp: private, loopback, documentation, shared and relayed addresses are not public', () => {
  assert.equal(publicIp('/ip4/11.0.2.1/tcp/4001'), '11.0.2.1')
  assert.equal(publicIp('/ip6/2a01:4f8::1/tcp/4001'), '2a01:4f8::1')
  for (const a of [
    '/ip4/192.168.20.11/tcp/1',
    '/ip4/10.1.0.1/tcp/1',
    '/ip4/100.64.0.1/tcp/1',
    '/ip4/127.0.0.1/tcp/1',
    '/ip4/203.0.113.5/tcp/1',
    '/ip6/::1/tcp/1',
    '/ip6/fe80::1/tcp/1',
    '/ip6/fd00::1/tcp/1',
    '/dns4/example.com/tcp/1',
    '/ip4/11.0.0.11/tcp/4001/p2p/12D3KooWA/p2p-circuit',
  ]) {
    assert.equal(publicIp(a), undefined, a)
  }
})

test('natReport: reachability from what verified our public addresses', () => {
  const ma = (s: string) => ({ toString: () => s })
  const lan = { multiaddr: ma('/ip4/192.168.20.11/tcp/40000'), verified: true, type: 'transport' }
  const mapped = { multiaddr: ma('/ip4/11.0.2.1/tcp/40000'), verified: true, type: 'ip-mapping' }
  const observed = { multiaddr: ma('/ip4/11.0.2.1/tcp/51000'), verified: false, type: 'observed' }
  assert.deepEqual(natReport([lan], false), { reachability: 'private', observed: [], mapped: [], natmap: false })
  assert.deepEqual(natReport([lan, observed], true), { reachability: 'unknown', observed: ['/ip4/11.0.2.1/tcp/51000'], mapped: [], natmap: true })
  assert.deepEqual(natReport([lan, observed, mapped], true), { reachability: 'public', observed: ['/ip4/11.0.2.1/tcp/51000'], mapped: ['/ip4/11.0.2.1/tcp/40000'], natmap: true })
})

test('status: the NAT view of a joined peer, null for an API', () => {
  const inputs = { source: 'network' as const, summary: { NodeID: 'peer-x' }, machines: [], healthcheck: {} }
  assert.equal(buildStatus({ ...inputs, source: 'api' }).nat, null)
  const s = buildStatus({ ...inputs, nat: { reachability: 'public', observed: [], mapped: ['/ip4/11.0.2.1/tcp/40000'], natmap: true } })
  assert.deepEqual(s.nat, { reachability: 'public', observed: [], mapped: ['/ip4/11.0.2.1/tcp/40000'], natmap: true })
  assert.match(renderStatus(s), /reach\s+public \(dialable from the internet\); UPnP mapped \/ip4\/11\.0\.2\.1\/tcp\/40000/)
  assert.match(renderStatus(buildStatus({ ...inputs, nat: { reachability: 'private', observed: [], mapped: [], natmap: false } })), /reach\s+private .*; UPnP off/)
})
