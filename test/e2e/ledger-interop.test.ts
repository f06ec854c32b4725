/**
 * The lightweight peer against real Go EdgeVPN nodes on loopback: reads,
 * writes and deletes both ways, for each ledger flavour the network can run.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { joinNetwork, type PeerLedgerAccess } from '../../src/ledger-access/network.js'
import { parseToken } from '../../src/token/token.js'
import { apiBucket, apiGet, apiPut, apiDelete, generateGoToken, requireGoPeer, startGoPeer, waitForKey, type GoPeer } from '../helpers/go-peer.js'
import { waitFor } from '../helpers/wait.js'

interface Flavour {
  name: string
  version: string
  ownership?: 'off' | 'enforce'
  /** What our peer should detect in auto mode. */
  expectMode: 'off' | 'enforce'
}

const FLAVOURS: Flavour[] = [
  { name: 'v0.35.3 enforce (Kairos default)', version: 'v0.35.3', ownership: 'enforce', expectMode: 'enforce' },
  { name: 'v0.35.3 --ownership off', version: 'v0.35.3', ownership: 'off', expectMode: 'off' },
  { name: 'v0.34.0 legacy', version: 'v0.34.0', expectMode: 'off' },
  { name: 'v0.35.4 enforce', version: 'v0.35.4', ownership: 'enforce', expectMode: 'enforce' },
]

async function join(token: string, go: GoPeer): Promise<PeerLedgerAccess> {
  return joinNetwork({
    token: parseToken(token),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    dht: false,
    bootstrapPeers: [go.p2pAddrs[0]],
    ownership: 'auto',
    ownershipTtl: 120,
    timeoutMs: 30_000,
  })
}

for (const f of FLAVOURS) {
  describe(`ledger interop with Go ${f.name}`, () => {
    test('reads, writes and deletes both ways', async (t) => {
      if (!requireGoPeer(f.version, t)) return
      const token = generateGoToken({ version: f.version === 'v0.35.4' ? 'v0.35.3' : f.version })
      const go = await startGoPeer({ version: f.version, token, ownership: f.ownership, t })
      // Go -> us: a key written through the Go node's API is read through the token.
      await apiPut(go.api, 'interop', 'from-go', 'hello-from-go')
      await waitForKey(go.api, 'interop', 'from-go', '"hello-from-go"', { timeoutMs: 30_000 })
      const access = await join(token, go)
      t.after(() => access.close())
      const got = await waitFor(async () => access.get('interop', 'from-go'), { timeoutMs: 30_000, what: 'the Go key in our ledger' })
      assert.equal(got, '"hello-from-go"')
      assert.equal(access.peer.effectiveMode, f.expectMode, 'ownership mode detected from the network')

      // us -> Go: a key written through the token is returned by the Go API.
      await access.put('interop', 'from-us', 'hello from kairosctl', { timeoutMs: 30_000 })
      assert.equal(await waitForKey(go.api, 'interop', 'from-us', '"hello from kairosctl"', { timeoutMs: 30_000 }), '"hello from kairosctl"')

      // An update of our own key reaches Go too (versions move forward).
      await access.put('interop', 'from-us', 'updated', { timeoutMs: 30_000 })
      await waitForKey(go.api, 'interop', 'from-us', '"updated"', { timeoutMs: 30_000 })

      // Deletes: ours reaches Go; Go's reaches us.
      await access.delete('interop', 'from-us', { timeoutMs: 30_000 })
      await waitFor(async () => ((await apiGet(go.api, 'interop', 'from-us')) === '' ? true : undefined), { timeoutMs: 30_000, what: 'our delete on the Go node' })
      await apiDelete(go.api, 'interop', 'from-go')
      await waitFor(async () => ((await access.get('interop', 'from-go')) === undefined ? true : undefined), { timeoutMs: 30_000, what: 'the Go delete in our ledger' })
      // v0.35 answers null for a bucket with no live keys, v0.34 an empty object.
      assert.deepEqual(Object.keys((await apiBucket(go.api, 'interop')) ?? {}), [])
    })
  })
}

describe('ownership enforcement by a Go v0.35.3 node', () => {
  test('accepts our signed machines entry and rejects one that claims another peer', async (t) => {
    if (!requireGoPeer('v0.35.3', t)) return
    const token = generateGoToken({ version: 'v0.35.3' })
    const go = await startGoPeer({ version: 'v0.35.3', token, ownership: 'enforce', t })
    const access = await join(token, go)
    t.after(() => access.close())
    await waitFor(async () => (access.peer.effectiveMode === 'enforce' && access.peer.ledger.getKey('healthcheck', go.peerId) ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the Go healthcheck (signed) in our ledger',
    })
    const machine = (id: string, ip: string) => ({ PeerID: id, Hostname: 'test', OS: 'linux', Arch: 'amd64', Address: ip, Version: '' })
    access.peer.ledger.put('healthcheck', access.peer.id, new Date().toISOString().replace(/\.\d+Z$/, 'Z'))
    access.peer.ledger.put('machines', '10.1.0.50', machine(access.peer.id, '10.1.0.50'))
    // Signed by us, but the value names the Go node as the machine's owner: a forgery.
    access.peer.ledger.put('machines', '10.1.0.51', machine(go.peerId, '10.1.0.51'))
    await access.peer.announce()
    const ours = await waitFor(async () => (await apiBucket(go.api, 'machines'))?.['10.1.0.50'], { timeoutMs: 30_000, what: 'our machine on the Go node' })
    assert.match(ours, new RegExp(access.peer.id))
    await waitFor(async () => (/value owner does not match signer/.test(go.logs()) ? true : undefined), { timeoutMs: 30_000, what: 'the rejection in the Go log' })
    assert.equal((await apiBucket(go.api, 'machines'))?.['10.1.0.51'], undefined)
  })
})
