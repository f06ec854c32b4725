import { open } from 'node:fs/promises'
import { Flags } from '@oclif/core'
import { networkIdFlag } from '../cli/kairos-flags.js'
import { LedgerCommand } from '../cli/ledger-command.js'
import { UserError } from '../errors.js'
import { extractKubeconfig, renameContext, waitForKubeconfig } from '../kairos/kubeconfig.js'

/** What `get-kubeconfig --json` prints: the kubeconfig, or with --output the file it was written to. */
export type GetKubeconfigJson = { kubeconfig: string; masterIp: string } | { file: string; masterIp: string }

export default class GetKubeconfig extends LedgerCommand<typeof GetKubeconfig> {
  static override summary = "Print the cluster's kubeconfig, pointed at the master's VPN IP"
  static override description =
    "Reads the kubeconfig the Kairos master published in the ledger and rewrites its server address to the master's VPN IP, as the Go kairosctl does. Unlike it, every missing piece is an error with a non-zero exit."
  static override examples = [
    '<%= config.bin %> get-kubeconfig --network-token "$TOKEN" > kubeconfig',
    '<%= config.bin %> get-kubeconfig --api http://127.0.0.1:8080 -o ~/.kube/kairos --context kairos',
    '<%= config.bin %> get-kubeconfig --network-token "$TOKEN" --wait --timeout 900',
  ]
  static override flags = {
    ...LedgerCommand.flags,
    'network-id': networkIdFlag,
    output: Flags.string({ char: 'o', description: 'Write to this file (mode 0600) instead of stdout' }),
    force: Flags.boolean({ description: 'Overwrite the --output file if it exists' }),
    wait: Flags.boolean({ description: 'Keep watching the ledger until the kubeconfig appears (--timeout bounds joining and waiting together)' }),
    context: Flags.string({ description: 'Rename the cluster, context and user to this name' }),
  }

  async run(): Promise<void> {
    const f = this.flags
    // --timeout bounds the whole command: joining the network and then waiting share it.
    const startedAt = Date.now()
    const deadline = startedAt + f.timeout * 1000
    const { kubeconfig, masterIp } = await this.withLedger(async (access) => {
      if (!f.wait) return extractKubeconfig(await access.data(), f['network-id'])
      const timeoutMs = Math.max(0, deadline - Date.now())
      return waitForKubeconfig(access, f['network-id'], { timeoutMs, startedAt, onProgress: (status) => this.progress(status) })
    })
    this.clearProgress()
    const text = f.context ? renameContext(kubeconfig, f.context) : kubeconfig
    if (f.output) {
      try {
        const fh = await open(f.output, f.force ? 'w' : 'wx', 0o600)
        await fh.chmod(0o600)
        await fh.writeFile(text)
        await fh.close()
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EEXIST') throw new UserError(`${f.output} already exists`, { hint: 'pass --force to overwrite it' })
        throw new UserError(`cannot write ${f.output}: ${(err as Error).message}`)
      }
      if (f.json) return this.printJson<GetKubeconfigJson>({ file: f.output, masterIp })
      process.stderr.write(`wrote the kubeconfig for master ${masterIp} to ${f.output}\n`)
      return
    }
    if (f.json) return this.printJson<GetKubeconfigJson>({ kubeconfig: text, masterIp })
    // Byte for byte what the Go kairosctl prints (fmt.Println of the document).
    process.stdout.write(text + '\n')
  }
}
