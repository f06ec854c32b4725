import { tokenYaml, type NetworkToken } from '../token/token.js'

/** What `generate-token` prints: the base64 token, or its YAML. */
export function generatedTokenText(token: NetworkToken, yaml: boolean): string {
  return yaml ? tokenYaml(token) : token.base64 + '\n'
}

/** What `generate-token --json` prints. */
export interface GeneratedTokenJson {
  token: string
  yaml: string
  /** The OTP interval in seconds (decimal text: it can be MaxInt64). */
  interval: string
  keyLength: number
  maxMessageSize: number
}

/** What `generate-token --json` prints. */
export function generatedTokenReport(token: NetworkToken, keyLength: number): GeneratedTokenJson {
  return { token: token.base64, yaml: tokenYaml(token), interval: token.otp.crypto.interval.toString(), keyLength, maxMessageSize: token.maxMessageSize }
}
