/**
 * Shell completion scripts (bash, zsh, fish) for the CLI's commands, topics
 * and flags. The scripts are static: everything they offer is written into
 * them from the command list, so completing never starts the CLI.
 *
 * Command ids use ":" between words (`ledger:get`), as the manifest does; the
 * shell sees words separated by spaces (`kairosctl ledger get`).
 */

export interface CompletionFlag {
  name: string
  char?: string
  description?: string
  /** Boolean flags with a --no- form. */
  allowNo?: boolean
  /** Whether the flag takes a value (then `options`, when known, are its values). */
  takesValue: boolean
  options?: readonly string[]
}

export interface CompletionCommand {
  id: string
  summary?: string
  flags: CompletionFlag[]
}

export interface CompletionSpec {
  bin: string
  commands: CompletionCommand[]
  /** Topic descriptions by id (`ledger`). Topics are also inferred from command ids. */
  topics: Record<string, string>
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

interface Node {
  /** Id of the node ('' for the root). */
  id: string
  /** Child words (topics and commands) with descriptions. */
  children: Array<{ word: string; description: string }>
  flags: CompletionFlag[]
}

const HELP: CompletionFlag = { name: 'help', description: 'Show help', takesValue: false }

/** Every topic and command as a node of the word tree, root first. */
function nodes(spec: CompletionSpec): Node[] {
  const byId = new Map<string, Node>([['', { id: '', children: [], flags: [HELP, { name: 'version', description: 'Show the version', takesValue: false }] }]])
  const node = (id: string): Node => {
    let n = byId.get(id)
    if (!n) {
      n = { id, children: [], flags: [HELP] }
      byId.set(id, n)
    }
    return n
  }
  for (const c of [...spec.commands].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const words = c.id.split(':')
    for (let i = 0; i < words.length; i++) {
      const parent = node(words.slice(0, i).join(':'))
      const id = words.slice(0, i + 1).join(':')
      if (!parent.children.some((ch) => ch.word === words[i])) {
        const description = i === words.length - 1 ? (c.summary ?? '') : (spec.topics[id] ?? '')
        parent.children.push({ word: words[i], description })
      }
      node(id)
    }
    node(c.id).flags = [...c.flags.filter((f) => f.name !== 'help'), HELP]
  }
  return [...byId.values()]
}

/** `--name`, `--no-name`, `-c` for a flag. */
function flagWords(f: CompletionFlag): string[] {
  return [`--${f.name}`, ...(f.allowNo ? [`--no-${f.name}`] : []), ...(f.char ? [`-${f.char}`] : [])]
}

/** A single-quoted shell word (bash, zsh and fish all read '…' literally except for `'`). */
function sq(text: string, shell: Shell): string {
  return shell === 'fish' ? `'${text.replace(/[\\']/g, '\\$&')}'` : `'${text.replace(/'/g, `'\\''`)}'`
}

/** A description on one short line. */
function oneLine(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim()
  return t.length > 80 ? t.slice(0, 79) + '…' : t
}

/** The prefix of the script's function and variable names (`_kairosctl`). */
const fn = (bin: string): string => `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}`

function bash(spec: CompletionSpec): string {
  const f = fn(spec.bin)
  const all = nodes(spec)
  const cases = (pick: (n: Node) => string[]) => all.map((n) => `    ${sq(n.id, 'bash')}) echo ${sq(pick(n).join(' '), 'bash')} ;;`).join('\n')
  const valued = (n: Node) => n.flags.filter((fl) => fl.takesValue).flatMap((fl) => [`--${fl.name}`, ...(fl.char ? [`-${fl.char}`] : [])])
  const options = all.flatMap((n) => n.flags.filter((fl) => fl.options?.length).map((fl) => `    ${sq(`${n.id} --${fl.name}`, 'bash')}) echo ${sq(fl.options!.join(' '), 'bash')} ;;`))
  return `# bash completion for ${spec.bin}. Load it with:
