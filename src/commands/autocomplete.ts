import { basename } from 'node:path'
import { Args } from '@oclif/core'
import { BaseCommand } from '../cli/base.js'
import { completionScript, SHELLS, type CompletionCommand, type Shell } from '../completion.js'
import { ExitCode, UserError } from '../errors.js'

/** What `autocomplete --json` prints. */
export interface AutocompleteJson {
  shell: Shell
  script: string
}

export default class Autocomplete extends BaseCommand<typeof Autocomplete> {
  static override summary = 'Print a shell completion script (bash, zsh or fish)'
  static override description =
    'Completes commands, topic commands (ledger get, role set, token inspect …) and flag names, and the values of flags with a fixed set of choices. Without an argument the shell is taken from $SHELL.'
  static override examples = [
    'source <(<%= config.bin %> autocomplete bash)          # in ~/.bashrc',
    'source <(<%= config.bin %> autocomplete zsh)           # in ~/.zshrc, after compinit',
    '<%= config.bin %> autocomplete fish > ~/.config/fish/completions/<%= config.bin %>.fish',
  ]
  static override args = { shell: Args.string({ description: 'bash, zsh or fish', options: [...SHELLS] }) }

  async run(): Promise<void> {
    const fromEnv = basename(process.env.SHELL ?? '')
    const shell = (this.args.shell ?? fromEnv) as Shell
    if (!SHELLS.includes(shell)) {
      throw new UserError(`cannot tell the shell${fromEnv ? ` ($SHELL is ${fromEnv})` : ''}`, { exitCode: ExitCode.Usage, hint: `name it: kairosctl autocomplete ${SHELLS.join('|')}` })
    }
    const commands: CompletionCommand[] = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => ({
        id: c.id,
        summary: c.summary ?? c.description?.split('\n')[0],
        flags: Object.values(c.flags)
          .filter((f) => !f.hidden)
          .map((f) => ({
            name: f.name,
            char: f.char,
            description: f.summary ?? f.description,
            allowNo: f.type === 'boolean' && f.allowNo,
            takesValue: f.type === 'option',
            options: f.type === 'option' ? f.options : undefined,
          })),
      }))
    const topics = Object.fromEntries(this.config.topics.map((t) => [t.name, t.description ?? '']))
    const script = completionScript(shell, { bin: this.config.bin, commands, topics })
    if (this.flags.json) return this.printJson<AutocompleteJson>({ shell, script })
    process.stdout.write(script)
  }
}
