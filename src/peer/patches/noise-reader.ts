import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * A Noise length prefix read without throwing.
 *
 * @libp2p/noise reads its 2-byte length prefixes with a LengthPrefixedDecoder
 * (@libp2p/utils) whose length function throws a RangeError when fewer than
 * two bytes are buffered; the decoder catches it and waits for more. That is
 * the normal end of every socket read that stops on a message boundary, so
 * each read built an Error with its stack trace: 5 % of the bridge's CPU while
 * it sent to a Go node (whose ACKs arrive as many small reads). The
 * replacement returns a length that the buffer cannot hold yet instead, which
 * makes the decoder wait in the same way.
 *
 * Written against @libp2p/noise 17.0.3 (EncryptedMessageStream in
 * dist/src/utils.js) and @libp2p/utils 7.4.1 (LengthPrefixedDecoder).
 */
interface Decoder {
  lengthDecoder(data: Uint8Array | Uint8ArrayList): number
  maxDataLength: number
}

/** Noise connections whose length prefixes are read without throwing. */
export const noiseReaderStats = { patched: 0 }

/** Larger than anything a buffer of fewer than two bytes holds, and within the decoder's limit. */
const WAIT_FOR_MORE = 0xffff

function readLength(data: Uint8Array | Uint8ArrayList): number {
  if (data.length < 2) return WAIT_FOR_MORE
  if (data instanceof Uint8Array) return (data[0] << 8) | data[1]
  return data.getUint16(0)
}

/** Swaps the length function of a Noise connection's decoder; false if it is not the expected shape. */
export function quietLengthDecoder(connection: unknown): boolean {
  const decoder = (connection as { decoder?: Partial<Decoder> }).decoder
  if (typeof decoder?.lengthDecoder !== 'function' || typeof decoder.maxDataLength !== 'number' || decoder.maxDataLength < WAIT_FOR_MORE) return false
  decoder.lengthDecoder = readLength
  noiseReaderStats.patched++
  return true
}
