import { randomInt } from 'node:crypto'
import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'
import type { YAMLMap } from 'yaml'
import { ExitCode, UserError } from '../errors.js'

/** One OTP block of a network token (`otp.dht` or `otp.crypto`). */
export interface OtpConfig {
  /** Rotation step in seconds; kairosctl tokens use MaxInt64 (never rotates). */
  interval: bigint
  key: string
  /** Output length of the OTP text (0 means 6, or 12 for the DHT). */
  length: number
}

/** An EdgeVPN network token, decoded. */
export interface NetworkToken {
  otp: { dht: OtpConfig; crypto: OtpConfig }
  room: string
  rendezvous: string
  mdns: string
  maxMessageSize: number
  /** The token's base64 text as given (or as generated). */
  base64: string
}

export const MAX_INT64 = 9223372036854775807n
export const DEFAULT_KEY_LENGTH = 43
export const DEFAULT_MAX_MESSAGE_SIZE = 20 << 20
/** EdgeVPN always writes 43 as the OTP length, whatever the key length. */
const OTP_LENGTH = 43
const MAX_OTP_LENGTH = 44
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890'

export class TokenError extends UserError {
  constructor(problem: string) {
    super(`invalid network token: ${problem}`, {
      exitCode: ExitCode.Usage,
      hint: "pass the base64 token printed by 'kairosctl generate-token' (or the p2p.network_token of the cluster's cloud-config)",
    })
    this.name = 'TokenError'
  }
}

// yaml is a large module (about 70 files): load it on the first parse, so
// that generating a token, which never parses YAML, starts faster.
let yamlModule: typeof Yaml | undefined
const yaml = (): typeof Yaml => (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml)

function randomString(length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)]
  return out
}

export interface GenerateOptions {
  /** OTP rotation interval in seconds (default MaxInt64: never rotates, like the Go kairosctl). */
  interval?: bigint
  /** Length of each random key (default 43). */
  keyLength?: number
  /** Gossip max message size in bytes (default 20 MiB). */
  maxMessageSize?: number
}

/**
 * A new network token with the same shape as EdgeVPN's GenerateNewConnectionData,
 * but with keys drawn from a CSPRNG (crypto.randomInt is uniform over the alphabet).
 */
export function generateToken(opts: GenerateOptions = {}): NetworkToken {
  const interval = opts.interval ?? MAX_INT64
  const keyLength = opts.keyLength ?? DEFAULT_KEY_LENGTH
  const maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
  if (interval <= 0n || interval > MAX_INT64) throw new RangeError('interval must be between 1 and 9223372036854775807 seconds')
  if (!Number.isInteger(keyLength) || keyLength < 1 || keyLength > 4096) throw new RangeError('key length must be between 1 and 4096')
  if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize < 1) throw new RangeError('max message size must be a positive integer')
  const token: Omit<NetworkToken, 'base64'> = {
    otp: {
      dht: { interval, key: randomString(keyLength), length: OTP_LENGTH },
      crypto: { interval, key: randomString(keyLength), length: OTP_LENGTH },
    },
    room: randomString(keyLength),
    rendezvous: randomString(keyLength),
    mdns: randomString(keyLength),
    maxMessageSize,
  }
  return { ...token, base64: Buffer.from(tokenYaml(token), 'utf8').toString('base64') }
}

// Words YAML 1.1 (Go's yaml.v2) would read as something other than a string.
const YAML11_SPECIAL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/

// Plain strings yaml.v2 would resolve to a number (decimal, 0x/0o/0b, exponent floats).
const GO_NUMBER = /^(?:[0-9]+|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+[eE][0-9]+)$/

/** A string as yaml.v2 writes it: plain, or double-quoted when plain text would read as another type. */
function yamlScalar(s: string): string {
  if (s !== '' && /^[A-Za-z0-9]+$/.test(s) && !GO_NUMBER.test(s) && !YAML11_SPECIAL.test(s)) return s
  return JSON.stringify(s)
}

