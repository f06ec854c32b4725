import assert from 'node:assert/strict'
import { test } from 'node:test'
import '../helpers/cli.js'
import { AMINO_BOOTSTRAP_PEERS, NO_PUBLIC_DHT_ENV, dhtBootstrap, publicDhtDisabled } from '../../src/peer/bootstrap-list.js'

test('no bootstrap peer given: the DHT starts from the same public list as Go EdgeVPN', () => {
  // go-libp2p-kad-dht v0.41.0 DefaultBootstrapPeers (dht_bootstrap.go), which EdgeVPN uses when EDGEVPNBOOTSTRAPPEERS is empty.
  assert.deepEqual(dhtBootstrap([], true, {}), {
    source: 'public',
    peers: [
      '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
      '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
      '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
      '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
      '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ',
    ],
  })
  assert.ok(Object.isFrozen(AMINO_BOOTSTRAP_PEERS))
})

test('explicit bootstrap peers replace the public list; no DHT, no list', () => {
  const mine = ['/ip4/11.0.0.11/tcp/4001/p2p/12D3KooWHK4i7MQ6VC6Wnbbi6ohocFyX4fjkvXr27LfXRog8ymLi']
  assert.deepEqual(dhtBootstrap(mine, true, {}), { source: 'explicit', peers: mine })
  assert.deepEqual(dhtBootstrap([], false, {}), { source: 'none', peers: [] })
})

test(`${NO_PUBLIC_DHT_ENV} empties the public list, explicit peers still apply`, () => {
  for (const on of ['1', 'true', 'yes']) assert.deepEqual(dhtBootstrap([], true, { [NO_PUBLIC_DHT_ENV]: on }), { source: 'none', peers: [] })
  for (const off of ['', '0', 'false']) assert.equal(dhtBootstrap([], true, { [NO_PUBLIC_DHT_ENV]: off }).source, 'public')
  assert.equal(dhtBootstrap(['/ip4/127.0.0.1/tcp/1/p2p/x'], true, { [NO_PUBLIC_DHT_ENV]: '1' }).source, 'explicit')
})

test('every test process, and so every CLI and peer the tests start, has the public list switched off', () => {
  // Set by test/helpers/hygiene.ts (imported by the helpers, here through cli.js) even when the caller's
  // environment lacks it; children inherit it.
  assert.equal(publicDhtDisabled(), true, `${NO_PUBLIC_DHT_ENV} must be set by the test helpers`)
  assert.equal(dhtBootstrap([], true).source, 'none')
})
