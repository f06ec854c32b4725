#!/usr/bin/env node
import '../dist/polyfill.js'
import { execute } from '@oclif/core'

await execute({ dir: import.meta.url })
