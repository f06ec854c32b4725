import { constants, type Stats } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ExitCode, UserError } from '../errors.js'

/**
 * The peer's Ed25519 identity. Fresh per run unless a file is given; the file
 * holds the libp2p protobuf private key, the same bytes Go EdgeVPN keeps in its
 * `--privkey-cache` file, so an identity can move between the two.
 */
export async function loadIdentity(file?: string): Promise<PrivateKey> {
  if (!file) return generateKeyPair('Ed25519')
  const bytes = await readRegularFile(file)
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

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a named pipe'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device'
  return 'not a regular file'
}

/**
 * The file's bytes, or undefined when it does not exist. Opened without
 * blocking and checked before reading: a named pipe or a device would
 * otherwise block or never end.
 */
async function readRegularFile(file: string): Promise<Uint8Array | undefined> {
  let fh
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    const why = code === 'EACCES' ? 'permission denied' : code === 'ENOTDIR' ? 'a part of the path is not a directory' : (err as Error).message
    throw new UserError(`cannot read identity file ${file}: ${why}`)
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) {
      throw new UserError(`identity file ${file} is ${kind(st)}`, { exitCode: ExitCode.Usage, hint: 'pass the path of a regular file (it is created if missing)' })
    }
    return await fh.readFile()
  } catch (err) {
    if (err instanceof UserError) throw err
    throw new UserError(`cannot read identity file ${file}: ${(err as Error).message}`)
  } finally {
    await fh.close()
  }
}
