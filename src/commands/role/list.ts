import { networkIdFlag } from '../../cli/kairos-flags.js'
import { LedgerCommand } from '../../cli/ledger-command.js'
import { table } from '../../cli/table.js'
import { listRoles, type NodeRole } from '../../kairos/roles.js'

/** What `role list --json` prints. */
export type RoleListJson = (Omit<NodeRole, 'lastSeen'> & { /** ISO 8601. */ lastSeen: string })[]

export default class RoleList extends LedgerCommand<typeof RoleList> {
  static override summary = 'List the advertising nodes with their role and IP'
  static override examples = ['<%= config.bin %> role list --network-token "$TOKEN"', '<%= config.bin %> role list --api http://127.0.0.1:8080 --json']
  static override flags = { ...LedgerCommand.flags, 'network-id': networkIdFlag }

  async run(): Promise<void> {
    const nodes = await this.withLedger(async (access) => listRoles(await access.data(), this.flags['network-id']))
    if (this.flags.json) return this.printJson<RoleListJson>(nodes.map((n) => ({ ...n, lastSeen: n.lastSeen.toISOString() })))
    if (nodes.length === 0) {
      process.stdout.write(`no nodes have advertised in network "${this.flags['network-id']}" in the last 15 minutes\n`)
      return
    }
    process.stdout.write(
      table(
        ['NODE', 'ROLE', 'IP', 'LAST SEEN'],
        nodes.map((n) => [n.uuid, n.role || '-', n.ip || '-', n.lastSeen.toISOString()]),
      ),
    )
  }
}
