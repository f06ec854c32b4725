/**
 * `kairosctl demo` through the built CLI (node bin/run.js; `npm test` builds
 * first): the commands it runs succeed, and the Kairos values in its
 * `ledger ls kairos` step read as values, not as the base64 they are stored as.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { run } from '../helpers/cli.js'

test('demo: every step succeeds and ledger values are readable', async () => {
  const r = await run(['demo', '--nodes', '2'])
  assert.equal(r.code, 0, r.stderr)
  const ls = r.stdout.slice(r.stdout.indexOf('$ kairosctl ledger ls kairos'))
  assert.match(ls, /\nip-master +"10\.1\.0\.1" \(decoded\)\n/)
  assert.match(ls, /-role +"master" \(decoded\)\n/)
  assert.match(ls, /-uuid +\{"Time":"[^"]+"\} \(decoded\)\n/)
  assert.doesNotMatch(ls, /IjEwLjEuMC4xIg==/)
})
