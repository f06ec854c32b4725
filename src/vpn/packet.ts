/**
 * Raw IP packets as the TUN device and EdgeVPN's `/edgevpn/0.1` streams carry
 * them: no Ethernet header, no packet-information prefix, no length prefix.
 *
 * Pure functions: no I/O, no Node APIs.
 */

export const IPV4_HEADER_MIN = 20
export const IPV6_HEADER = 40

/** 4 or 6 from the version nibble, or null for an empty buffer or another version. */
export function ipVersion(packet: Uint8Array): 4 | 6 | null {
  if (packet.length === 0) return null
  const v = packet[0] >> 4
  return v === 4 ? 4 : v === 6 ? 6 : null
}

/** The destination address (as Go's `net.IP.String()` writes it), or null when the packet is no IP packet. */
export function ipDestination(packet: Uint8Array): string | null {
  return address(packet, 16, 24)
}

/** The source address (as Go's `net.IP.String()` writes it), or null when the packet is no IP packet. */
export function ipSource(packet: Uint8Array): string | null {
  return address(packet, 12, 8)
}

function address(packet: Uint8Array, v4Offset: number, v6Offset: number): string | null {
  const version = ipVersion(packet)
  if (version === 4) {
    if (packet.length < IPV4_HEADER_MIN || (packet[0] & 0x0f) < 5) return null
    return formatIPv4(packet, v4Offset)
  }
  if (version === 6) {
    if (packet.length < IPV6_HEADER) return null
    return formatIPv6(packet.subarray(v6Offset, v6Offset + 16))
  }
  return null
}

function formatIPv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`
}

/**
 * RFC 5952 text (lower case, longest run of two or more zero groups as `::`,
 * the first such run on ties). Like Go, an IPv4-mapped address
 * (`::ffff:a.b.c.d`) is written as plain dotted IPv4.
 */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError('an IPv6 address has 16 bytes')
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff
  for (let i = 0; i < 10 && mapped; i++) if (bytes[i] !== 0) mapped = false
  if (mapped) return formatIPv4(bytes, 12)

  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1])
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':')
  if (bestLen < 2) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`
}

/**
 * The length of the packet starting at `offset`:
 * - a number: the packet's full length (it may extend past the buffer's end);
 * - `'short'`: too few bytes to tell yet;
 * - `'invalid'`: not the start of an IPv4/IPv6 packet (bad version nibble,
 *   header length or total length below the header size).
 */
export function packetLength(buffer: Uint8Array, offset = 0): number | 'short' | 'invalid' {
  const available = buffer.length - offset
  if (available <= 0) return 'short'
  const first = buffer[offset]
  const version = first >> 4
  if (version === 4) {
    const headerLength = (first & 0x0f) * 4
    if (headerLength < IPV4_HEADER_MIN) return 'invalid'
    if (available < 4) return 'short'
    const total = (buffer[offset + 2] << 8) | buffer[offset + 3]
    return total < headerLength ? 'invalid' : total
  }
  if (version === 6) {
    if (available < 6) return 'short'
    return IPV6_HEADER + ((buffer[offset + 4] << 8) | buffer[offset + 5])
  }
  return 'invalid'
}

export interface SplitResult {
  /** Whole packets, in order (views into the input buffer, not copies). */
  packets: Uint8Array[]
  /** The incomplete packet at the end, to be completed by later bytes (a view, possibly empty). */
  rest: Uint8Array
  /** Bytes discarded because they did not start a valid packet (then `rest` is empty). */
  dropped: number
}

/**
 * Splits a byte stream of back-to-back IP packets using the IPv4 total length
 * or the IPv6 payload length + 40. At the first bytes that cannot start a
 * packet, everything from there on is dropped: a raw packet stream has no
 * marker to resynchronise on. Always terminates: each step consumes a whole
 * packet (at least a header) or stops.
 */
export function splitPackets(buffer: Uint8Array): SplitResult {
  const packets: Uint8Array[] = []
  let offset = 0
  while (offset < buffer.length) {
    const length = packetLength(buffer, offset)
    if (length === 'invalid') {
      return { packets, rest: buffer.subarray(buffer.length), dropped: buffer.length - offset }
    }
    if (length === 'short' || offset + length > buffer.length) break
    packets.push(buffer.subarray(offset, offset + length))
    offset += length
  }
  return { packets, rest: buffer.subarray(offset), dropped: 0 }
}

/**
 * Reassembles packets from the chunks of one byte stream (an inbound
 * `/edgevpn/0.1` stream: Go writes one packet per stream, but a transport may
 * split or, with stream reuse, concatenate them).
 *
 * Once bytes that cannot start a packet are seen, the stream is out of step
 * and cannot be trusted again: the framer drops them and every later byte
 * (`corrupt` becomes true, `dropped` counts the bytes). Use one framer per
 * stream.
 */
export class PacketFramer {
  private pending: Uint8Array = new Uint8Array(0)
  /** Bytes discarded so far. */
  dropped = 0
  /** True once garbage was seen; all later input is discarded. */
  corrupt = false

  /**
   * Adds a chunk and returns the packets it completes. Returned packets may
   * be views into `chunk`: copy them if the caller reuses its chunk buffers.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.corrupt) {
      this.dropped += chunk.length
      return []
    }
    if (chunk.length === 0) return []
    let input = chunk
    if (this.pending.length > 0) {
      input = new Uint8Array(this.pending.length + chunk.length)
      input.set(this.pending, 0)
      input.set(chunk, this.pending.length)
    }
    const { packets, rest, dropped } = splitPackets(input)
    if (dropped > 0) {
      this.corrupt = true
      this.dropped += dropped
      this.pending = new Uint8Array(0)
      return packets
    }
    // Keep a copy of the tail only when it is a view into the caller's chunk.
    this.pending = rest.length === 0 ? new Uint8Array(0) : input === chunk ? rest.slice() : rest
    return packets
  }

  /** Bytes of an incomplete packet waiting for more input. */
  get buffered(): number {
    return this.pending.length
  }

  /**
   * Ends the stream: returns the number of bytes of an incomplete last
   * packet, which are discarded (and counted in `dropped`).
   */
  end(): number {
    const left = this.pending.length
    this.dropped += left
    this.pending = new Uint8Array(0)
    return left
  }
}
