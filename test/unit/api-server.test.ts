import assert from 'node:assert/strict'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { LedgerData } from '../../src/access.js'
import { ApiClient } from '../../src/api/client.js'
import { availableNodes, parseHostPort, route, startApiServer, type ApiBackend } from '../../src/api/server.js'
import { UserError } from '../../src/errors.js'

const ME = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const OTHER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

function fakeBackend(data: LedgerData) {
  const calls: string[] = []
  const backend: ApiBackend = {
    nodeId: () => ME,
    data: () => data,
    lastBlockJson: () => '{"Index":3,"Timestamp":"t","Storage":{"b":{"k":{"Value":"\\"v\\"","Owner":"x","Version":1786000000123456789,"UpdatedAt":1,"Deleted":false,"Sig":null}}},"Hash":"h","PrevHash":"p"}',
    index: () => 3,
    topicPeers: () => [OTHER],
    knownPeers: () => [OTHER, ME],
    isConnected: (id) => id === OTHER,
    persist: (b, k, v) => void calls.push(`persist ${b} ${k} ${v}`),
    persistJson: (b, k, v) => void calls.push(`persistJson ${b} ${k} ${JSON.stringify(v)}`),
    deleteKey: (b, k) => void calls.push(`delete ${b} ${k}`),
    deleteBucket: (b) => void calls.push(`deleteBucket ${b}`),
  }
  return { backend, calls }
}

const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
const data: LedgerData = {
  kairos: { 'ip-master': '"MTAuMS4wLjM="' },
  machines: { '10.1.0.2': JSON.stringify({ PeerID: OTHER, Hostname: 'n2', OS: 'linux', Arch: 'amd64', Address: '10.1.0.2', Version: 'v' }) },
  healthcheck: { [OTHER]: JSON.stringify(now), stale: '"2000-01-01T00:00:00Z"' },
  dns: { 'foo\\.bar': '{"1":"10.1.0.9"}' },
}

test('ledger GET shapes follow EdgeVPN (missing key "", missing bucket null)', () => {
  const { backend } = fakeBackend(data)
  assert.deepEqual(route(backend, 'GET', '/api/ledger', ''), [200, data])
  assert.deepEqual(route(backend, 'GET', '/api/ledger/kairos', ''), [200, data.kairos])
  assert.deepEqual(route(backend, 'GET', '/api/ledger/kairos/ip-master', ''), [200, '"MTAuMS4wLjM="'])
  assert.deepEqual(route(backend, 'GET', '/api/ledger/kairos/nope', ''), [200, ''])
  assert.deepEqual(route(backend, 'GET', '/api/ledger/nope', ''), [200, null])
})

test('writes answer Announcing and take path segments literally', () => {
  const { backend, calls } = fakeBackend(data)
  assert.deepEqual(route(backend, 'PUT', '/api/ledger/kairos/a-role/Im1hc3RlciI=', ''), [200, { State: 'Announcing' }])
  route(backend, 'PUT', '/api/ledger/b/k/a%3Db', '')
  route(backend, 'DELETE', '/api/ledger/b/k', '')
  route(backend, 'DELETE', '/api/ledger/b', '')
  route(backend, 'POST', '/api/dns', JSON.stringify({ Regex: 'x', Records: { A: '1.2.3.4' } }))
  assert.deepEqual(calls, ['persist kairos a-role Im1hc3RlciI=', 'persist b k a%3Db', 'delete b k', 'deleteBucket b', 'persistJson dns x {"1":"1.2.3.4"}'])
})

test('machines, nodes, summary and dns views', () => {
  const { backend } = fakeBackend(data)
  assert.deepEqual(route(backend, 'GET', '/api/machines', '')?.[1], [
    { PeerID: OTHER, Hostname: 'n2', OS: 'linux', Arch: 'amd64', Address: '10.1.0.2', Version: 'v', Connected: true, OnChain: true, Online: true },
  ])
  assert.deepEqual(route(backend, 'GET', '/api/nodes', '')?.[1], [{ ID: OTHER, Online: true }])
  assert.deepEqual(route(backend, 'GET', '/api/summary', '')?.[1], {
    Files: 0, Machines: 1, Users: 0, Services: 0, BlockChain: 3, OnChainNodes: 1, Peers: 2, NodeID: ME,
  })
  assert.deepEqual(route(backend, 'GET', '/api/dns', '')?.[1], [{ Regex: 'foo\\.bar', Records: { A: '10.1.0.9' } }])
  assert.equal(route(backend, 'GET', '/api/nope', ''), undefined)
  assert.deepEqual(availableNodes(data, 60_000), [OTHER])
})

test('serves over TCP and a 0600 unix socket; the client reads both; the blockchain keeps 64-bit versions', async () => {
  const { backend } = fakeBackend(data)
  const dir = await mkdtemp(join(tmpdir(), 'kctl-api-'))
  const tcp = await startApiServer(backend, '127.0.0.1:0')
  const unix = await startApiServer(backend, `unix://${join(dir, 'api.sock')}`)
  try {
    for (const address of [tcp.address, unix.address]) {
      const c = new ApiClient(address)
      assert.deepEqual(await c.ledger(), data)
      assert.equal(await c.ledgerKey('kairos', 'nope'), undefined)
      assert.equal(await c.ledgerKey('kairos', 'ip-master'), '"MTAuMS4wLjM="')
    }
    const res = await fetch(`${tcp.address}/api/blockchain`)
    assert.match(await res.text(), /"Version":1786000000123456789,/)
    assert.equal((await stat(join(dir, 'api.sock'))).mode & 0o777, 0o600)
  } finally {
    await tcp.close()
    await unix.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test('a busy port is one clear error', async () => {
  const blocker = createServer()
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
  const port = (blocker.address() as { port: number }).port
  try {
    await assert.rejects(startApiServer(fakeBackend(data).backend, `127.0.0.1:${port}`), (err: unknown) => {
      assert.ok(err instanceof UserError)
      assert.match(err.line(), /already in use/)
      return true
    })
  } finally {
    blocker.close()
  }
})

test('listen addresses parse or fail clearly', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 })
  assert.deepEqual(parseHostPort(':9'), { host: '127.0.0.1', port: 9 })
  assert.deepEqual(parseHostPort('[::1]:80'), { host: '::1', port: 80 })
  assert.throws(() => parseHostPort('nope'), UserError)
  assert.throws(() => new ApiClient('ftp://x'), UserError)
})
