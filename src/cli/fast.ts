/**
 * The commonest invocations of commands that never join a network, run
 * without loading oclif (about a hundred modules, most of the start-up time):
 *
 *   --version
 *   generate-token [--yaml] [--json]
 *   create-config [--json]
 *   token inspect [TOKEN] [--show-secrets] [--json]
 *   help: no arguments, a topic alone, `--help` after the root, a topic or a command
 *
 * Help comes from dist/help.json, oclif's own help rendered at 80 columns at
 * build time (scripts/help-text.mjs); a terminal narrower than 80 columns, or
 * OCLIF_COLUMNS, gets oclif's live rendering instead.
 * The output is the same as through the command classes (the same rendering
 * functions; test/unit/startup.test.ts compares both paths). Anything else
 * (other flags or arguments, help, a bad or missing token) returns false
 * having printed nothing, and oclif runs the command as usual, errors
 * included. KAIROSCTL_NO_FAST_PATH (any value) turns this off.
 */

/** Command words at the start of argv, then only the given boolean flags (each once) and up to `positionals` arguments. */
function match(argv: string[], words: string[], flags: string[], positionals: number): { flags: Set<string>; args: string[] } | undefined {
  if (words.some((w, i) => argv[i] !== w)) return undefined
  const rest = argv.slice(words.length)
  const given = rest.filter((a) => a.startsWith('-'))
  const args = rest.filter((a) => !a.startsWith('-'))
  if (args.length > positionals || given.some((f) => !flags.includes(f)) || new Set(given).size !== given.length) return undefined
  return { flags: new Set(given), args }
}

/** What oclif prints for --version (its `config.userAgent`). */
async function versionText(): Promise<string> {
  const [{ readFileSync }, { arch, release }] = await Promise.all([import('node:fs'), import('node:os')])
  const pjson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string }
  const platform = process.platform === 'linux' && /microsoft/i.test(release()) ? 'wsl' : process.platform
  return `${pjson.name}/${pjson.version} ${platform}-${arch() === 'ia32' ? 'x86' : arch()} node-${process.version}\n`
}

/** The help text oclif prints for argv, when it was rendered at build time and fits the terminal. */
async function helpText(argv: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (argv.length > 0 && argv.at(-1) !== '--help' && argv.length !== 1) return undefined
  if (env.OCLIF_COLUMNS !== undefined || (process.stdout.isTTY && process.stdout.columns < 80)) return undefined
  const { readFileSync } = await import('node:fs')
  let help: { userAgent: string; texts: Record<string, string> }
  try {
    help = JSON.parse(readFileSync(new URL('../help.json', import.meta.url), 'utf8')) as typeof help
  } catch {
    return undefined
  }
  const key = argv.join(' ')
  if (!Object.hasOwn(help.texts, key)) return undefined
  return help.texts[key].replaceAll(help.userAgent, (await versionText()).trim())
}

const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n'

/** Runs argv here when it is one of the forms above; true when it did. */
export async function runFast(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (env.KAIROSCTL_NO_FAST_PATH !== undefined) return false
  try {
    if (argv.length === 1 && argv[0] === '--version') {
      process.stdout.write(await versionText())
      return true
    }
    const gen = match(argv, ['generate-token'], ['--yaml', '--json'], 0)
    if (gen) {
      const [{ DEFAULT_KEY_LENGTH, generateToken }, out] = await Promise.all([import('../token/token.js'), import('./token-output.js')])
      const token = generateToken()
      process.stdout.write(gen.flags.has('--json') ? json(out.generatedTokenReport(token, DEFAULT_KEY_LENGTH)) : out.generatedTokenText(token, gen.flags.has('--yaml')))
      return true
    }
    const config = match(argv, ['create-config'], ['--json'], 0)
    if (config) {
      const [{ generateToken }, out] = await Promise.all([import('../token/token.js'), import('./token-output.js')])
      const token = generateToken()
      process.stdout.write(config.flags.has('--json') ? json(out.cloudConfigReport(token)) : out.cloudConfig(token.base64))
      return true
    }
    const inspect = match(argv, ['token', 'inspect'], ['--show-secrets', '--json'], 1)
    if (inspect) {
      const given = inspect.args[0] ?? env.EDGEVPNTOKEN
      if (given === undefined || given.trim() === '') return false
      const [{ parseToken }, { inspectToken, mask, renderReport }] = await Promise.all([import('../token/token.js'), import('../token/inspect.js')])
      const report = await inspectToken(parseToken(given), new Date(), inspect.flags.has('--show-secrets') ? (v) => v : mask)
      process.stdout.write(inspect.flags.has('--json') ? json(report) : renderReport(report))
      return true
    }
    const help = await helpText(argv, env)
    if (help !== undefined) {
      process.stdout.write(help)
      return true
    }
  } catch {
    // A bad token, for one: oclif reports it.
  }
  return false
}
