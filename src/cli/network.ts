import { existsSync } from 'node:fs'
import { Flags } from '@oclif/core'
import type { PeerLedgerAccess } from '../ledger-access/network.js'
import type { LedgerAccess } from '../ledger-access/types.js'
import { ApiLedgerAccess } from '../ledger-access/api.js'
import { UsageError } from '../errors.js'
import type { JoinProgress } from '../peer/join.js'
import type { OwnershipSetting, PeerOptions } from '../peer/peer.js'
import type { NetworkToken } from '../token/token.js'
import { natmapEnabled } from '../peer/nat/reachability.js'
import { networkTokenFlag, readToken } from './flags.js'

/** Where a Kairos node's EdgeVPN daemon serves its API. */
export const KAIROS_SOCKET = '/run/edgevpn-kairos.sock'

/** Flags shared by every command that reaches a ledger (by token or by API). */
export const networkFlags = {
  'network-token': networkTokenFlag,
  // Not oclif's `exclusive`: its error echoes the token. See pickNetworkSource().
  api: Flags.string({
    description: 'Use a running EdgeVPN API instead of joining the network (http://HOST:PORT or unix:///path)',
    env: 'EDGEVPN_API',
  }),
  'bootstrap-peer': Flags.string({
    description: 'Multiaddr of a peer to dial (repeatable, or comma-separated as in EDGEVPNBOOTSTRAPPEERS; for air-gapped networks)',
    aliases: ['discovery-bootstrap-peers'],
    multiple: true,
    multipleNonGreedy: true,
    env: 'EDGEVPNBOOTSTRAPPEERS',
  }),
  listen: Flags.string({ description: 'libp2p listen multiaddr (repeatable)', multiple: true, multipleNonGreedy: true }),
  dht: Flags.boolean({ description: 'Discover peers through the DHT rendezvous', default: true, allowNo: true }),
  mdns: Flags.boolean({ description: 'Discover peers on the LAN with mDNS', default: true, allowNo: true }),
  // No default: unset means on, except with KAIROSCTL_NO_PUBLIC_DHT=1 (natmapEnabled).
  natmap: Flags.boolean({ description: 'Map the listen port on the router with UPnP so nodes behind NAT can dial us (default: on)', allowNo: true, env: 'EDGEVPNNATMAP' }),
  identity: Flags.string({ description: 'Keep the peer identity in this file (created 0600 if missing)' }),
  ownership: Flags.string({
    description: 'Ledger write mode: follow the network (auto), legacy unsigned (off), or signed (observe, enforce)',
    options: ['auto', 'off', 'observe', 'enforce'],
    default: 'auto',
  }),
  timeout: Flags.integer({ description: 'Seconds to wait for peers and the ledger', default: 30, min: 1 }),
  verbose: Flags.boolean({ char: 'v', description: 'With --network-token: log each step of joining on stderr (bootstrap, rendezvous, relay, hole punch, direct connection, sync)' }),
}

export interface NetworkFlagValues {
  'network-token'?: string
  api?: string
  'bootstrap-peer'?: string[] | string
  listen?: string[]
  dht: boolean
  mdns: boolean
  natmap?: boolean
  identity?: string
  ownership: string
  timeout: number
  verbose?: boolean
}

/**
 * The bootstrap peers as Go EdgeVPN reads them (urfave/cli string slice): each
 * value, from the flag or EDGEVPNBOOTSTRAPPEERS, split at commas and trimmed.
 * oclif hands the variable of a `multiple` flag over as one string.
 */
export function bootstrapPeerList(values: string[] | string | undefined): string[] {
  return [values ?? []]
    .flat()
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)
}

/** The flags of {@link networkFlags} that say how the peer joins (every command that runs one: the ledger commands, status, ping, bridge). */
export type PeerFlagValues = Pick<NetworkFlagValues, 'identity' | 'listen' | 'mdns' | 'dht' | 'natmap' | 'bootstrap-peer' | 'ownership'>

