/**
 * A ledger sealed to more than 4 MiB (js gossipsub's old outbound limit) on a
 * Go v0.35.3 network: our peer receives it and its own writes still reach
 * the Go node.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { joinNetwork } from '../../src/ledger-access/network.js'
import { parseToken } from '../../src/token/token.js'
import { apiPut, generateGoToken, requireGoPeer, startGoPeer, waitForKey } from '../helpers/go-peer.js'
import { waitFor } from '../helpers/wait.js'

test('values totalling more than 4 MiB written through the Go API; our writes still reach the Go node', async (t) => {
  if (!requireGoPeer('v0.35.3', t)) return
  const token = generateGoToken({ version: 'v0.35.3' })
  const go = await startGoPeer({ version: 'v0.35.3', token, ownership: 'enforce', t })
  // Hex of random bytes: about 1.1 times its size once gzip'd and sealed; 6 × 0.9 MB is about 6 MB on the wire.
  const keys = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5']
  for (const k of keys) await apiPut(go.api, 'big', k, randomBytes(450_000).toString('hex'), { timeoutMs: 30_000 })
  await waitForKey(go.api, 'big', 'v5', undefined, { timeoutMs: 30_000 })

  const access = await joinNetwork({
    token: parseToken(token),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    dht: false,
    bootstrapPeers: [go.p2pAddrs[0]],
    ownership: 'enforce',
    ownershipTtl: 120,
    timeoutMs: 30_000,
  })
  t.after(() => access.close())
  await waitFor(async () => keys.every((k) => access.peer.ledger.getKey('big', k) !== undefined), { timeoutMs: 30_000, what: 'the large values in our ledger' })
  assert.ok(access.peer.ledger.lastBlock().storage.get('big')!.size === keys.length)

  await access.put('interop', 'from-us', 'after the large values', { timeoutMs: 30_000 })
  assert.equal(await waitForKey(go.api, 'interop', 'from-us', '"after the large values"', { timeoutMs: 30_000 }), '"after the large values"')
  assert.equal(access.peer.unsendable, undefined)
})