/** The token's YAML in the layout Go's yaml.v2 writes (struct field order, 2-space indent). */
export function tokenYaml(t: Omit<NetworkToken, 'base64'>): string {
  const otp = (o: OtpConfig) => `    interval: ${o.interval}\n    key: ${yamlScalar(o.key)}\n    length: ${o.length}\n`
  return (
    `otp:\n  dht:\n${otp(t.otp.dht)}  crypto:\n${otp(t.otp.crypto)}` +
    `room: ${yamlScalar(t.room)}\nrendezvous: ${yamlScalar(t.rendezvous)}\nmdns: ${yamlScalar(t.mdns)}\n` +
    `max_message_size: ${t.maxMessageSize}\n`
  )
}

/**
 * Decodes and validates a base64 network token. Rejects everything that would
 * make a Go EdgeVPN node misbehave (panic on a zero interval or an OTP length
 * over 44, reject every message with a zero size limit, ...).
 */
export function parseToken(input: string): NetworkToken {
  const text = input.trim().replace(/[\r\n]/g, '')
  if (text === '') throw new TokenError('the token is empty')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    if (/[-_]/.test(text) && !/[+/]/.test(text)) throw new TokenError('it uses the URL-safe base64 alphabet; EdgeVPN tokens use standard base64')
    throw new TokenError('it is not valid base64')
  }
  let yamlText: string
  try {
    yamlText = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'base64'))
  } catch {
    throw new TokenError('its content is not UTF-8 text')
  }
  return parseTokenYaml(yamlText, text)
}

// The layout tokenYaml writes (and Go's yaml.v2 for keys of letters and digits); quoted
// strings only without escapes, where JSON and YAML read the same text.
const SCALAR = '("[^"\\\\]*"|[A-Za-z0-9]+)'
const OTP_LINES = `    interval: ([0-9]+)\\n    key: ${SCALAR}\\n    length: ([0-9]+)\\n`
const CANONICAL = new RegExp(`^otp:\\n  dht:\\n${OTP_LINES}  crypto:\\n${OTP_LINES}room: ${SCALAR}\\nrendezvous: ${SCALAR}\\nmdns: ${SCALAR}\\nmax_message_size: ([0-9]+)\\n$`)

/**
 * A valid token in exactly the layout tokenYaml writes, read without the yaml
 * module (about 70 files to load); undefined for anything else, which the YAML
 * parser then reads and, when invalid, explains. Writing the result back must
 * give the same text, so nothing is read differently from the YAML parser.
 */
export function canonicalToken(yamlText: string): Omit<NetworkToken, 'base64'> | undefined {
  const m = CANONICAL.exec(yamlText)
  if (!m) return undefined
  const text = (s: string): string => (s.startsWith('"') ? (JSON.parse(s) as string) : s)
  const otp = (i: number): OtpConfig => ({ interval: BigInt(m[i]), key: text(m[i + 1]), length: Number(m[i + 2]) })
  const token = { otp: { dht: otp(1), crypto: otp(4) }, room: text(m[7]), rendezvous: text(m[8]), mdns: text(m[9]), maxMessageSize: Number(m[10]) }
  if (tokenYaml(token) !== yamlText) return undefined
  const { dht, crypto } = token.otp
  const inRange = (o: OtpConfig): boolean => o.interval >= 1n && o.interval <= MAX_INT64 && o.length <= MAX_OTP_LENGTH
  const valid =
    inRange(crypto) &&
    crypto.key !== '' &&
    (dht.key === '' || inRange(dht)) &&
    (dht.key !== '' || token.rendezvous !== '') &&
    token.room !== '' &&
    token.mdns !== '' &&
    BigInt(token.maxMessageSize) >= 1n &&
    BigInt(token.maxMessageSize) <= MAX_MESSAGE_SIZE
  return valid ? token : undefined
}

