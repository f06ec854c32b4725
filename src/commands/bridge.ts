import { isIPv4 } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { Flags } from '@oclif/core'
import chalk from 'chalk'
import { isLoopback, parseHostPort } from '../api/server.js'
import { listenSocketProblem } from '../api/socket-path.js'
import { BaseCommand } from '../cli/base.js'
import { readToken } from '../cli/flags.js'
import { bootstrapPeerList, networkFlags } from '../cli/network.js'
import { ExitCode, UsageError, UserError } from '../errors.js'
import { natmapEnabled } from '../peer/nat.js'
import type { OwnershipSetting } from '../peer/peer.js'
import { DhcpAborted, runBridge, type RunningBridge } from '../vpn/bridge.js'
import type { SendMode } from '../vpn/router.js'

const { api: _api, timeout: _timeout, ...peerFlags } = networkFlags

export default class Bridge extends BaseCommand<typeof Bridge> {
  static override summary = "Connect this machine to the cluster's VPN through a local TUN device"
  static override description =
    'Joins the network as a peer, creates a TUN interface with a VPN address, announces it in the ledger so nodes route to it, and serves an EdgeVPN-compatible API. Needs root or CAP_NET_ADMIN unless --no-tun. With --dhcp the address comes from a lease file or, like EdgeVPN\'s DHCP, from the network (the highest address in use + 1; needs at least one other live node). Stops cleanly on SIGINT/SIGTERM.'
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
    address: Flags.string({ description: 'VPN address with prefix length (with --dhcp: the address taken when no machine has one yet, and the prefix length)', default: '10.1.0.254/24', env: 'ADDRESS' }),
    dhcp: Flags.boolean({ description: "Take the VPN address from a lease, or from the network like EdgeVPN's --dhcp, instead of --address", env: 'DHCP' }),
    'lease-dir': Flags.string({
      description: 'With --dhcp: directory of the lease files, one per network (/tmp/kairos shares the Go kairosctl bridge\'s leases)',
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
    if (!isIPv4Cidr(f.address)) throw new UsageError(`invalid --address ${f.address}`, 'use an IPv4 address with a prefix length of 1 to 32, e.g. 10.1.0.254/24')
    const api = f.api === '' ? undefined : f.api
    if (api?.startsWith('unix://')) {
      const problem = listenSocketProblem(api.slice('unix://'.length))
      if (problem) throw new UserError(`cannot serve the API on ${api}: ${problem}`, { hint: 'create it first, or pass another --api path' })
    } else if (api) {
      const { host } = parseHostPort(api)
      if (!isLoopback(host) && !f['api-allow-remote']) {
        throw new UsageError(`refusing to serve the API on ${host}, which is not a loopback address`, 'the API has no authentication: pass --api-allow-remote if you really mean it')
      }
    }
    const info = (line: string): void => {
      if (!f.json) process.stderr.write(line + '\n')
    }

    // Signals are handled from the start: a bridge still waiting for a DHCP address stops as cleanly as a running one.
    const stop = new AbortController()
    let force: NodeJS.Timeout | undefined
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stop.signal.aborted) return
      info(`${sig}: withdrawing announcements and removing ${f.tun ? f.interface : 'the peer'}…`)
      // Never hang on shutdown: give cleanup 10 s.
      force = setTimeout(() => {
        process.stderr.write('error: cleanup did not finish within 10s; exiting\n')
        process.exit(ExitCode.Failure)
      }, 10_000)
      force.unref()
      stop.abort(sig)
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)

    let running: RunningBridge
    try {
      running = await runBridge({
        peer: {
          token,
          identityFile: f.identity,
          listen: f.listen && f.listen.length > 0 ? f.listen : undefined,
          mdns: f.mdns,
          dht: f.dht,
          natmap: natmapEnabled(f.natmap),
          bootstrapPeers: bootstrapPeerList(f['bootstrap-peer']),
          ownership: f.ownership as OwnershipSetting,
          ownershipTtl: f['ownership-ttl'] || undefined,
        },
        tun: f.tun ? { name: f.interface, mtu: f.mtu } : undefined,
        address: f.address,
        dhcp: f.dhcp ? { leaseDir: f['lease-dir'], timeoutMs: f['dhcp-timeout'] * 1000 } : undefined,
        api,
        apiAllowWrites: f['api-allow-writes'],
        ownershipTtl: f['ownership-ttl'],
        sendMode: f['vpn-streams'] as SendMode,
        signal: stop.signal,
        log: (msg) => info(chalk.dim(msg)),
      })
    } catch (err) {
      if (err instanceof DhcpAborted) {
        clearTimeout(force)
        if (f.json) this.printJson({ state: 'down', address: null })
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
    if (f.json) this.printJson({ state: 'up', ...summary })
    else {
      const from = { flag: '', lease: ' (from the lease)', dhcp: ' (from DHCP)', ledger: ' (from the ledger)' }[running.addressSource]
      info(`${chalk.green('bridge up')}: ${summary.interface ? `${summary.interface} ${running.address}` : `no TUN (${running.address} announced)`}${from}, peer ${summary.peerId}`)
      if (summary.api) info(`API: ${summary.api}${summary.api.startsWith('http') ? ` (dashboard: ${summary.api}/${f['api-allow-writes'] ? ', writes allowed' : ', read-only'})` : ''}`)
    }

    if (!stop.signal.aborted) await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }))
    await running.stop()
    clearTimeout(force)
    if (f.json) this.printJson({ state: 'down' })
    else info('bridge down')
  }
}

/** `a.b.c.d/n`: a plain IPv4 address (no leading zeros) and a prefix length of 1 to 32. */
function isIPv4Cidr(text: string): boolean {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text)
  return m !== null && isIPv4(m[1]) && Number(m[2]) >= 1 && Number(m[2]) <= 32
}
