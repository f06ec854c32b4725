import { Flags } from '@oclif/core'
import { ExitCode, UsageError, UserError } from '../errors.js'
import { parseToken, TokenError, type NetworkToken } from '../token/token.js'

/** `--network-token`, falling back to EDGEVPNTOKEN like the Go tools. */
export const networkTokenFlag = Flags.string({
  description: 'Network token (base64, as printed by generate-token)',
  env: 'EDGEVPNTOKEN',
  helpValue: 'TOKEN',
})

/**
 * Decodes the token given on the command line or in EDGEVPNTOKEN.
 * Throws a UsageError when there is none and a TokenError (exit 2) when it is malformed.
 */
export function readToken(value: string | undefined): NetworkToken {
  if (value === undefined || value.trim() === '') {
    throw new UsageError('no network token', 'pass --network-token TOKEN or set EDGEVPNTOKEN')
  }
  try {
    return parseToken(value)
  } catch (err) {
    // A token from the environment is easily forgotten: say where the bad one came from.
    if (!(err instanceof TokenError) || value !== process.env.EDGEVPNTOKEN) throw err
    throw new UserError(err.message.replace(/^invalid network token/, 'invalid network token in EDGEVPNTOKEN'), {
      exitCode: ExitCode.Usage,
      hint: "set it to the base64 token printed by 'kairosctl generate-token', or unset it and pass --network-token",
    })
  }
}

/** Parses an optional INTERVAL argument (seconds, 1..MaxInt64); undefined means "never rotates". */
export function parseInterval(value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined
  if (!/^[0-9]+$/.test(value)) {
    throw new UsageError(`invalid INTERVAL ${JSON.stringify(value)}`, 'give the OTP rotation interval in whole seconds, e.g. 9000, or omit it for a token that never rotates')
  }
  const n = BigInt(value)
  if (n <= 0n || n > 9223372036854775807n) {
    throw new UsageError(`invalid INTERVAL ${value}`, 'it must be between 1 and 9223372036854775807 seconds')
  }
  return n
}
