import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { LedgerData } from '../../src/ledger-access/types.js'
import { ApiClient } from '../../src/api/client.js'
import type { ApiBackend } from '../../src/api/backend.js'
import { encodeBody, goStruct } from '../../src/api/go-body.js'
import { respond, routedPath } from '../../src/api/respond.js'
import { availableNodes, route } from '../../src/api/routes.js'
import { parseHostPort, startApiServer } from '../../src/api/server.js'
import { ExitCode, UserError } from '../../src/errors.js'
import { rawExchange, TOO_LARGE } from '../helpers/raw-http.js'
import { waitUntil, withTimeout } from '../helpers/wait.js'

const ME = '12D3KooWGSt3jzZKFkFWKF6HTGueW1LYaaFrev5iLHXYtDakuKzm'
const OTHER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

function fakeBackend(data: LedgerData) {
  const calls: string[] = []
  const backend: ApiBackend = {
    nodeId: () => ME,
    data: () => data,
    lastBlockJson: () =>
      '{"Index":3,"Timestamp":"t","Storage":{"b":{"k":{"Value":"\\"v\\"","Owner":"x","Version":1786000000123456789,"UpdatedAt":1,"Deleted":false,"Sig":null}}},"Hash":"h","PrevHash":"p"}',
    index: () => 3,
    topicPeers: () => [OTHER],
    knownPeers: () => [OTHER, ME],
    isConnected: (id) => id === OTHER,
    persist: (b, k, v) => void calls.push(`persist ${b} ${k} ${v}`),
    persistJson: (b, k, v) => void calls.push(`persistJson ${b} ${k} ${encodeBody(v)}`),
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
    Files: 0,
    Machines: 1,
    Users: 0,
    Services: 0,
    BlockChain: 3,
    OnChainNodes: 1,
    Peers: 2,
    NodeID: ME,
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

test("answers are what EdgeVPN's server sends: Go JSON, sorted map keys, a newline, application/json", () => {
  const { backend } = fakeBackend({
    b: { z: '"1"', a: '"<&>"', '10': '"x"', '9': '"y"' },
    a: { k: '"v"' },
  })
  const ledger = respond(backend, 'GET', '/api/ledger', '')
  assert.equal(ledger.status, 200)
  assert.deepEqual(ledger.headers, { 'content-type': 'application/json' })
  assert.equal(ledger.text, '{"a":{"k":"\\"v\\""},"b":{"10":"\\"x\\"","9":"\\"y\\"","a":"\\"\\u003c\\u0026\\u003e\\"","z":"\\"1\\""}}\n')
  assert.equal(respond(backend, 'GET', '/api/ledger/b/a', '').text, '"\\"\\u003c\\u0026\\u003e\\""\n')
  assert.equal(respond(backend, 'GET', '/api/ledger/b/nope', '').text, '""\n')
  assert.equal(respond(backend, 'GET', '/api/ledger/nope', '').text, 'null\n')
  // Names of Object.prototype members are ordinary missing keys.
  assert.equal(respond(backend, 'GET', '/api/ledger/constructor', '').text, 'null\n')
  assert.equal(respond(backend, 'GET', '/api/ledger/b/toString', '').text, '""\n')
  // Struct fields keep Go's declaration order.
  assert.equal(respond(backend, 'GET', '/api/summary', '').text, `{"Files":0,"Machines":0,"Users":0,"Services":0,"BlockChain":3,"OnChainNodes":1,"Peers":2,"NodeID":"${ME}"}\n`)
  assert.equal(respond(backend, 'PUT', '/api/ledger/b/k/v', '').text, '{"State":"Announcing"}\n')
})

test('requests no route takes: 404 text for GET, 405 otherwise, 204 for OPTIONS, 400 for a bad escape', () => {
  const { backend, calls } = fakeBackend(data)
  const notFound = { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }, text: '404 page not found\n' }
  const notAllowed = { status: 405, headers: { 'content-type': 'application/json' }, text: '{"message":"Method Not Allowed"}\n' }
  for (const path of ['/api/nope', '/', '/api/ledger/', '/api/summary/', '/api/ledger/kairos/', '/api/ledger/a/b/c', '/api/summary/x', '/api/../api/summary']) {
    assert.deepEqual(respond(backend, 'GET', path, ''), notFound, `GET ${path}`)
  }
  for (const [method, path] of [
    ['PUT', '/api/nope'],
    ['POST', '/api/ledger'],
    ['DELETE', '/api/ledger'],
    ['DELETE', '/api/ledger/b/'],
    ['PUT', '/api/ledger/a/b'],
    ['PUT', '/api/ledger/b/k/'],
    ['DELETE', '/api/ledger/b/k/x'],
    ['HEAD', '/api/summary'],
    ['POST', '/api/summary'],
  ]) {
    assert.deepEqual(respond(backend, method, path, ''), notAllowed, `${method} ${path}`)
  }
  assert.equal(respond(backend, 'OPTIONS', '/api/summary', '').status, 204)
  assert.equal(respond(backend, 'GET', '/api/ledger/kairos/%zz', '').status, 400)
  // Inner segments may be empty, as in EdgeVPN's router; queries are ignored.
  assert.equal(respond(backend, 'GET', '/api/ledger//k', '').text, '""\n')
  assert.equal(respond(backend, 'GET', '/api/ledger/kairos/ip-master?x=1', '').text, '"\\"MTAuMS4wLjM=\\""\n')
  respond(backend, 'PUT', '/api/ledger/b//v', '')
  assert.deepEqual(calls, ['persist b  v'])
})

test("paths are decoded as Go decodes them for EdgeVPN's router", () => {
  assert.equal(routedPath('/api/ledger/b/k/a%20b'), '/api/ledger/b/k/a b')
  assert.equal(routedPath('/api/ledger/b/k/caf%C3%A9'), '/api/ledger/b/k/café')
  // Escapes Go would not have written keep the whole path raw.
  assert.equal(routedPath('/api/ledger/b/k/a%3Db'), '/api/ledger/b/k/a%3Db')
  assert.equal(routedPath('/api/ledger/b/k/a%2Fb'), '/api/ledger/b/k/a%2Fb')
  assert.equal(routedPath('/api/ledger/b/k%34/a%20b'), '/api/ledger/b/k%34/a%20b')
  assert.equal(routedPath('/api/ledger/b/k/a%2fb'), '/api/ledger/b/k/a%2fb')
  assert.equal(routedPath('/api/ledger/b/k/a+b'), '/api/ledger/b/k/a+b')
  assert.equal(routedPath('/api/ledger/b/k/IjEwLjEuMC4xIg=='), '/api/ledger/b/k/IjEwLjEuMC4xIg==')
  assert.equal(routedPath('/api/summary?x=%zz'), '/api/summary')
  assert.equal(routedPath('/api/ledger/%'), undefined)
  assert.equal(routedPath('/api/ledger/%4'), undefined)
  const { backend, calls } = fakeBackend(data)
  respond(backend, 'PUT', '/api/ledger/b/k/a%20b', '')
  respond(backend, 'PUT', '/api/ledger/b/k/a%3Db', '')
  assert.deepEqual(calls, ['persist b k a b', 'persist b k a%3Db'])
})

test("goStruct decodes like Go's json.Unmarshal into a struct of strings", () => {
  const f = ['PeerID', 'Name'] as const
  assert.deepEqual(goStruct('{"PeerID":"p","Name":"n","Extra":1}', f), { PeerID: 'p', Name: 'n' })
  assert.deepEqual(goStruct('{"peerid":"p","NAME":"n"}', f), { PeerID: 'p', Name: 'n' })
  assert.deepEqual(goStruct('{"PeerID":"a","peerID":"b"}', f), { PeerID: 'b', Name: '' })
  assert.deepEqual(goStruct('{"PeerID":5,"Name":"n"}', f), { PeerID: '', Name: 'n' })
  assert.deepEqual(goStruct('{"PeerID":"p","PeerID":null}', f), { PeerID: 'p', Name: '' })
  assert.deepEqual(goStruct('"a string"', f), { PeerID: '', Name: '' })
  assert.deepEqual(goStruct('[1]', f), { PeerID: '', Name: '' })
  assert.deepEqual(goStruct('{not json', f), { PeerID: '', Name: '' })
})

test('users, services, files and machines come back as Go structs, whatever the ledger holds', () => {
  const { backend } = fakeBackend({
    services: { s1: '"just a string"', s2: JSON.stringify({ peerid: OTHER, Name: 'web', Port: 80 }) },
    users: { u: JSON.stringify({ PeerID: OTHER, Timestamp: 't', Admin: true }) },
    files: { f: 'null' },
    machines: { '10.1.0.9': JSON.stringify({ peerid: OTHER, hostname: 'h', Address: 5 }) },
  })
  assert.deepEqual(route(backend, 'GET', '/api/services', '')?.[1], [
    { PeerID: '', Name: '' },
    { PeerID: OTHER, Name: 'web' },
  ])
  assert.deepEqual(route(backend, 'GET', '/api/users', '')?.[1], [{ PeerID: OTHER, Timestamp: 't' }])
  assert.deepEqual(route(backend, 'GET', '/api/files', '')?.[1], [{ PeerID: '', Name: '' }])
  assert.deepEqual(route(backend, 'GET', '/api/machines', '')?.[1], [{ PeerID: OTHER, Hostname: 'h', OS: '', Arch: '', Address: '', Version: '', Connected: true, OnChain: true, Online: false }])
  // Empty buckets are empty lists, never null.
  const empty = fakeBackend({}).backend
  for (const what of ['users', 'services', 'files', 'machines', 'dns']) assert.equal(respond(empty, 'GET', `/api/${what}`, '').text, '[]\n', what)
})

test("the peer store lists every known peer, never Online, like Go's", () => {
  const { backend } = fakeBackend(data)
  assert.deepEqual(route(backend, 'GET', '/api/peerstore', '')?.[1], [
    { ID: OTHER, Online: false },
    { ID: ME, Online: false },
  ])
})

test('DNS records: Go\'s type names both ways, an unknown name is type 0 ("None")', () => {
  const { backend, calls } = fakeBackend({ dns: { r1: '{"99":"v=spf1","1":"10.1.0.1","7777":"x"}', r2: '"junk"' } })
  assert.deepEqual(route(backend, 'GET', '/api/dns', '')?.[1], [
    { Regex: 'r1', Records: { SPF: 'v=spf1', A: '10.1.0.1', '': 'x' } },
    { Regex: 'r2', Records: {} },
  ])
  assert.match(respond(backend, 'GET', '/api/dns', '').text, /^\[\{"Regex":"r1","Records":\{"":"x","A":"10\.1\.0\.1","SPF":"v=spf1"\}\}/)
  assert.deepEqual(route(backend, 'POST', '/api/dns', JSON.stringify({ regex: 'x', Records: { AAAA: '::1', a: '1.2.3.4', TXT: 't' } })), [200, { State: 'Announcing' }])
  assert.deepEqual(calls, ['persistJson dns x {"0":"1.2.3.4","16":"t","28":"::1"}'])
  assert.equal(route(backend, 'POST', '/api/dns', '{nope')?.[0], 400)
  assert.equal(route(backend, 'POST', '/api/dns', '{"Records":{"A":"1.2.3.4"}}')?.[0], 400)
  assert.equal(route(backend, 'POST', '/api/dns', '{"Regex":"x","Records":{"A":1}}')?.[0], 400)
})

test("the server sends EdgeVPN's statuses and content types over the wire", async () => {
  const { backend } = fakeBackend(data)
  const tcp = await startApiServer(backend, '127.0.0.1:0')
  try {
    const summary = await fetch(`${tcp.address}/api/summary`)
    assert.equal(summary.headers.get('content-type'), 'application/json')
    assert.match(await summary.text(), /^\{"Files":0,.*\}\n$/)
    const missing = await fetch(`${tcp.address}/api/nope`)
    assert.equal(missing.status, 404)
    assert.equal(await missing.text(), '404 page not found\n')
    const put = await fetch(`${tcp.address}/api/nope`, { method: 'PUT' })
    assert.equal(put.status, 405)
    assert.deepEqual(await put.json(), { message: 'Method Not Allowed' })
  } finally {
    await tcp.close()
  }
})

test('a body over the limit is refused with 413 before it is read, on every path; smaller bodies work', async (t) => {
  const { backend, calls } = fakeBackend(data)
  const api = await startApiServer(backend, '127.0.0.1:0', { maxBodyBytes: 1000 })
  t.after(() => api.close())
  // Announced larger than the limit: answered at once, though the body never comes.
  for (const [method, path] of [
    ['POST', '/api/dns'],
    ['PUT', '/api/ledger/b/k/v'],
    ['GET', '/api/summary'],
  ]) {
    const answer = await rawExchange(api.address, `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${600 << 20}\r\n\r\n`, '{"Regex":"')
    assert.match(answer, TOO_LARGE, `${method} ${path}`)
    assert.match(answer, /\r\nconnection: close\r\n/i)
  }
  // A client that asks first (Expect: 100-continue) is told 413 instead of "continue".
  const asked = await rawExchange(api.address, `PUT /api/ledger/b/k/v HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n`)
  assert.match(asked, TOO_LARGE)
  const small = await rawExchange(api.address, `PUT /api/ledger/b/k/v HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n`, '', { until: /100 Continue\r\n\r\n/ })
  assert.match(small, /^HTTP\/1\.1 100 Continue\r\n\r\n$/)
  // Chunked, no length: refused once the limit is passed, before the body ends.
  const chunk = 'a'.repeat(600)
  const chunked = await rawExchange(api.address, 'POST /api/dns HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', `258\r\n${chunk}\r\n258\r\n${chunk}\r\n`)
  assert.match(chunked, TOO_LARGE)
  assert.deepEqual(calls, [], 'nothing refused reached the ledger')
  // At the limit: served.
  const record = JSON.stringify({ Regex: 'r', Records: { TXT: 'x'.repeat(900) } })
  assert.ok(record.length < 1000)
  const ok = await fetch(`${api.address}/api/dns`, { method: 'POST', body: record.padEnd(1000, ' '), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(5000) })
  assert.equal(ok.status, 200)
  assert.deepEqual(await ok.json(), { State: 'Announcing' })
  assert.equal(calls.length, 1)
})

test("the body limit defaults to the network's max_message_size (20 MiB)", async (t) => {
  const api = await startApiServer(fakeBackend(data).backend, '127.0.0.1:0')
  t.after(() => api.close())
  const head = (n: number) => `POST /api/dns HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\nConnection: close\r\n\r\n`
  assert.match(await rawExchange(api.address, head((20 << 20) + 1)), TOO_LARGE)
  // Exactly 20 MiB is read (the server waits for it).
  await assert.rejects(rawExchange(api.address, head(20 << 20), '{', { timeoutMs: 500 }), /timed out|an answer/)
})

test('no request can crash the server: a failure is a 500 and one log line', async (t) => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const { backend } = fakeBackend({ b: { k: cyclic as unknown as string } })
  const lines: string[] = []
  const api = await startApiServer(backend, '127.0.0.1:0', { log: (l) => lines.push(l) })
  t.after(() => api.close())
  const res = await fetch(`${api.address}/api/ledger`, { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 500)
  assert.deepEqual(await res.json(), { message: 'Internal Server Error' })
  assert.equal(lines.length, 1)
  assert.match(lines[0], /^API: GET \/api\/ledger failed: /)
  assert.doesNotMatch(lines[0], /\n/)
  // Still serving.
  assert.equal((await fetch(`${api.address}/api/summary`, { signal: AbortSignal.timeout(5000) })).status, 200)
})

test("URLs up to 1 MiB are served (Go accepts 1 MiB + 4 KiB of request line and headers); longer ones get Go's 431", async (t) => {
  const { backend, calls } = fakeBackend(data)
  const api = await startApiServer(backend, '127.0.0.1:0')
  t.after(() => api.close())
  const prefix = '/api/ledger/b/k/'
  const value = 'v'.repeat((1 << 20) - prefix.length)
  const ok = await rawExchange(api.address, `PUT ${prefix}${value} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  assert.match(ok, /^HTTP\/1\.1 200 /)
  assert.deepEqual(calls, [`persist b k ${value}`])
  const tooLong = await rawExchange(api.address, `PUT ${prefix}${value}${'v'.repeat(8192)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  assert.match(tooLong, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
  assert.match(tooLong, /\r\n\r\n431 Request Header Fields Too Large$/)
})

test("a malformed request gets Go's plain 400", async (t) => {
  const api = await startApiServer(fakeBackend(data).backend, '127.0.0.1:0')
  t.after(() => api.close())
  assert.match(await rawExchange(api.address, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\n400 Bad Request$/)
})

test('--api unix://PATH replaces only a stale socket: a file, a directory or a live socket is refused and left alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kctl-api-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const { backend } = fakeBackend(data)
  const refused = async (path: string, pattern: RegExp, exitCode: number = ExitCode.Usage): Promise<void> => {
    await assert.rejects(startApiServer(backend, `unix://${path}`), (err: unknown) => {
      assert.ok(err instanceof UserError, String(err))
      assert.match(err.line(), pattern)
      assert.doesNotMatch(err.line(), /\n/)
      assert.equal(err.exitCode, exitCode)
      return true
    })
  }
  const file = join(dir, 'precious.conf')
  await writeFile(file, 'keep me\n')
  await refused(file, /^refusing to serve the API on .*precious\.conf: it exists and is not a socket \(a regular file\)/)
  assert.equal(await readFile(file, 'utf8'), 'keep me\n')
  const sub = join(dir, 'sub')
  await mkdir(sub)
  await refused(sub, /it exists and is not a socket \(a directory\)/)
  assert.ok((await stat(sub)).isDirectory())

  // A live socket: something answers on it.
  const live = join(dir, 'live.sock')
  const other = createServer((s) => s.end())
  await new Promise<void>((r) => other.listen(live, () => r()))
  await refused(live, /^refusing to serve the API on .*live\.sock: another process is listening on it/, ExitCode.Failure)
  assert.ok((await stat(live)).isSocket())
  await new Promise<void>((r) => other.close(() => r()))

  // A stale socket: left by a process that was killed; replaced.
  const stale = join(dir, 'stale.sock')
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await withTimeout(new Promise((r) => child.stdout.once('data', r)), 10_000, 'the socket owner to listen')
  child.kill('SIGKILL')
  await waitUntil(() => child.exitCode !== null || child.signalCode !== null, { what: 'the socket owner to die' })
  assert.ok((await stat(stale)).isSocket())
  const api = await startApiServer(backend, `unix://${stale}`)
  try {
    assert.deepEqual(await new ApiClient(api.address).ledger(), data)
  } finally {
    await api.close()
  }
})
