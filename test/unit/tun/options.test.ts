import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ExitCode, UserError } from '../../../src/errors.js'
import { validateTunOptions } from '../../../src/vpn/tun/options.js'

test('option checks', () => {
  const ok = { name: 'kairos0', mtu: 1200, address: '10.1.0.254/24' }
  validateTunOptions(ok)
  validateTunOptions({ ...ok, address: 'fd00::1/64', mtu: 1280 })
  for (const bad of [
    { ...ok, name: '' },
    { ...ok, name: 'a-very-long-name0' },
    { ...ok, name: 'bad/name' },
    { ...ok, mtu: 0 },
    { ...ok, mtu: 1200.5 },
    { ...ok, address: '10.1.0.254' },
    { ...ok, address: '10.1.0.254/33' },
    { ...ok, address: 'nonsense/24' },
    { ...ok, address: 'fd00::1/64' },
  ]) {
    assert.throws(
      () => validateTunOptions(bad),
      (err: unknown) => err instanceof UserError && err.exitCode === ExitCode.Usage,
      JSON.stringify(bad),
    )
  }
})
