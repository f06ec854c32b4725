/**
 * Go's time, as far as the ledger meets it: RFC 3339 parsing as
 * time.Parse accepts it, time.Time.String() of a UTC time (block
 * timestamps), the healthcheck value EdgeVPN writes, and time.Time's int64
 * arithmetic where its overflow shows (absolute expiry).
 */

/** Nanoseconds since the Unix epoch of a Date. */
export function dateNanos(d: Date): bigint {
  return BigInt(d.getTime()) * 1_000_000n
}

function daysFromCivil(y: number, m: number, d: number): number {
  // Proleptic Gregorian day count (Howard Hinnant's algorithm); valid for years 0–9999.
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

const daysIn = (y: number, m: number): number => (m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31)

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/

/**
 * Parses a time as Go's time.Parse(time.RFC3339, s) accepts it (fractional
 * seconds allowed, with "." or ","; a one-digit hour; offsets up to 24:60),
 * returning Unix nanoseconds, or undefined when Go would fail.
 */
export function parseGoRfc3339(s: string): bigint | undefined {
  const m = RFC3339.exec(s)
  if (!m) return undefined
  const [year, month, day, hour, min, sec] = m.slice(1, 7).map(Number)
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59) return undefined
  let offset = 0
  if (m[8] !== undefined) {
    const oh = Number(m[9])
    const om = Number(m[10])
    if (oh > 24 || om > 60) return undefined
    offset = (oh * 60 + om) * 60 * (m[8] === '-' ? -1 : 1)
  }
  const nanos = m[7] === undefined ? 0n : BigInt(m[7].slice(0, 9).padEnd(9, '0'))
  const secs = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + min * 60 + sec - offset)
  return secs * 1_000_000_000n + nanos
}

/** A healthcheck value as EdgeVPN writes it: UTC RFC 3339 with whole seconds. */
export function healthcheckTime(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z')
}

/**
 * Go's time.Time.String() of a UTC time: `2026-08-06 07:06:40.123456789 +0000 UTC`,
 * trailing zeros of the fraction trimmed (no fraction at all on a whole second).
 * `extraNanos` (0–999999) adds precision below the Date's milliseconds.
 */
export function goTimeString(d: Date, extraNanos = 0): string {
  const iso = d.toISOString() // 2026-08-06T07:06:40.123Z
  const frac = String(d.getUTCMilliseconds() * 1_000_000 + extraNanos)
    .padStart(9, '0')
    .replace(/0+$/, '')
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? '.' + frac : ''} +0000 UTC`
}

/** Seconds between year 1 and 1970, Go's offset from Unix to its internal time. */
const UNIX_TO_INTERNAL = 62135596800n

/**
 * Go's time.Unix(unixSeconds, 0).Add(durationNs).Before(now), with Go's int64
 * arithmetic: time.Unix wraps around (an absurdly large time lands in the far
 * past) and Add saturates.
 */
export function goUnixAddBefore(unixSeconds: bigint, durationNs: bigint, now: Date): boolean {
  const internal = BigInt.asIntN(64, unixSeconds + UNIX_TO_INTERNAL)
  const max = (1n << 63n) - 1n
  let sec = internal + durationNs / 1_000_000_000n
  if (sec > max) sec = max // Go's Add saturates
  if (sec < -max) sec = -max
  const nsec = durationNs % 1_000_000_000n
  const nowNs = dateNanos(now) + UNIX_TO_INTERNAL * 1_000_000_000n
  return sec * 1_000_000_000n + nsec < nowNs
}
