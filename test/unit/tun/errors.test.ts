import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ExitCode, UserError } from '../../../src/errors.js'
import { tunOpenError } from '../../../src/vpn/tun/errors.js'

test('errno mapping gives operator errors', () => {
  const perm = tunOpenError('kairos0', 'attach', 'EPERM')
  assert.ok(perm instanceof UserError)
  assert.equal(perm.exitCode, ExitCode.Permission)
  assert.equal(perm.line(), 'creating TUN device kairos0 needs root or CAP_NET_ADMIN: run with sudo, or use --no-tun')
  assert.equal(tunOpenError('kairos0', 'open', 'EACCES').exitCode, ExitCode.Permission)
  const missing = tunOpenError('kairos0', 'open', 'ENOENT')
  assert.equal(missing.exitCode, ExitCode.Failure)
  assert.match(missing.line(), /needs \/dev\/net\/tun, which is missing: load the tun kernel module/)
  const busy = tunOpenError('kairos0', 'attach', 'EBUSY')
  assert.match(busy.line(), /^TUN device kairos0 is already in use by another process: stop the other bridge or choose another --interface$/)
  assert.match(tunOpenError('eth0', 'attach', 'EINVAL').line(), /an interface named eth0 already exists and is not a TUN device/)
  assert.match(tunOpenError('kairos0', 'attach', 'errno 95').line(), /failed at TUNSETIFF: errno 95/)
})
