import { ExitCode, UserError } from '../../errors.js'

/**
 * The operator-facing error for a failure to open `/dev/net/tun` (`step`
 * 'open') or to attach the interface (`step` 'attach', the TUNSETIFF ioctl).
 * `code` is an errno name such as 'EPERM'.
 */
export function tunOpenError(name: string, step: 'open' | 'attach', code: string, cause?: unknown): UserError {
  const what = `creating TUN device ${name}`
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return new UserError(`${what} needs root or CAP_NET_ADMIN`, {
        exitCode: ExitCode.Permission,
        hint: 'run with sudo, or use --no-tun',
        cause,
      })
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return new UserError(`${what} needs /dev/net/tun, which is missing`, {
        hint: 'load the tun kernel module (modprobe tun), or in a container pass the device (--device /dev/net/tun), or use --no-tun',
        cause,
      })
    case 'EBUSY':
      return new UserError(`TUN device ${name} is already in use by another process`, {
        hint: 'stop the other bridge or choose another --interface',
        cause,
      })
    case 'EINVAL':
      if (step === 'attach') {
        return new UserError(`${what} failed: an interface named ${name} already exists and is not a TUN device`, {
          hint: 'choose another --interface',
          cause,
        })
      }
      return new UserError(`${what} failed at opening /dev/net/tun: ${code}`, { cause })
    default:
      return new UserError(`${what} failed at ${step === 'open' ? 'opening /dev/net/tun' : 'TUNSETIFF'}: ${code}`, { cause })
  }
}

/** The error for a failed read(2) on the device (both I/O modes). */
export function tunReadError(name: string, err: NodeJS.ErrnoException): UserError {
  const code = err.code
  return new UserError(`reading TUN device ${name} failed: ${code ?? err.message}${code === 'EFAULT' ? ' (the interface was deleted)' : ''}`, { cause: err })
}