#   source <(${spec.bin} autocomplete bash)
# or save it as ~/.local/share/bash-completion/completions/${spec.bin}
${f}_children() {
  case "$1" in
${cases((n) => n.children.map((c) => c.word))}
  esac
}
${f}_flags() {
  case "$1" in
${cases((n) => n.flags.flatMap(flagWords))}
  esac
}
${f}_valued() {
  case "$1" in
${cases(valued)}
  esac
}
${f}_options() {
  case "$1 $2" in
${options.join('\n')}
  esac
}
${f}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" id="" w i
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for (( i = 1; i < COMP_CWORD; i++ )); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && break
    case " $(${f}_children "$id") " in
      *" $w "*) id="\${id:+$id:}$w" ;;
      *) break ;;
    esac
  done
  if [[ $prev == -* && " $(${f}_valued "$id") " == *" $prev "* ]]; then
    local values
    values="$(${f}_options "$id" "$prev")"
    if [[ -n $values ]]; then COMPREPLY=($(compgen -W "$values" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(${f}_flags "$id")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(${f}_children "$id")" -- "$cur"))
  fi
}
complete -o default -F ${f} ${spec.bin}
`
}

function zsh(spec: CompletionSpec): string {
  const f = fn(spec.bin)
  const all = nodes(spec)
  const key = (id: string) => sq(id === '' ? '.' : id, 'zsh')
  // Per node: `word:description` lines (for _describe), and the flags that take a value.
  const entry = (word: string, description: string) => `${word.replace(/:/g, '\\:')}:${oneLine(description)}`
  const table = (name: string, rows: Array<[string, string]>) => `${f}_${name}=(\n${rows.map(([k, v]) => `  ${k} ${sq(v, 'zsh')}`).join('\n')}\n)`
  const valued = (n: Node) => n.flags.filter((fl) => fl.takesValue).flatMap((fl) => [`--${fl.name}`, ...(fl.char ? [`-${fl.char}`] : [])])
  return `#compdef ${spec.bin}
# zsh completion for ${spec.bin}. Load it with:
#   source <(${spec.bin} autocomplete zsh)
# or save it as _${spec.bin} in a directory of $fpath
typeset -gA ${f}_children ${f}_flags ${f}_valued ${f}_options
${table(
  'children',
  all.map((n) => [key(n.id), n.children.map((c) => entry(c.word, c.description)).join('\n')]),
)}
${table(
  'flags',
  all.map((n) => [key(n.id), n.flags.flatMap((fl) => flagWords(fl).map((w) => entry(w, fl.description ?? ''))).join('\n')]),
)}
${table(
  'valued',
  all.map((n) => [key(n.id), valued(n).join(' ')]),
)}
${table(
  'options',
  all.flatMap((n) => n.flags.filter((fl) => fl.options?.length).map((fl): [string, string] => [sq(`${n.id === '' ? '.' : n.id} --${fl.name}`, 'zsh'), fl.options!.join(' ')])),
)}
${f}() {
  local id=. w i prev=\${words[CURRENT-1]}
  local -a items
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    [[ $w == -* ]] && break
    items=(\${(f)\${${f}_children[$id]}})
    (( \${items[(I)$w:*]} )) || break
    if [[ $id == . ]]; then id=$w; else id=$id:$w; fi
  done
  if [[ $prev == -* && " \${${f}_valued[$id]} " == *" $prev "* ]]; then
    local values=\${${f}_options[$id $prev]}
    if [[ -n $values ]]; then compadd -- \${=values}; else _files; fi
    return
  fi
  if [[ \${words[CURRENT]} == -* ]]; then
    items=(\${(f)\${${f}_flags[$id]}})
    _describe -t flags 'flag' items
  else
    items=(\${(f)\${${f}_children[$id]}})
    if (( \${#items} )); then _describe -t commands 'command' items; else _files; fi
  fi
}
if [[ $funcstack[1] == ${f} ]]; then ${f} "$@"; else compdef ${f} ${spec.bin}; fi
`
}

function fish(spec: CompletionSpec): string {
  const f = fn(spec.bin)
  const all = nodes(spec)
  const ids = all.map((n) => n.id).filter((id) => id !== '')
  const lines: string[] = []
  for (const n of all) {
    const cond = sq(`${f}_at ${sq(n.id, 'fish')}`, 'fish')
    for (const c of n.children) lines.push(`complete -c ${spec.bin} -n ${cond} -f -a ${sq(c.word, 'fish')} -d ${sq(oneLine(c.description), 'fish')}`)
    for (const fl of n.flags) {
      const names = [fl.name, ...(fl.allowNo ? [`no-${fl.name}`] : [])]
        .map((l) => `-l ${sq(l, 'fish')}`)
        .concat(fl.char ? [`-s ${sq(fl.char, 'fish')}`] : [])
        .join(' ')
      const value = fl.takesValue ? (fl.options?.length ? ` -x -a ${sq(fl.options.join(' '), 'fish')}` : ' -r') : ''
      lines.push(`complete -c ${spec.bin} -n ${cond} ${names}${value} -d ${sq(oneLine(fl.description ?? ''), 'fish')}`)
    }
  }
  return `# fish completion for ${spec.bin}. Load it with:
#   ${spec.bin} autocomplete fish | source
# or save it as ~/.config/fish/completions/${spec.bin}.fish
set -g ${f}_ids ${ids.map((id) => sq(id, 'fish')).join(' ')}
# The command the words typed so far name ('' for none yet).
function ${f}_id
  set -l id ''
  set -l words (commandline -opc)
  set -e words[1]
  for w in $words
    string match -q -- '-*' $w; and break
    set -l next $w
    test -n "$id"; and set next "$id:$w"
    contains -- $next $${f}_ids; or break
    set id $next
  end
  echo $id
end
function ${f}_at
  set -l id (${f}_id)
  test "$id" = "$argv[1]"
end
complete -c ${spec.bin} -e
${lines.join('\n')}
`
}

/** The completion script for a shell. */
export function completionScript(shell: Shell, spec: CompletionSpec): string {
  return shell === 'bash' ? bash(spec) : shell === 'zsh' ? zsh(spec) : fish(spec)
}
