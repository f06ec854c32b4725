#!/usr/bin/env node
// oclif checks the Node version against its own package.json on import, which
// loads semver (about 50 files) on every start; package.json's engines field
// already states what kairosctl needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'

// --version, generate-token and token inspect in their common forms, without oclif (see src/cli/fast.ts).
const { runFast } = await import('../dist/cli/fast.js')
if (await runFast(process.argv.slice(2))) process.exit()

await import('../dist/polyfill.js')
const { execute } = await import('@oclif/core')
await execute({ dir: import.meta.url })
// The command has finished, its peer stopped. libp2p leaves debounce and
// heartbeat timers behind (gossipsub, identify push, address manager) that
// would keep the process alive for a second or more.
process.exit()