/** The options of a peer that joins the network with `token` the way the flags say. */
export function peerOptionsFromFlags(flags: PeerFlagValues, token: NetworkToken): PeerOptions {
  return {
    token,
    identityFile: flags.identity,
    listen: flags.listen && flags.listen.length > 0 ? flags.listen : undefined,
    mdns: flags.mdns,
    dht: flags.dht,
    natmap: natmapEnabled(flags.natmap),
    bootstrapPeers: bootstrapPeerList(flags['bootstrap-peer']),
    ownership: flags.ownership as OwnershipSetting,
  }
}

/** True when `--name` (or `--name=…`) is on the command line, before any `--`. */
export function onCommandLine(argv: readonly string[], name: string): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === `--${name}` || a.startsWith(`--${name}=`))
}

/**
 * --api and --network-token choose between two ways to reach the ledger. A flag
 * given on the command line beats the other one's environment variable
 * (EDGEVPNTOKEN in the shell and `--api URL` means the API); both on the
 * command line, or both only in the environment, is a usage error. Clears the
 * flag that loses.
 */
export function pickNetworkSource(flags: { api?: string; 'network-token'?: string }, argv: readonly string[]): void {
  if (flags.api === undefined || flags['network-token'] === undefined) return
  const api = onCommandLine(argv, 'api')
  const token = onCommandLine(argv, 'network-token')
  if (api && token) throw new UsageError('--api and --network-token cannot be used together', 'pass --api to use a running node, or --network-token to join the network')
  if (api) flags['network-token'] = undefined
  else if (token) flags.api = undefined
  else throw new UsageError('both EDGEVPN_API and EDGEVPNTOKEN are set', 'unset one of them, or choose with --api or --network-token')
}

/**
 * Opens ledger access from the flags: --api talks to a running API, otherwise
 * the token joins the network. `progress` gets a one-line status while joining.
 */
export async function openLedger(flags: NetworkFlagValues, progress?: (line: string) => void): Promise<LedgerAccess> {
  if (flags.api) return new ApiLedgerAccess(flags.api)
  if (!flags['network-token']) {
    // On a Kairos node, its EdgeVPN daemon serves the API here (the Go kairosctl's default).
    if (existsSync(KAIROS_SOCKET)) return new ApiLedgerAccess(`unix://${KAIROS_SOCKET}`)
    throw new UsageError('no network to reach', 'pass --network-token (or set EDGEVPNTOKEN), or --api URL of a running node')
  }
  return joinFromFlags(flags, progress)
}

/** KAIROSCTL_DEBUG: every line with its level; --verbose: the steps (and warnings) only. */
function joinLog(verbose: boolean): ((level: 'debug' | 'info' | 'warn', msg: string) => void) | undefined {
  if (process.env.KAIROSCTL_DEBUG) return (level, msg) => process.stderr.write(`[${level}] ${msg}\n`)
  if (verbose) return (level, msg) => level !== 'debug' && process.stderr.write(`${level === 'warn' ? 'warning: ' : ''}${msg}\n`)
  return undefined
}

/**
 * Joins the network with the flags' token (read as readToken() does) and
 * waits until the ledger is synced. `progress` gets a one-line status meanwhile.
 */
export async function joinFromFlags(flags: NetworkFlagValues, progress?: (line: string) => void): Promise<PeerLedgerAccess> {
  const token = readToken(flags['network-token'])
  const show = (p: JoinProgress): void => {
    if (!progress) return
    if (p.phase === 'discovering') progress(`discovering peers… ${p.peers} connected`)
    else if (p.phase === 'syncing') progress(`syncing ledger… ${p.peers} peers, ${p.blocks} blocks`)
  }
  // Loaded only when joining: the libp2p stack takes a while to load, and --api needs none of it.
  const { joinNetwork } = await import('../ledger-access/network.js')
  return joinNetwork({
    ...peerOptionsFromFlags(flags, token),
    timeoutMs: flags.timeout * 1000,
    onProgress: show,
    log: joinLog(flags.verbose === true),
  })
}
