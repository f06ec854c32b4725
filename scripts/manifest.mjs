// Writes oclif.manifest.json so the CLI starts without importing every command.
import { rmSync, writeFileSync } from 'node:fs'
import { Config } from '@oclif/core'

const root = new URL('..', import.meta.url).pathname
// oclif would read an existing manifest instead of scanning the commands.
rmSync(new URL('../oclif.manifest.json', import.meta.url), { force: true })
const config = await Config.load({ root })
const plugin = config.plugins.get(config.pjson.name)
const manifest = { ...plugin.manifest }
if (!manifest.commands || Object.keys(manifest.commands).length === 0) {
  console.error('manifest: no commands found')
  process.exit(1)
}
writeFileSync(new URL('../oclif.manifest.json', import.meta.url), JSON.stringify(manifest, null, 2) + '\n')
console.error(`manifest: ${Object.keys(manifest.commands).length} commands`)
