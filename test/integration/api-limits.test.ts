/**
 * Large values through the API, as EdgeVPN clients send them (the value in
 * the URL path): our client against our server with a real in-process peer
 * behind it, over TCP and a unix socket. A 200 KB value (a large kubeconfig,
 * base64) and a URL of exactly 1 MiB are stored in the peer's ledger and read
 * back; a URL longer than Go's API accepts is refused by the client before
 * anything is sent.
 */
import '../../src/polyfill.js'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ApiClient } from '../../src/api/client.js'
import { peerBackend } from '../../src/api/peer-backend.js'
import { startApiServer } from '../../src/api/server.js'
import { ExitCode, UserError } from '../../src/errors.js'
import { goJsonStringify } from '../../src/ledger/json.js'
import { EdgePeer } from '../../src/peer/peer.js'
import { generateToken } from '../../src/token/token.js'

/** URL-safe text of exactly `n` characters (base64url of random bytes). */
const urlSafe = (n: number): string =>
  randomBytes(Math.ceil((n * 3) / 4) + 3)
    .toString('base64url')
    .slice(0, n)

test('a 200 KB value and a 1 MiB URL go through our client and server into the ledger and back', async (t) => {
  const peer = await EdgePeer.start({ token: generateToken(), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce' })
  t.after(() => peer.stop())
  const dir = await mkdtemp(join(tmpdir(), 'kctl-apilimits-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const tcp = await startApiServer(peerBackend(peer), '127.0.0.1:0')
  t.after(() => tcp.close())
  const unix = await startApiServer(peerBackend(peer), `unix://${join(dir, 'api.sock')}`)
  t.after(() => unix.close())

  // Distinct keys per transport: the API keeps re-announcing each write for a while, like Go's Persist.
  // (Compared with ok(), not equal(): a failure must not print megabytes.)
  for (const [i, address] of [tcp.address, unix.address].entries()) {
    const client = new ApiClient(address)
    const kubeconfig = urlSafe(200_000)
    await client.ledgerPut('kairos', `kubeconfig-${i}`, kubeconfig)
    assert.ok(peer.ledger.getKey('kairos', `kubeconfig-${i}`) === goJsonStringify(kubeconfig), `200 KB value stored through ${address}`)
    assert.ok((await client.ledgerKey('kairos', `kubeconfig-${i}`)) === goJsonStringify(kubeconfig), `200 KB value read back through ${address}`)

    const prefix = `/api/ledger/big/v${i}/`
    const big = urlSafe((1 << 20) - prefix.length)
    await client.ledgerPut('big', `v${i}`, big)
    assert.ok(peer.ledger.getKey('big', `v${i}`) === goJsonStringify(big), `1 MiB URL through ${address}`)
    assert.ok((await client.ledgerBucket('big'))[`v${i}`] === goJsonStringify(big), `the 1 MiB value read back through ${address}`)

    // Longer than any EdgeVPN API takes: one clear error, nothing sent.
    await assert.rejects(client.ledgerPut('big', 'w', big + 'x'.repeat(8192)), (err: unknown) => {
      assert.ok(err instanceof UserError, String(err))
      assert.equal(err.exitCode, ExitCode.Usage)
      assert.match(err.line(), /^the value is too long for the EdgeVPN API \(a URL of \d+ bytes, at most 1048576\): use --network-token/)
      return true
    })
    assert.equal(peer.ledger.getKey('big', 'w'), undefined)
  }
})
