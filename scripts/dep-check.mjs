// Fails when src/, bin/, test/ or bench/ import a package that package.json does
// not declare (a package that is only there because something else depends on it
// can disappear or change version under us). Node's built-in modules are fine.
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const declared = new Set(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies }))
const builtins = new Set(builtinModules)

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') yield* sources(path)
    } else if (/\.(ts|js|mjs|cjs)$/.test(e.name)) yield path
  }
}

// import ... from 'p' and export ... from 'p' (also over several lines), import 'p', import('p')
const specifier = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"\n]+)['"]|^\s*import\s*['"]([^'"\n]+)['"]|\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/gm
const problems = []
for (const dir of ['src', 'bin', 'test', 'bench']) {
  for (const file of sources(join(root, dir))) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(specifier)) {
      const spec = m[1] ?? m[2] ?? m[3]
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('#')) continue
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]
      if (builtins.has(name) || declared.has(name)) continue
      const line = text.slice(0, m.index).split('\n').length
      problems.push(`${relative(root, file)}:${line}: '${spec}' is not declared in package.json`)
    }
  }
}
if (problems.length) {
  console.error(problems.join('\n'))
  console.error(`dep-check: ${problems.length} import(s) of undeclared packages`)
  process.exit(1)
}
console.log('dep-check: every imported package is declared')
