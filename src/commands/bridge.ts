import { homedir } from 'node:os'
import { join } from 'node:path'
import { Flags } from '@oclif/core'
import chalk from 'chalk'
import { BaseCommand } from '../cli/base.js'
import { bridgeOptions, checkBridgeFlags } from '../cli/bridge.js'
import { readToken } from '../cli/flags.js'
import { networkFlags } from '../cli/network.js'
import { untilSignal } from '../cli/signals.js'
import { UsageError, UserError } from '../errors.js'
import { DhcpAborted, runBridge, type AddressSource, type RunningBridge } from '../vpn/bridge.js'

/**
 * What `bridge --json` prints, one JSON document per state change: "up" once
 * running, then "down" once stopped ("down" with a null address when stopped
 * while still waiting for DHCP).
 */
export type BridgeJson =
  | {
      state: 'up'
      peerId: string
      /** The TUN interface, or null with --no-tun. */
      interface: string | null
      address: string
      addressSource: AddressSource
      leaseFile: string | null
      /** The API's address, or null without an API. */
      api: string | null
      listen: string[]
    }
  | { state: 'down'; address?: null }

// The bridge logs each step anyway (it runs until stopped), so it has no --verbose.
const { api: _api, timeout: _timeout, verbose: _verbose, ...peerFlags } = networkFlags

export default class Bridge extends BaseCommand<typeof Bridge> {
  static override summary = "Connect this machine to the cluster's VPN through a local TUN device"
  static override description =
    "Joins the network as a peer, creates a TUN interface with a VPN address, announces it in the ledger so nodes route to it, and serves an EdgeVPN-compatible API. Needs root or CAP_NET_ADMIN unless --no-tun. With --dhcp the address comes from a lease file or, like EdgeVPN's DHCP, from the network (the highest address in use + 1; needs at least one other live node). Stops cleanly on SIGINT/SIGTERM."
  static override examples = [
    'sudo <%= config.bin %> bridge --network-token "$TOKEN"',
    '<%= config.bin %> bridge --network-token "$TOKEN" --no-tun --api unix:///tmp/kairos.sock',
    'sudo <%= config.bin %> bridge --network-token "$TOKEN" --dhcp',
  ]
  static override flags = {
    ...peerFlags,
    identity: Flags.string({
      description: 'Identity file (kept across runs so the VPN address stays ours)',
      default: join(homedir(), '.config', 'kairosctl', 'bridge-identity'),
    }),
    interface: Flags.string({ description: 'TUN interface name', default: 'kairos0', env: 'IFACE' }),
    address: Flags.string({
      description: 'VPN address with prefix length (with --dhcp: the address taken when no machine has one yet, and the prefix length)',
      default: '10.1.0.254/24',
      env: 'ADDRESS',
    }),
    dhcp: Flags.boolean({ description: "Take the VPN address from a lease, or from the network like EdgeVPN's --dhcp, instead of --address", env: 'DHCP' }),
    'lease-dir': Flags.string({
      description: "With --dhcp: directory of the lease files, one per network (/tmp/kairos shares the Go kairosctl bridge's leases)",
      default: join(homedir(), '.config', 'kairosctl', 'leases'),
    }),
    'dhcp-timeout': Flags.integer({ description: 'With --dhcp: give up after this many seconds without an address (0: wait as long as the bridge runs)', default: 0, min: 0 }),
    mtu: Flags.integer({ description: 'Interface MTU', default: 1200, min: 576, max: 65535 }),
    tun: Flags.boolean({ description: 'Create the TUN device (--no-tun runs only the peer and the API, without privileges)', default: true, allowNo: true }),
    api: Flags.string({ description: 'API listen address: HOST:PORT or unix:///path ("" to disable)', default: '127.0.0.1:8080' }),
    'api-allow-remote': Flags.boolean({ description: 'Allow the API to listen on a non-loopback address' }),
    'api-allow-writes': Flags.boolean({
      description: "Show write controls (put and delete keys) on the dashboard at the API root. EdgeVPN's API routes, which its clients use, accept writes either way",
    }),
    'ownership-ttl': Flags.integer({ description: 'Seconds a node stays routable after its last healthcheck', default: 480, min: 0 }),
    'vpn-streams': Flags.string({
      description: 'How packets travel to peers: one long-lived stream per peer (reuse), or a stream per packet as Go EdgeVPN sends (per-packet; for comparison)',
      options: ['reuse', 'per-packet'],
      default: 'reuse',
      hidden: true,
    }),
  }

  async run(): Promise<void> {
    const f = this.flags
    if (!f['network-token']) throw new UsageError('no network token', 'pass --network-token or set EDGEVPNTOKEN')
    const token = readToken(f['network-token'])
    const api = checkBridgeFlags(f)
    const info = (line: string): void => {
      if (!f.json) process.stderr.write(line + '\n')
    }

    // Signals are handled from the start: a bridge still waiting for a DHCP address stops as cleanly as a running one.
    const stop = untilSignal((sig) => info(`${sig}: withdrawing announcements and removing ${f.tun ? f.interface : 'the peer'}…`))

    let running: RunningBridge
    try {
      running = await runBridge(bridgeOptions(f, token, api, stop.signal, (msg) => info(chalk.dim(msg))))
    } catch (err) {
      if (err instanceof DhcpAborted) {
        stop.done()
        if (f.json) this.printJson<BridgeJson>({ state: 'down', address: null })
        else info('bridge down (stopped before DHCP assigned an address)')
        return
      }
      if (err instanceof UserError) throw err
      throw new UserError(`the bridge could not start: ${(err as Error).message}`)
    }
    const summary = {
      peerId: running.peer.id,
      interface: running.tun ? f.interface : null,
      address: running.address,
      addressSource: running.addressSource,
      leaseFile: running.leaseFile ?? null,
      api: running.api?.address ?? null,
      listen: running.peer.host.getMultiaddrs().map(String),
    }
    if (f.json) this.printJson<BridgeJson>({ state: 'up', ...summary })
    else {
      const from = { flag: '', lease: ' (from the lease)', dhcp: ' (from DHCP)', ledger: ' (from the ledger)' }[running.addressSource]
      info(`${chalk.green('bridge up')}: ${summary.interface ? `${summary.interface} ${running.address}` : `no TUN (${running.address} announced)`}${from}, peer ${summary.peerId}`)
      if (summary.api) info(`API: ${summary.api}${summary.api.startsWith('http') ? ` (dashboard: ${summary.api}/${f['api-allow-writes'] ? ', writes allowed' : ', read-only'})` : ''}`)
    }

    await stop.stopped()
    await running.stop()
    stop.done()
    if (f.json) this.printJson<BridgeJson>({ state: 'down' })
    else info('bridge down')
  }
}
