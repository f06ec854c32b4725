/**
 * Errors meant for the operator. Every failure the CLI can foresee is a
 * UserError: one line saying what is wrong and what to do, and an exit code.
 * Anything else is a bug and is reported as such (still without a stack trace
 * unless KAIROSCTL_DEBUG is set).
 */
export const ExitCode = {
  /** A runtime failure: no peers, timeout, key missing, I/O. */
  Failure: 1,
  /** Bad input: a malformed token, a bad flag value, a usage error. */
  Usage: 2,
  /** Missing privileges (root or CAP_NET_ADMIN). */
  Permission: 4,
} as const

export class UserError extends Error {
  readonly exitCode: number
  readonly hint?: string

  constructor(message: string, opts: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'UserError'
    this.exitCode = opts.exitCode ?? ExitCode.Failure
    this.hint = opts.hint
  }

  /** The single line shown to the operator. */
  line(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message
  }
}

export class UsageError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.Usage, hint })
    this.name = 'UsageError'
  }
}
