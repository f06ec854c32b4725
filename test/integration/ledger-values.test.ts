/**
 * How the built CLI shows ledger values (node bin/run.js; `npm test` builds
 * first): values the Go client wrote (base64 of JSON) decoded and marked,
 * --raw, --json with both, cutting only when asked or on a terminal, and
 * `put --encode` writing what the Go client writes. Against a real in-process
 * peer, through its API and by joining with the token.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { peerBackend } from '../../src/api/peer-backend.js'
import { startApiServer } from '../../src/api/server.js'
import { encodeDataText, encodeValue } from '../../src/kairos/layout.js'
import { EdgePeer } from '../../src/peer/peer.js'
import { generateToken } from '../../src/token/token.js'
import { run } from '../helpers/cli.js'

const LONG = 'x'.repeat(150)

test('ledger get / ls / put --encode show and write Go-client values', async (t) => {
  const token = generateToken()
  const a = await EdgePeer.start({ token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce', syncIntervalMs: 500 })
  t.after(() => a.stop())
  a.ledger.put('kairos', 'ip-master', encodeValue('10.1.0.1'))
  a.ledger.put('kairos', 'n1-uuid', encodeValue({ Time: '2026-12-01T21:42:31.235Z' }))
  a.ledger.put('kairos', 'plain', 'hello')
  a.ledger.put('kairos', 'long', LONG)
  const api = await startApiServer(peerBackend(a), '127.0.0.1:0')
  t.after(() => api.close())
  const via = ['--api', api.address]

  const get = await run(['ledger', 'get', 'kairos', 'ip-master', ...via])
  assert.equal(get.code, 0, get.stderr)
  assert.equal(get.stdout, '10.1.0.1\n')
  assert.match(get.stderr, /^note: decoded from base64 of JSON.*--raw/)

  const obj = await run(['ledger', 'get', 'kairos', 'n1-uuid', ...via])
  assert.equal(obj.stdout, '{\n  "Time": "2026-12-01T21:42:31.235Z"\n}\n')

  const plain = await run(['ledger', 'get', 'kairos', 'plain', ...via])
  assert.deepEqual([plain.stdout, plain.stderr], ['hello\n', ''])

  const raw = await run(['ledger', 'get', 'kairos', 'ip-master', '--raw', ...via])
  assert.deepEqual([raw.stdout, raw.stderr], ['"IjEwLjEuMC4xIg=="\n', ''])

  const json = await run(['ledger', 'get', 'kairos', 'ip-master', '--json', ...via])
  assert.deepEqual(JSON.parse(json.stdout), { bucket: 'kairos', key: 'ip-master', value: '10.1.0.1', raw: '"IjEwLjEuMC4xIg=="', decoded: true })
  assert.equal(json.stderr, '')
  const rawJson = await run(['ledger', 'get', 'kairos', 'ip-master', '--json', '--raw', ...via])
  assert.deepEqual(JSON.parse(rawJson.stdout), { bucket: 'kairos', key: 'ip-master', value: 'IjEwLjEuMC4xIg==', raw: '"IjEwLjEuMC4xIg=="', decoded: false })

  // Piped: nothing is cut. --truncate cuts (as on a terminal); --raw does not decode.
  const ls = await run(['ledger', 'ls', 'kairos', ...via])
  assert.equal(ls.code, 0, ls.stderr)
  const rows = Object.fromEntries(
    ls.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s{2,}/)),
  )
  assert.deepEqual(rows, { 'ip-master': '"10.1.0.1" (decoded)', long: LONG, 'n1-uuid': '{"Time":"2026-12-01T21:42:31.235Z"} (decoded)', plain: 'hello' })
  const cut = await run(['ledger', 'ls', 'kairos', '--truncate', ...via])
  assert.match(cut.stdout, /long +x{59}…\n/)
  const lsRaw = await run(['ledger', 'ls', 'kairos', '--raw', ...via])
  assert.match(lsRaw.stdout, /ip-master +IjEwLjEuMC4xIg==\n/)
  const lsJson = await run(['ledger', 'ls', 'kairos', '--json', ...via])
  assert.deepEqual(JSON.parse(lsJson.stdout), { 'ip-master': '10.1.0.1', long: LONG, 'n1-uuid': { Time: '2026-12-01T21:42:31.235Z' }, plain: 'hello' })

  // put --encode stores what the Go client's Put stores; without it, the string itself.
  const put = await run(['ledger', 'put', 'kairos', 'n2-ip', '10.1.0.2', '--encode', ...via])
  assert.equal(put.code, 0, put.stderr)
  await run(['ledger', 'put', 'kairos', 'n3-ip', '10.1.0.3', ...via])
  assert.equal(a.ledger.getKey('kairos', 'n2-ip'), encodeDataText('10.1.0.2'))
  assert.equal(a.ledger.getKey('kairos', 'n3-ip'), '"10.1.0.3"')

  // --verbose (signed entries, by joining with the token), table and JSON.
  const join = ['--network-token', token.base64, '--no-mdns', '--no-dht', '--timeout', '20', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap-peer', a.host.getMultiaddrs()[0].toString()]
  const verbose = await run(['ledger', 'ls', 'kairos', '--verbose', '--json', ...join])
  assert.equal(verbose.code, 0, verbose.stderr)
  const entry = (JSON.parse(verbose.stdout) as Array<Record<string, unknown>>).find((e) => e.key === 'ip-master')
  assert.deepEqual(
    { ...entry, version: typeof entry?.version, updatedAt: typeof entry?.updatedAt },
    { bucket: 'kairos', key: 'ip-master', value: '10.1.0.1', raw: '"IjEwLjEuMC4xIg=="', decoded: true, owner: a.id, signed: true, version: 'string', updatedAt: 'string' },
  )
})
