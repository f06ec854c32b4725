/**
 * `kairosctl bridge` refuses bad flags before it joins anything: one error
 * line and exit 2 (the built CLI; `npm test` builds first).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateToken, tokenYaml } from '../../src/token/token.js'
import { assertOneErrorLine, run } from '../helpers/cli.js'

const token = Buffer.from(tokenYaml(generateToken({ interval: 9000n }))).toString('base64')

describe('bridge flag errors', () => {
  for (const address of ['999.1.1.1/24', '10.1.0.1/33', '10.1.0.1/99', '10.1.0.1', '010.1.0.1/24', 'fe80::1/64', '10.1.0.1/']) {
    it(`--address ${address}`, async () => {
      const r = await run(['bridge', '--network-token', token, '--no-tun', '--api', '', '--address', address])
      assert.equal(r.code, 2, r.stderr)
      assertOneErrorLine(r, `invalid --address ${address}`, address)
    })
  }

  it('an API on a non-loopback address without --api-allow-remote', async () => {
    const r = await run(['bridge', '--network-token', token, '--no-tun', '--api', '0.0.0.0:18080'])
    assert.equal(r.code, 2, r.stderr)
    assertOneErrorLine(r, 'refusing to serve the API on 0.0.0.0', 'api')
  })
})
