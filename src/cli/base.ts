import '../polyfill.js'
import { Command, Flags, Interfaces } from '@oclif/core'
import chalk from 'chalk'
import { ExitCode, UserError } from '../errors.js'

if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') chalk.level = 0

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** One line out of oclif's multi-line parse errors. */
function oneLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(See more help|Note:|Alternatively|The following errors? occurred:?)/.test(l))
  const [first, ...rest] = lines
  // "Missing 2 required args:" is followed by one "name  description" line per argument.
  if (/^Missing \d+ required args?:?$/.test(first ?? '')) return `${first.replace(/:$/, '')}: ${rest.map((l) => l.split(/\s+/)[0]).join(', ')}`
  return lines.join(': ')
}

/** True when `--json` is on the command line (before any `--`), for errors raised before the flags are parsed. */
function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json')
}

/**
 * Network tokens the command was given: EDGEVPNTOKEN, --network-token values,
 * and any argument that decodes to a token's YAML (`token inspect TOKEN`).
 */
function tokensIn(argv: readonly string[]): string[] {
  const found = new Set<string>()
  const env = process.env.EDGEVPNTOKEN?.trim()
  if (env) found.add(env)
  argv.forEach((a, i) => {
    if (a === '--network-token' && argv[i + 1] !== undefined) found.add(argv[i + 1])
    else if (a.startsWith('--network-token=')) found.add(a.slice('--network-token='.length))
    else if (a.length >= 40 && /^[A-Za-z0-9+/_=-]+$/.test(a) && /\botp:/.test(Buffer.from(a, 'base64').toString('latin1'))) found.add(a)
  })
  return [...found].map((t) => t.trim()).filter((t) => t.length >= 8)
}

/** Replaces every network token of the command line or environment in `text`. */
export function redactTokens(text: string, argv: readonly string[]): string {
  let out = text
  for (const token of tokensIn(argv)) out = out.split(token).join('<token>')
  return out
}

/**
 * Every kairosctl command extends this: a --json flag, one-line errors with
 * meaningful exit codes, and progress output that only appears on a TTY.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print machine-readable JSON on stdout', default: false }),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>

  override async init(): Promise<void> {
    await super.init()
    try {
      const { flags, args } = await this.parse({
        flags: this.ctor.flags,
        baseFlags: super.ctor.baseFlags,
        args: this.ctor.args,
        strict: this.ctor.strict,
      })
      this.flags = flags as BaseFlags<T>
      this.args = args as BaseArgs<T>
    } catch (err) {
      // oclif parse errors are multi-line (the detail is on the second line) with a
      // help suggestion; keep one line that still says what was wrong.
      const message = err instanceof Error ? oneLine(err.message) : String(err)
      throw new UserError(message, { exitCode: ExitCode.Usage, hint: `see 'kairosctl ${this.id?.replace(/:/g, ' ') ?? ''} --help'` })
    }
  }

  /**
   * Prints a command's result as JSON (for --json), bigints as strings. The
   * type argument is required: it names the result type the command declares
   * (`this.printJson<PutJson>({ … })`), so the compiler checks every field of
   * the JSON output against it.
   */
  protected printJson<T = never>(value: NoInfer<T>): void {
    process.stdout.write(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n')
  }

  /** A transient status line on stderr, shown only on an interactive terminal and never with --json. */
  protected progress(text: string): void {
    if (!process.stderr.isTTY || this.flags?.json) return
    process.stderr.write(`\r\x1b[2K${chalk.dim(text)}`)
  }

  protected clearProgress(): void {
    if (!process.stderr.isTTY || this.flags?.json) return
    process.stderr.write('\r\x1b[2K')
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    this.clearProgress()
    if (err.oclif?.exit === 0) return // help / version
    const debug = process.env.KAIROSCTL_DEBUG
    let line: string
    let code: number
    if (err instanceof UserError) {
      line = err.line()
      code = err.exitCode
    } else if (err.oclif?.exit !== undefined) {
      line = err.message.split('\n')[0]
      code = err.oclif.exit === 1 ? ExitCode.Usage : err.oclif.exit
    } else {
      line = `internal error: ${err.message} (set KAIROSCTL_DEBUG=1 for details)`
      code = ExitCode.Failure
    }
    // Tokens never reach the output, whatever echoed them (oclif's parse errors do).
    line = redactTokens(line, this.argv)
    if (this.flags?.json ?? jsonRequested(this.argv)) {
      process.stdout.write(JSON.stringify({ error: line, exitCode: code }) + '\n')
    }
    process.stderr.write(`${chalk.red('error')}: ${line}\n`)
    if (debug && err.stack) process.stderr.write(redactTokens(err.stack, this.argv) + '\n')
    process.exitCode = code
    this.exit(code)
  }
}
