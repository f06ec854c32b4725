import { execFile } from 'node:child_process'
import { UserError } from '../../errors.js'

/** Runs iproute2's `ip` with `args`; failures are UserErrors with the first line `ip` printed. */
export function ip(args: string[], timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: timeoutMs, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (!err) return resolve()
      if (err.code === 'ENOENT') {
        reject(new UserError('configuring the TUN device needs iproute2 (the `ip` command), which is not installed', { hint: 'install iproute2', cause: err }))
      } else {
        const detail = (stderr || err.message).trim().split('\n')[0]
        reject(new UserError(`ip ${args.join(' ')} failed: ${err.killed ? `no answer within ${timeoutMs} ms` : detail}`, { cause: err }))
      }
    })
  })
}
