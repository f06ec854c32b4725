/**
 * What `token inspect` reports about a token: its fields (secrets masked or
 * not) and what peers derive from it at a given time, and that report as text.
 */
import { gossipTopic, nextRotation, rendezvous, rendezvousCidText, sealKey } from '../crypto/derive.js'
import { UsageError } from '../errors.js'
import { MAX_INT64, type NetworkToken, type OtpConfig } from './token.js'

/** First 4 characters and an ellipsis; short values are hidden entirely. */
export function mask(value: string): string {
  if (value === '') return ''
  return value.length > 8 ? `${value.slice(0, 4)}…` : '…'
}

/** The time given to --at (unix seconds or ISO 8601), or now. */
export function parseAt(value: string | undefined): Date {
  if (value === undefined) return new Date()
  const date = /^-?[0-9]+$/.test(value) ? new Date(Number(value) * 1000) : new Date(value)
  if (Number.isNaN(date.getTime())) throw new UsageError(`invalid --at ${JSON.stringify(value)}`, 'give unix seconds or an ISO 8601 time')
  return date
}

function duration(seconds: bigint): string {
  if (seconds >= MAX_INT64) return 'never rotates'
  const parts: string[] = []
  let s = seconds
  for (const [unit, size] of [
    ['d', 86400n],
    ['h', 3600n],
    ['m', 60n],
    ['s', 1n],
  ] as const) {
    if (s >= size) {
      parts.push(`${s / size}${unit}`)
      s %= size
    }
  }
  return parts.join(' ') || '0s'
}

interface Rotation {
  /** ISO time of the next change, or null when the value never changes. */
  next: string | null
  /** Seconds from the inspection time until then. */
  inSeconds: number | null
}

function rotation(interval: bigint, at: Date): Rotation {
  if (interval >= MAX_INT64) return { next: null, inSeconds: null }
  const next = nextRotation(interval, at)
  if (next === null) return { next: null, inSeconds: null }
  return { next: next.toISOString(), inSeconds: Math.round((next.getTime() - at.getTime()) / 1000) }
}

function rotationText(r: Rotation, interval: bigint): string {
  if (r.next === null) return interval >= MAX_INT64 ? 'never (interval is MaxInt64)' : 'not within the representable time range'
  return `${r.next} (in ${duration(BigInt(r.inSeconds ?? 0))})`
}

export interface InspectReport {
  token: string
  secretsMasked: boolean
  otp: { dht: OtpReport; crypto: OtpReport }
  room: SecretReport
  rendezvous: SecretReport
  mdns: SecretReport
  maxMessageSize: number
  at: string
  derived: {
    gossipTopic: { value: string; rotation: Rotation }
    sealKey: { value: string; rotation: Rotation }
    dhtRendezvous: { value: string; cid: string; static: boolean; rotation: Rotation }
  }
}

interface SecretReport {
  value: string
  length: number
}

interface OtpReport {
  interval: string
  rotates: boolean
  key: SecretReport
  length: number
}

export async function inspectToken(token: NetworkToken, at: Date, show: (v: string) => string): Promise<InspectReport> {
  const secret = (v: string): SecretReport => ({ value: show(v), length: v.length })
  const otp = (o: OtpConfig): OtpReport => ({ interval: o.interval.toString(), rotates: o.interval < MAX_INT64, key: secret(o.key), length: o.length })
  const staticRv = token.otp.dht.key === ''
  const rv = rendezvous(token, at)
  const cryptoRotation = rotation(token.otp.crypto.interval, at)
  return {
    token: show(token.base64),
    secretsMasked: show('0123456789') !== '0123456789',
    otp: { dht: otp(token.otp.dht), crypto: otp(token.otp.crypto) },
    room: secret(token.room),
    rendezvous: secret(token.rendezvous),
    mdns: secret(token.mdns),
    maxMessageSize: token.maxMessageSize,
    at: at.toISOString(),
    derived: {
      gossipTopic: { value: gossipTopic(token, at), rotation: cryptoRotation },
      sealKey: { value: show(sealKey(token, at)), rotation: cryptoRotation },
      dhtRendezvous: {
        value: staticRv ? show(rv) : rv,
        cid: rendezvousCidText(rv),
        static: staticRv,
        rotation: staticRv ? { next: null, inSeconds: null } : rotation(token.otp.dht.interval, at),
      },
    },
  }
}

function intervalText(o: OtpReport): string {
  const n = BigInt(o.interval)
  return n >= MAX_INT64 ? `never rotates (${o.interval})` : `${o.interval} s (${duration(n)})`
}

function secretText(s: SecretReport): string {
  return s.length === 0 ? '(empty)' : `${s.value} (${s.length} chars)`
}

export function renderReport(r: InspectReport): string {
  const d = r.derived
  const rows: [string, string][] = [
    ['token', r.token],
    ['otp.dht.interval', r.otp.dht.key.length === 0 ? 'unused (static rendezvous)' : intervalText(r.otp.dht)],
    ['otp.dht.key', r.otp.dht.key.length === 0 ? '(empty: static rendezvous)' : secretText(r.otp.dht.key)],
    ['otp.dht.length', r.otp.dht.key.length === 0 ? 'unused' : r.otp.dht.length === 0 ? '0 (12 characters)' : String(r.otp.dht.length)],
    ['otp.crypto.interval', intervalText(r.otp.crypto)],
    ['otp.crypto.key', secretText(r.otp.crypto.key)],
    ['otp.crypto.length', r.otp.crypto.length === 0 ? '0 (6 characters)' : String(r.otp.crypto.length)],
    ['room', secretText(r.room)],
    ['rendezvous', secretText(r.rendezvous)],
    ['mdns', secretText(r.mdns)],
    ['max_message_size', `${r.maxMessageSize} bytes`],
    ['at', r.at],
    ['gossip topic', d.gossipTopic.value],
    ['  rotates next', rotationText(d.gossipTopic.rotation, BigInt(r.otp.crypto.interval))],
    ['seal key', d.sealKey.value],
    ['dht rendezvous', d.dhtRendezvous.static ? `${d.dhtRendezvous.value} (static)` : d.dhtRendezvous.value],
    ['  provider cid', d.dhtRendezvous.cid],
    ['  rotates next', d.dhtRendezvous.static ? 'never (static rendezvous)' : rotationText(d.dhtRendezvous.rotation, BigInt(r.otp.dht.interval))],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n' + (r.secretsMasked ? '(secrets masked; pass --show-secrets to print them)\n' : '')
}
