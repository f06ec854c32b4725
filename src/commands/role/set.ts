import { Args, Flags } from '@oclif/core'
import { networkIdFlag } from '../../cli/kairos-flags.js'
import { LedgerCommand, type WriteState } from '../../cli/ledger-command.js'
import { UsageError, UserError } from '../../errors.js'
import { KNOWN_ROLES, listRoles, setRole, validateRole } from '../../kairos/roles.js'

/** What `role set --json` prints. */
export interface RoleSetJson {
  uuid: string
  role: string
  state: WriteState
}

export default class RoleSet extends LedgerCommand<typeof RoleSet> {
  static override summary = 'Assign a role to a node'
  static override description =
    'Writes <uuid>-role the way Kairos nodes read it. Known roles: master, worker, master/ha, master/clusterinit; anything else (including auto, which every node already runs and which would pin the node as assigned) needs --force. With UUID or ROLE missing on a terminal, pick them interactively.'
  static override examples = ['<%= config.bin %> role set 0b2f6c1d9e master --network-token "$TOKEN"', '<%= config.bin %> role set --network-token "$TOKEN"   # interactive']
  static override args = {
    uuid: Args.string({ description: 'Node UUID (see role list)' }),
    role: Args.string({ description: 'Role' }),
  }
  static override flags = {
    ...LedgerCommand.flags,
    'network-id': networkIdFlag,
    force: Flags.boolean({ description: 'Allow a role kairosctl does not know' }),
    wait: Flags.boolean({ description: 'Wait until another peer confirms the change', default: true, allowNo: true }),
  }

  async run(): Promise<void> {
    const f = this.flags
    let { uuid, role } = this.args
    const interactive = process.stdin.isTTY && process.stdout.isTTY && !f.json
    if ((!uuid || !role) && !interactive) throw new UsageError('role set needs UUID and ROLE', "usage: kairosctl role set UUID ROLE (see 'kairosctl role list')")
    if (role) validateRole(role, f.force)
    const set = await this.withLedger(async (access) => {
      if (!uuid || !role) {
        const prompts = await import('@inquirer/prompts')
        // Ctrl-C at a prompt is a cancellation, not a failure of the tool.
        const select: typeof prompts.select = ((...args: Parameters<typeof prompts.select>) =>
          prompts.select(...args).catch((err: Error) => {
            throw err?.name === 'ExitPromptError' ? new UserError('cancelled', { exitCode: 130 }) : err
          })) as typeof prompts.select
        const nodes = listRoles(await access.data(), f['network-id'])
        if (!uuid) {
          if (nodes.length === 0) throw new UsageError(`no nodes have advertised in network "${f['network-id']}"`, 'pass the UUID explicitly')
          uuid = await select({
            message: 'Node',
            choices: nodes.map((n) => ({ name: `${n.uuid}  ${n.role || '(no role)'}  ${n.ip || '-'}`, value: n.uuid })),
          })
        }
        if (!role) role = await select({ message: 'Role', choices: KNOWN_ROLES.map((r) => ({ name: r, value: r })) })
      }
      this.progress(`setting ${uuid} to ${role}…`)
      await setRole(access, f['network-id'], uuid, role, { confirm: f.wait, timeoutMs: f.timeout * 1000 })
      return { uuid, role }
    })
    this.clearProgress()
    if (f.json) return this.printJson<RoleSetJson>({ uuid: set.uuid, role: set.role, state: f.wait ? 'confirmed' : 'announced' })
    process.stdout.write(`${set.uuid} is now ${set.role}\n`)
  }
}
