#!/usr/bin/env node
import '../dist/polyfill.js'
import { execute } from '@oclif/core'

await execute({ dir: import.meta.url })
// The command has finished, its peer stopped. libp2p leaves debounce and
// heartbeat timers behind (gossipsub, identify push, address manager) that
// would keep the process alive for a second or more.
process.exit()
