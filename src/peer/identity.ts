import { mkdir, open, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { UserError } from '../errors.js'

/**
 * The peer's Ed25519 identity. Fresh per run unless a file is given; the file
 * holds the libp2p protobuf private key, the same bytes Go EdgeVPN keeps in its
 * `--privkey-cache` file, so an identity can move between the two.
 */
export async function loadIdentity(file?: string): Promise<PrivateKey> {
  if (!file) return generateKeyPair('Ed25519')
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new UserError(`cannot read identity file ${file}: ${(err as Error).message}`)
    }
  }
  if (bytes) {
    try {
      const key = privateKeyFromProtobuf(bytes)
      if (key.type !== 'Ed25519') throw new Error(`${key.type} keys cannot sign EdgeVPN ledger entries`)
      return key
    } catch (err) {
      throw new UserError(`identity file ${file} does not hold a libp2p Ed25519 private key (${(err as Error).message})`, {
        hint: 'remove it to create a new identity',
      })
    }
  }
  const key = await generateKeyPair('Ed25519')
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    const fh = await open(file, 'wx', 0o600)
    await fh.writeFile(privateKeyToProtobuf(key))
    await fh.close()
  } catch (err) {
    throw new UserError(`cannot write identity file ${file}: ${(err as Error).message}`)
  }
  return key
}
