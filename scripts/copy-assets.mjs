// Copies the files tsc does not emit (the bridge dashboard's page) into dist.
import { cpSync, rmSync } from 'node:fs'

const from = new URL('../src/api/dashboard/', import.meta.url)
const to = new URL('../dist/api/dashboard/', import.meta.url)
rmSync(to, { recursive: true, force: true })
cpSync(from, to, { recursive: true })
