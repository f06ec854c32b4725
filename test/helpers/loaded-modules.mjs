// Loaded with `node --import` (through NODE_OPTIONS): at exit, writes the
// CommonJS modules the process loaded, one path a line, to $KCTL_MODULES_OUT.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const cache = createRequire(import.meta.url).cache
process.on('exit', () => writeFileSync(process.env.KCTL_MODULES_OUT, Object.keys(cache).join('\n')))
