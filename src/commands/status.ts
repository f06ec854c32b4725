import { existsSync } from 'node:fs'
import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.js'
import { joinFromFlags, KAIROS_SOCKET, networkFlags, pickNetworkSource, type NetworkFlagValues } from '../cli/network.js'
import { renderStatus } from '../cli/render/status.js'
import { DEFAULT_BRIDGE_API, gatherStatus } from '../status/gather.js'
import type { Status as StatusJson } from '../status/model.js'

export default class Status extends BaseCommand<typeof Status> {
  static override summary = "Show this node, its peers, the VPN's machines and their liveness, and the ledger height"
  static override description =
    `Reads a running node's EdgeVPN API: the bridge's (${DEFAULT_BRIDGE_API}, then ${KAIROS_SOCKET} when present) unless --api names another. ` +
    'With --network-token it joins the network as a short-lived peer instead and reports what that peer sees. ' +
    'A machine is live while its healthcheck is younger than 480 s.'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --api unix:///run/edgevpn-kairos.sock --json', '<%= config.bin %> status --network-token "$TOKEN" --verbose']
  static override flags = {
    ...networkFlags,
    api: Flags.string({
      description: `EdgeVPN API to read (http://HOST:PORT or unix:///path; default ${DEFAULT_BRIDGE_API}, the bridge's)`,
      env: 'EDGEVPN_API',
    }),
    verbose: Flags.boolean({ char: 'v', description: 'Show full peer IDs, OS/arch and version of each machine; with --network-token, also log each step of joining on stderr' }),
  }

  override async init(): Promise<void> {
    await super.init()
    pickNetworkSource(this.flags, this.argv)
  }

  async run(): Promise<void> {
    const f = this.flags
    const network = f as NetworkFlagValues
    const progress = (line: string): void => this.progress(line)
    const status = await gatherStatus({
      api: f.api,
      join: f['network-token'] ? () => joinFromFlags(network, progress) : undefined,
      kairosSocket: { path: KAIROS_SOCKET, exists: () => existsSync(KAIROS_SOCKET) },
      timeoutMs: Math.min(f.timeout, 10) * 1000,
      progress,
    })
    this.clearProgress()
    if (f.json) return this.printJson<StatusJson>(status)
    process.stdout.write(renderStatus(status, { verbose: f.verbose }))
  }
}