/** Validates a token given as its YAML text (as `edgevpn -g` prints it). */
export function parseTokenYaml(yamlText: string, base64?: string): NetworkToken {
  const canonical = canonicalToken(yamlText)
  if (canonical) return { ...canonical, base64: base64 ?? Buffer.from(yamlText, 'utf8').toString('base64') }
  const doc = yaml().parseDocument(yamlText, { intAsBigInt: true, version: '1.1', uniqueKeys: true })
  if (doc.errors.length > 0) throw new TokenError(`its content is not YAML (${doc.errors[0].message.split('\n')[0]})`)
  if (!yaml().isMap(doc.contents)) throw new TokenError('its content is not a YAML mapping')
  const root = doc.contents
  if (mapping(root, 'otp', 'otp') === undefined) throw new TokenError('otp is missing')
  const token: Omit<NetworkToken, 'base64'> = {
    otp: { dht: otpBlock(root, 'dht'), crypto: otpBlock(root, 'crypto') },
    room: stringField(root, ['room']),
    rendezvous: stringField(root, ['rendezvous'], true),
    mdns: stringField(root, ['mdns']),
    maxMessageSize: Number(intField(root, ['max_message_size'], 1n, MAX_MESSAGE_SIZE)),
  }
  if (token.otp.dht.key === '' && token.rendezvous === '') {
    throw new TokenError('it has neither otp.dht.key nor rendezvous, so peers cannot meet on the DHT')
  }
  return { ...token, base64: base64 ?? Buffer.from(yamlText, 'utf8').toString('base64') }
}

/** Largest max_message_size accepted (2 GiB - 1); Go would take more, but no gossip message gets near it. */
const MAX_MESSAGE_SIZE = 2n ** 31n - 1n

type Path = (string | number)[]

function otpBlock(root: YAMLMap, name: 'dht' | 'crypto'): OtpConfig {
  const path = ['otp', name]
  // A missing otp.dht is what Go sees as an empty DHT key: the static rendezvous is used.
  if (mapping(root, path, `otp.${name}`) === undefined) {
    if (name === 'crypto') throw new TokenError('otp.crypto is missing')
    return { interval: 0n, key: '', length: 0 }
  }
  const key = stringField(root, [...path, 'key'], name === 'dht')
  // An empty DHT key means "static rendezvous": its interval and length are then unused.
  const needed = name === 'crypto' || key !== ''
  const interval = needed ? intField(root, [...path, 'interval'], 1n, MAX_INT64) : (optionalInt(root, [...path, 'interval']) ?? 0n)
  const length = Number(needed ? intField(root, [...path, 'length'], 0n, BigInt(MAX_OTP_LENGTH)) : (optionalInt(root, [...path, 'length']) ?? 0n))
  return { interval, key, length }
}

/** The node at `path`, or undefined when absent or null. Aliases are refused (tokens never use them). */
function nodeAt(root: YAMLMap, path: Path): unknown {
  let node: unknown = root
  for (let i = 0; i < path.length; i++) {
    if (!yaml().isMap(node)) throw new TokenError(`${path.slice(0, i).join('.')} must be a mapping`)
    node = node.get(path[i], true)
    if (yaml().isAlias(node)) throw new TokenError(`${path.slice(0, i + 1).join('.')} uses a YAML alias, which tokens never contain`)
    if (node === undefined || (yaml().isScalar(node) && node.value === null)) return undefined
  }
  return node
}

function mapping(root: YAMLMap, path: Path | string, name: string): YAMLMap | undefined {
  const node = nodeAt(root, typeof path === 'string' ? [path] : path)
  if (node === undefined) return undefined
  if (!yaml().isMap(node)) throw new TokenError(`${name} must be a mapping`)
  return node
}

function stringField(root: YAMLMap, path: Path, mayBeEmpty = false): string {
  const name = path.join('.')
  const node = nodeAt(root, path)
  if (node === undefined) {
    if (mayBeEmpty) return ''
    throw new TokenError(`${name} is missing`)
  }
  if (!yaml().isScalar(node)) throw new TokenError(`${name} must be a string`)
  // Go's yaml.v2 stores any scalar in a string field as written (`room: 123` is "123").
  const v = typeof node.value === 'string' ? node.value : (node.source ?? String(node.value))
  if (v === '' && !mayBeEmpty) throw new TokenError(`${name} is empty`)
  return v
}

function optionalInt(root: YAMLMap, path: Path): bigint | undefined {
  const node = nodeAt(root, path)
  if (node === undefined) return undefined
  if (!yaml().isScalar(node) || typeof node.value !== 'bigint') throw new TokenError(`${path.join('.')} must be an integer`)
  return node.value
}

function intField(root: YAMLMap, path: Path, min: bigint, max: bigint): bigint {
  const name = path.join('.')
  const v = optionalInt(root, path)
  if (v === undefined) throw new TokenError(`${name} is missing`)
  if (v < min || v > max) throw new TokenError(`${name} is ${v}, outside the range EdgeVPN accepts (${min}..${max})`)
  return v
}
