import { createHash, createHmac } from 'node:crypto'

/**
 * EdgeVPN's TOTP variant: HMAC-SHA256 keyed with the raw UTF-8 bytes of the
 * token string, over the 8-byte big-endian counter floor(unix / interval);
 * the output is the padded standard base64 of the whole MAC, cut to `length`
 * characters (6 when length <= 0). No RFC 4226 truncation, no decimal digits.
 */
export function totp(key: string, interval: bigint, length: number, unixSeconds: bigint): string {
  if (interval <= 0n) throw new RangeError('OTP interval must be positive')
  if (length > 44) throw new RangeError('OTP length must be at most 44')
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt.asUintN(64, unixSeconds) / interval)
  const mac = createHmac('sha256', Buffer.from(key, 'utf8')).update(counter).digest('base64')
  return mac.slice(0, length <= 0 ? 6 : length)
}

/** Lowercase hex MD5 of the UTF-8 string (EdgeVPN's `crypto.MD5`). */
export function md5hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex')
}

/** The current unix time in whole seconds, as EdgeVPN's OTP reads the clock. */
export function unixNow(now: Date = new Date()): bigint {
  return BigInt(Math.floor(now.getTime() / 1000))
}
