import { homedir } from 'node:os'
import { join } from 'node:path'
import { Flags } from '@oclif/core'
import chalk from 'chalk'
import { isLoopback, parseHostPort } from '../api/server.js'
import { BaseCommand } from '../cli/base.js'
import { readToken } from '../cli/flags.js'
import { networkFlags } from '../cli/network.js'
import { ExitCode, UsageError, UserError } from '../errors.js'
import type { OwnershipSetting } from '../peer/peer.js'
import { runBridge, type RunningBridge } from '../vpn/bridge.js'

const { api: _api, timeout: _timeout, ...peerFlags } = networkFlags

export default class Bridge extends BaseCommand<typeof Bridge> {
  static override summary = "Connect this machine to the cluster's VPN through a local TUN device"
  static override description =
    'Joins the network as a peer, creates a TUN interface with a VPN address, announces it in the ledger so nodes route to it, and serves an EdgeVPN-compatible API. Needs root or CAP_NET_ADMIN unless --no-tun. Stops cleanly on SIGINT/SIGTERM.'
  static override examples = [
    'sudo <%= config.bin %> bridge --network-token "$TOKEN"',
    '<%= config.bin %> bridge --network-token "$TOKEN" --no-tun --api unix:///tmp/kairos.sock',
  ]
  static override flags = {
    ...peerFlags,
    identity: Flags.string({
      description: 'Identity file (kept across runs so the VPN address stays ours)',
      default: join(homedir(), '.config', 'kairosctl', 'bridge-identity'),
    }),
    interface: Flags.string({ description: 'TUN interface name', default: 'kairos0', env: 'IFACE' }),
    address: Flags.string({ description: 'VPN address with prefix length', default: '10.1.0.254/24', env: 'ADDRESS' }),
    mtu: Flags.integer({ description: 'Interface MTU', default: 1200, min: 576, max: 65535 }),
    tun: Flags.boolean({ description: 'Create the TUN device (--no-tun runs only the peer and the API, without privileges)', default: true, allowNo: true }),
    api: Flags.string({ description: 'API listen address: HOST:PORT or unix:///path ("" to disable)', default: '127.0.0.1:8080' }),
    'api-allow-remote': Flags.boolean({ description: 'Allow the API to listen on a non-loopback address' }),
    'ownership-ttl': Flags.integer({ description: 'Seconds a node stays routable after its last healthcheck', default: 480, min: 0 }),
  }

  async run(): Promise<void> {
    const f = this.flags
    if (!f['network-token']) throw new UsageError('no network token', 'pass --network-token or set EDGEVPNTOKEN')
    const token = readToken(f['network-token'])
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(f.address)) throw new UsageError(`invalid --address ${f.address}`, 'use an IPv4 address with a prefix, e.g. 10.1.0.254/24')
    const api = f.api === '' ? undefined : f.api
    if (api && !api.startsWith('unix://')) {
      const { host } = parseHostPort(api)
      if (!isLoopback(host) && !f['api-allow-remote']) {
        throw new UsageError(`refusing to serve the API on ${host}, which is not a loopback address`, 'the API has no authentication: pass --api-allow-remote if you really mean it')
      }
    }
    const info = (line: string): void => {
      if (!f.json) process.stderr.write(line + '\n')
    }
    let running: RunningBridge
    try {
      running = await runBridge({
        peer: {
          token,
          identityFile: f.identity,
          listen: f.listen && f.listen.length > 0 ? f.listen : undefined,
          mdns: f.mdns,
          dht: f.dht,
          bootstrapPeers: (f['bootstrap-peer'] ?? []).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean),
          ownership: f.ownership as OwnershipSetting,
          ownershipTtl: f['ownership-ttl'] || undefined,
        },
        tun: f.tun ? { name: f.interface, mtu: f.mtu } : undefined,
        address: f.address,
        api,
        ownershipTtl: f['ownership-ttl'],
        log: (msg) => info(chalk.dim(msg)),
      })
    } catch (err) {
      if (err instanceof UserError) throw err
      throw new UserError(`the bridge could not start: ${(err as Error).message}`)
    }
    const summary = {
      peerId: running.peer.id,
      interface: running.tun ? f.interface : null,
      address: f.address,
      api: running.api?.address ?? null,
      listen: running.peer.host.getMultiaddrs().map(String),
    }
    if (f.json) this.printJson({ state: 'up', ...summary })
    else {
      info(`${chalk.green('bridge up')}: ${summary.interface ? `${summary.interface} ${f.address}` : `no TUN (${f.address} announced)`}, peer ${summary.peerId}`)
      if (summary.api) info(`API: ${summary.api}`)
    }

    await new Promise<void>((resolve) => {
      let signalled = false
      const shutdown = (sig: string): void => {
        if (signalled) return
        signalled = true
        info(`${sig}: withdrawing announcements and removing ${summary.interface ?? 'the peer'}…`)
        // Never hang on shutdown: give cleanup 10 s.
        const force = setTimeout(() => {
          process.stderr.write('error: cleanup did not finish within 10s; exiting\n')
          process.exit(ExitCode.Failure)
        }, 10_000)
        force.unref()
        void running.stop().finally(() => {
          clearTimeout(force)
          resolve()
        })
      }
      process.once('SIGINT', () => shutdown('SIGINT'))
      process.once('SIGTERM', () => shutdown('SIGTERM'))
    })
    if (f.json) this.printJson({ state: 'down' })
    else info('bridge down')
  }
}
