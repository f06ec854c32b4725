/**
 * A 20-node network converges: 10 Go EdgeVPN v0.35.3 nodes (ownership
 * enforce) and 10 of our peers (in-process, joined with `joinNetwork`) on
 * loopback, linked by bootstrap peers into one chain that alternates Go and
 * TS nodes:
 *
 *   ts0 ← go0 → ts1 ← go1 → ts2 ← … → ts9 ← go9
 *
 * (`a → b`: a has b as its bootstrap peer and dials it.) Every Go node dials
 * one of our peers and every TS peer but the first dials one Go node, so both
 * directions of dialling are used, and every key written at one end has to be
 * relayed by both implementations on its way to the other end. Each node
 * writes one key; every node must then see all 20.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { joinNetwork, type PeerLedgerAccess } from '../../src/ledger-access/network.js'
import { parseToken } from '../../src/token/token.js'
import { apiBucket, apiPut, freePort, generateGoToken, isLoopbackEndpoint, requireGoPeer, startGoPeer, type GoPeer } from '../helpers/go-peer.js'
import { waitFor } from '../helpers/wait.js'

const GO = 'v0.35.3'
const PAIRS = 10
const BUCKET = 'scale'
const CONVERGE_MS = 120_000

interface Identity {
  key: PrivateKey
  id: string
  port: number
  addr: string
}

async function identity(): Promise<Identity> {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const port = await freePort()
  return { key, id, port, addr: `/ip4/127.0.0.1/tcp/${port}/p2p/${id}` }
}

/** Whether every port has a listening TCP socket on the host (read with `ss`, no connection made). */
function listening(ports: number[]): boolean {
  const res = spawnSync('ss', ['-H', '-l', '-t', '-n'], { encoding: 'utf8', timeout: 5_000 })
  if (res.status !== 0) return false
  return ports.every((p) => res.stdout.includes(`127.0.0.1:${p} `))
}

test(`${2 * PAIRS}-node network (${PAIRS} Go ${GO} enforce + ${PAIRS} TS peers) converges on every node's key`, async (t) => {
  if (!requireGoPeer(GO, t)) return
  const token = generateGoToken({ version: GO })
  const ts = await Promise.all(Array.from({ length: PAIRS }, identity))
  const go = await Promise.all(Array.from({ length: PAIRS }, identity))
  const started = Date.now()

  // Our peers first (they must listen before the Go nodes dial them): ts[i] dials go[i-1].
  const joins = ts.map((me, i) =>
    joinNetwork({
      token: parseToken(token),
      privateKey: me.key,
      listen: [`/ip4/127.0.0.1/tcp/${me.port}`],
      mdns: false,
      dht: false,
      bootstrapPeers: i === 0 ? [] : [go[i - 1].addr],
      ownership: 'auto',
      ownershipTtl: 120,
      syncIntervalMs: 2_000,
      timeoutMs: 60_000,
    }),
  )
  // Every joined peer is stopped at the end, also when a join fails (a pending join ends within its timeout).
  const settled = Promise.allSettled(joins)
  t.after(async () => {
    for (const r of await settled) if (r.status === 'fulfilled') await r.value.close().catch(() => {})
  })
  await waitFor(() => listening(ts.map((p) => p.port)), { timeoutMs: 30_000, intervalMs: 50, what: 'our peers listening' })

  // Go nodes: go[i] dials ts[i] (its only bootstrap peer; DHT and mDNS off).
  const goPeers: GoPeer[] = await Promise.all(
    go.map((me, i) =>
      startGoPeer({
        version: GO,
        token,
        ownership: 'enforce',
        listen: [`/ip4/127.0.0.1/tcp/${me.port}`],
        privkey: privateKeyToProtobuf(me.key),
        bootstrapPeers: [ts[i].addr],
        t,
      }),
    ),
  )
  for (const [i, g] of goPeers.entries()) assert.equal(g.peerId, go[i].id, 'Go node uses the identity given')

  const results = await settled
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`ts${i}: ${(r.reason as Error).message}`] : []))
  assert.deepEqual(failed, [], 'every TS peer joined')
  const ours = results.map((r) => (r as PromiseFulfilledResult<PeerLedgerAccess>).value)
  t.diagnostic(`all ${2 * PAIRS} nodes up and our peers synced after ${Date.now() - started} ms`)

  // Our peers write signed entries once they have seen the network's (signed) ledger.
  await waitFor(() => ours.every((a) => a.peer.effectiveMode === 'enforce'), { timeoutMs: 30_000, what: 'our peers detecting ownership enforce' })

  // Every node writes one key.
  const expected: Record<string, string> = {}
  for (let i = 0; i < PAIRS; i++) {
    expected[`go${i}`] = `"value-go${i}"`
    expected[`ts${i}`] = `"value-ts${i}"`
  }
  const writesAt = Date.now()
  await Promise.all([...goPeers.map((g, i) => apiPut(g.api, BUCKET, `go${i}`, `value-go${i}`)), ...ours.map((a, i) => a.put(BUCKET, `ts${i}`, `value-ts${i}`, { timeoutMs: 60_000 }))])
  t.diagnostic(`all writes done (ours confirmed by a peer) after ${Date.now() - writesAt} ms`)

  // Every node eventually sees all 20 keys with their values.
  const missing = async (): Promise<string[]> => {
    const out: string[] = []
    const views = await Promise.all([
      ...goPeers.map(async (g, i) => ({ name: `go${i}`, bucket: (await apiBucket(g.api, BUCKET, { timeoutMs: 5_000 }).catch(() => null)) ?? {} })),
      ...ours.map(async (a, i) => ({ name: `ts${i}`, bucket: (await a.data())[BUCKET] ?? {} })),
    ])
    for (const v of views) {
      const lacking = Object.keys(expected).filter((k) => v.bucket[k] !== expected[k])
      if (lacking.length > 0) out.push(`${v.name} lacks ${lacking.join(',')}`)
    }
    return out
  }
  let last: string[] = []
  try {
    await waitFor(
      async () => {
        last = await missing()
        return last.length === 0
      },
      { timeoutMs: CONVERGE_MS, intervalMs: 1_000, what: `all ${2 * PAIRS} keys on all ${2 * PAIRS} nodes` },
    )
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${last.join('\n')}`, { cause: err })
  }
  t.diagnostic(`converged ${Date.now() - writesAt} ms after the writes started (${Date.now() - started} ms after start)`)
  for (const g of goPeers) {
    assert.ok(g.running(), `Go node ${g.peerId} still running`)
    // Hygiene: loopback only.
    for (const ep of await g.remoteEndpoints()) assert.ok(isLoopbackEndpoint(ep), `${g.peerId} talks to ${ep}`)
  }
})
