import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const NONCE = 12
const TAG = 16

/**
 * AES-256-GCM as EdgeVPN seals gossip payloads: the key is the 32 ASCII bytes
 * of an MD5 hex string, a random 12-byte nonce, no AAD, and the output is the
 * lowercase hex of nonce || ciphertext || tag.
 */
export function seal(keyHex: string, plaintext: Uint8Array, nonce: Uint8Array = randomBytes(NONCE)): string {
  const cipher = createCipheriv('aes-256-gcm', keyBytes(keyHex), nonce)
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('hex')
}

export class SealError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SealError'
  }
}

/** Opens a sealed hex payload; throws SealError when it is malformed or the key is wrong. */
export function unseal(keyHex: string, sealedHex: string): Uint8Array {
  // Like Go's hex.DecodeString use upstream: keep what decodes before the first bad digit.
  const valid = /^(?:[0-9a-fA-F]{2})*/.exec(sealedHex)?.[0] ?? ''
  const data = Buffer.from(valid, 'hex')
  if (data.length < NONCE + TAG) throw new SealError('malformed ciphertext')
  const decipher = createDecipheriv('aes-256-gcm', keyBytes(keyHex), data.subarray(0, NONCE))
  decipher.setAuthTag(data.subarray(data.length - TAG))
  try {
    return Buffer.concat([decipher.update(data.subarray(NONCE, data.length - TAG)), decipher.final()])
  } catch {
    throw new SealError('message authentication failed (wrong key or corrupted payload)')
  }
}

function keyBytes(keyHex: string): Buffer {
  const key = Buffer.alloc(32)
  Buffer.from(keyHex, 'latin1').copy(key, 0, 0, 32)
  return key
}
