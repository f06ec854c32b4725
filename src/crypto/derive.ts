import type { CID } from 'multiformats/cid'
import { createHash } from 'node:crypto'
import type { NetworkToken } from '../token/token.js'
import { md5hex, totp, unixNow } from './otp.js'

/**
 * The values every EdgeVPN peer derives from the token and the clock. The
 * topic and the seal key rotate together on multiples of otp.crypto.interval;
 * the DHT rendezvous on multiples of otp.dht.interval.
 */

/** The gossipsub topic: MD5 hex of the OTP keyed by `room`, with the crypto interval and length. */
export function gossipTopic(token: NetworkToken, now: Date = new Date()): string {
  return md5hex(totp(token.room, token.otp.crypto.interval, token.otp.crypto.length, unixNow(now)))
}

/** The AES-256-GCM key (as 32 hex characters) for sealing gossip payloads. */
export function sealKey(token: NetworkToken, now: Date = new Date()): string {
  const c = token.otp.crypto
  return md5hex(totp(c.key, c.interval, c.length, unixNow(now)))
}

/** The DHT rendezvous string: OTP-derived, or the static `rendezvous` when otp.dht.key is empty. */
export function rendezvous(token: NetworkToken, now: Date = new Date()): string {
  const d = token.otp.dht
  if (d.key === '') return token.rendezvous
  return md5hex(totp(d.key, d.interval, d.length === 0 ? 12 : d.length, unixNow(now)))
}

/** The provider-record key for a rendezvous string: CIDv1, raw codec, sha2-256 of the UTF-8 text. */
export async function rendezvousCid(value: string): Promise<CID> {
  // Loaded here, not at start-up: commands that only show the CID use rendezvousCidText.
  const { CID } = await import('multiformats/cid')
  return CID.decode(rendezvousCidBytes(value))
}

/** The same CID as text (multibase base32, as CID.toString() prints it), without loading multiformats. */
export function rendezvousCidText(value: string): string {
  return 'b' + base32(rendezvousCidBytes(value))
}

/** CIDv1 (0x01), raw codec (0x55), multihash sha2-256 (0x12) of 32 bytes (0x20), then the digest. */
function rendezvousCidBytes(value: string): Uint8Array {
  return Uint8Array.from([0x01, 0x55, 0x12, 0x20, ...createHash('sha256').update(value, 'utf8').digest()])
}

/** RFC 4648 base32, lower case, no padding. */
function base32(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let out = ''
  let bits = 0
  let acc = 0
  for (const b of bytes) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5) {
      out += alphabet[(acc >>> (bits - 5)) & 31]
      bits -= 5
    }
    acc &= (1 << bits) - 1
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31]
  return out
}

/** When a value rotating every `interval` seconds changes next, or null if never (within Date's range). */
export function nextRotation(interval: bigint, now: Date = new Date()): Date | null {
  if (interval <= 0n) return null
  const t = unixNow(now)
  const next = (t / interval + 1n) * interval
  if (next > 8_640_000_000_000n) return null
  return new Date(Number(next) * 1000)
}
