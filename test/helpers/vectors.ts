/**
 * The project's shared test vectors: `shared/vectors/vectors.json` next to this
 * repository, or the file named by KAIROSCTL_VECTORS. Tests that need them
 * skip with `noVectors` as the reason when neither exists.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const vectorsPath: string | undefined = [process.env.KAIROSCTL_VECTORS, fileURLToPath(new URL('../../../shared/vectors/vectors.json', import.meta.url))]
  .map((p) => (p ? resolve(p) : undefined))
  .find((p): p is string => !!p && existsSync(p))

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const vectors: any = vectorsPath ? JSON.parse(readFileSync(vectorsPath, 'utf8')) : undefined

export const noVectors: false | string = vectorsPath ? false : 'shared/vectors/vectors.json not found (set KAIROSCTL_VECTORS)'
