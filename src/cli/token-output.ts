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

/** The cloud-config the Go kairosctl prints: a header, a blank line, then yaml.v3 output (4-space indent). */
export function cloudConfig(tokenBase64: string): string {
  return `#cloud-config\n\np2p:\n    network_token: ${tokenBase64}\n`
}

/** What `create-config --json` prints. */
export interface CreateConfigJson {
  /** The cloud-config text. */
  config: string
  token: string
  /** The OTP interval in seconds (decimal text: it can be MaxInt64). */
  interval: string
}

/** What `create-config --json` prints. */
export function cloudConfigReport(token: NetworkToken): CreateConfigJson {
  return { config: cloudConfig(token.base64), token: token.base64, interval: token.otp.crypto.interval.toString() }
}
