import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Flags } from '@oclif/core'
import chalk from 'chalk'
import { BaseCommand } from '../cli/base.js'
import { UserError } from '../errors.js'
import { startDemoNetwork } from '../kairos/demo.js'

interface Step {
  args: string[]
  exitCode: number
  stdout: string
  stderr: string
}

/** What `demo --json` prints: the demo network and what each command printed. */
export interface DemoJson {
  token: string
  /** Multiaddr of the bootstrap node. */
  bootstrap: string
  steps: { command: string[]; exitCode: number; stdout: string }[]
}

export default class Demo extends BaseCommand<typeof Demo> {
  static override summary = 'Run kairosctl against a local demo network (no cluster, no root)'
  static override description =
    'Starts a few in-process peers on loopback that play a small Kairos cluster (nodes advertising, roles, a master IP and a kubeconfig in the shared ledger), then runs get-kubeconfig, role list and ledger ls against it over real libp2p, and cleans up. With --keep the network stays up and the token is printed so you can try the other commands by hand.'
  static override examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --keep']
  static override flags = {
    keep: Flags.boolean({ description: 'Leave the network running and print how to reach it (Ctrl-C to stop)' }),
    nodes: Flags.integer({ description: 'Number of demo nodes', default: 3, min: 2, max: 10 }),
  }

  async run(): Promise<void> {
    const say = (text: string): void => {
      if (!this.flags.json) process.stdout.write(text + '\n')
    }
    this.progress(`starting ${this.flags.nodes} demo nodes on loopback…`)
    const net = await startDemoNetwork({ nodes: this.flags.nodes })
    this.clearProgress()
    const cleanup = (): Promise<void> => net.stop()
    try {
      say(chalk.bold(`A demo Kairos network of ${net.nodes.length} nodes is up on loopback.`))
      for (const n of net.nodes) say(`  node ${n.uuid}  ${n.role.padEnd(6)}  ${n.ip}  peer ${n.peer.id}`)
      say('')
      const reach = ['--bootstrap-peer', net.bootstrap, '--no-dht', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
      const steps: Step[] = []
      for (const args of [
        ['get-kubeconfig', ...reach],
        ['role', 'list', ...reach],
        ['ledger', 'ls', 'kairos', ...reach, ...(process.stdout.isTTY ? ['--truncate'] : [])],
      ]) {
        say(chalk.cyan(`$ kairosctl ${args.slice(0, args.indexOf('--bootstrap-peer')).join(' ')} --network-token "$TOKEN" --bootstrap-peer ${net.bootstrap}`))
        const step = await runSelf(args, net.token.base64)
        steps.push(step)
        say(step.stdout.trimEnd())
        if (step.exitCode !== 0) say(chalk.red(step.stderr.trimEnd()))
        say('')
      }
      if (this.flags.json) {
        this.printJson<DemoJson>({ token: net.token.base64, bootstrap: net.bootstrap, steps: steps.map(({ args, exitCode, stdout }) => ({ command: ['kairosctl', ...args], exitCode, stdout })) })
      }
      const failed = steps.filter((s) => s.exitCode !== 0)
      if (failed.length > 0) throw new UserError(`${failed.length} demo command(s) failed`, { hint: 'run with KAIROSCTL_DEBUG=1 for details' })
      if (!this.flags.keep) {
        say(chalk.dim('Stopping the demo network. Run `kairosctl demo --keep` to keep it up and try the commands yourself.'))
        return
      }
      say(chalk.bold('The demo network stays up. In another terminal:'))
      say(`  export EDGEVPNTOKEN='${net.token.base64}'`)
      say(`  kairosctl ledger ls --bootstrap-peer ${net.bootstrap} --no-dht --no-mdns`)
      say(`  kairosctl role set ${net.nodes[1].uuid} master/ha --bootstrap-peer ${net.bootstrap} --no-dht --no-mdns`)
      say('Press Ctrl-C to stop.')
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve())
        process.once('SIGTERM', () => resolve())
      })
    } finally {
      await cleanup()
    }
  }
}

/** Runs this CLI in a child process, the way an operator would. */
function runSelf(args: string[], token: string): Promise<Step> {
  const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, EDGEVPNTOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({ args, exitCode: code ?? 1, stdout, stderr }))
  })
}
