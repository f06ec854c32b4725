// Writes dist/help.json: the help oclif prints for the root, every topic and
// every command (`--help`), rendered at 80 columns, so that src/cli/fast.ts
// can print it without loading oclif. Run after the manifest is written.
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { promisify } from 'node:util'

const run = promisify(execFile)
const bin = new URL('../bin/run.js', import.meta.url).pathname
const manifest = JSON.parse(readFileSync(new URL('../oclif.manifest.json', import.meta.url), 'utf8'))
const ids = Object.keys(manifest.commands).map((id) => id.split(':'))
const topics = [...new Set(ids.filter((w) => w.length > 1).map((w) => w.slice(0, -1).join(' ')))].map((t) => t.split(' '))

/** Every argv form that prints help and exits 0, keyed by its words joined with spaces. */
const forms = [[], ['--help'], ...topics.flatMap((t) => [t, [...t, '--help']]), ...ids.map((w) => [...w, '--help'])]
const env = { ...process.env, KAIROSCTL_NO_FAST_PATH: '1', OCLIF_COLUMNS: '80', NO_COLOR: '1' }
const texts = {}
await Promise.all(
  forms.map(async (argv) => {
    const { stdout, stderr } = await run(process.execPath, [bin, ...argv], { env })
    if (stderr !== '') throw new Error(`help for "${argv.join(' ')}" wrote to stderr: ${stderr}`)
    texts[argv.join(' ')] = stdout
  }),
)
const sorted = Object.fromEntries(Object.entries(texts).sort(([a], [b]) => (a < b ? -1 : 1)))
// The root help names the platform and the Node version (oclif's user agent): fast.ts puts the running one in.
const { stdout: userAgent } = await run(process.execPath, [bin, '--version'], { env })
writeFileSync(new URL('../dist/help.json', import.meta.url), JSON.stringify({ userAgent: userAgent.trim(), texts: sorted }) + '\n')
console.error(`help: ${forms.length} texts`)
