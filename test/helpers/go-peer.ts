/**
 * Real Go EdgeVPN nodes for tests.
 *
 * The binaries are built by `scripts/install-go-peers.sh` into
 * `$KAIROSCTL_GO_PEERS/<version>/edgevpn` (default `~/.cache/kairosctl/go-peers`).
 *
 * Network hygiene: a node started here only ever talks to loopback or to
 * namespaces the tests created. Every discovery or NAT feature that would
 * reach the Internet is switched off explicitly (see `hygieneArgs`), the DHT
 * is only allowed with explicit local bootstrap peers (otherwise kad-dht
 * would fall back to the public IPFS bootstrap list), and mDNS is only
 * allowed inside a namespace.
 */
import './hygiene.js'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync, accessSync, constants as fsConstants } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stopProcessGroup } from './netns.js'
import { StopWaiting, waitFor, type WaitOptions } from './wait.js'

export const GO_PEER_VERSIONS = ['v0.35.3', 'v0.34.0', 'v0.35.4'] as const
export type GoPeerVersion = (typeof GO_PEER_VERSIONS)[number] | (string & {})
export type OwnershipMode = 'off' | 'observe' | 'enforce'

interface SkippableContext {
  skip(message?: string): void
}
interface AfterContext {
  after(fn: () => unknown): void
}

/** Directory holding `<version>/edgevpn`. */
export function goPeersDir(): string {
  return process.env.KAIROSCTL_GO_PEERS || join(homedir(), '.cache', 'kairosctl', 'go-peers')
}

/** Path of the installed Go binary for `version`, or `undefined`. */
export function goPeerBinary(version: GoPeerVersion): string | undefined {
  const path = join(goPeersDir(), version, 'edgevpn')
  try {
    accessSync(path, fsConstants.X_OK)
    return path
  } catch {
    return undefined
  }
}

/** Installed versions among {@link GO_PEER_VERSIONS}. */
export function installedGoPeerVersions(): string[] {
  return GO_PEER_VERSIONS.filter((v) => goPeerBinary(v) !== undefined)
}

/**
 * Returns the binary path, or skips the test with a clear message and returns
 * `undefined` (the caller must then return).
 */
export function requireGoPeer(version: GoPeerVersion, t: SkippableContext): string | undefined {
  const bin = goPeerBinary(version)
  if (!bin) {
    t.skip(
      `Go EdgeVPN ${version} is not installed at ${join(goPeersDir(), version, 'edgevpn')}; ` + 'run `bash scripts/install-go-peers.sh` (versions the Go module proxy refuses cannot be installed)',
    )
  }
  return bin
}

const helpCache = new Map<string, string>()
function helpText(bin: string, subcommand?: string): string {
  const key = `${bin}\0${subcommand ?? ''}`
  let text = helpCache.get(key)
  if (text === undefined) {
    const args = subcommand ? [subcommand, '--help'] : ['--help']
    const res = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000, env: cleanEnv(tmpdir()) })
    text = `${res.stdout ?? ''}${res.stderr ?? ''}`
    helpCache.set(key, text)
  }
  return text
}

/** Whether the binary knows `--<flag>` (e.g. `ownership` is absent before v0.35). */
export function goPeerSupportsFlag(version: GoPeerVersion, flag: string): boolean {
  const bin = goPeerBinary(version)
  if (!bin) return false
  return helpText(bin, 'api').includes(`--${flag} `) || helpText(bin, 'api').includes(`--${flag}\n`)
}

export interface GoTokenOptions {
  /** Binary to generate with (default: first installed version). */
  version?: GoPeerVersion
  /**
   * OTP interval in seconds for topic, seal key and DHT rendezvous. `edgevpn -g`
   * defaults to 360 (rotation every 6 minutes, which can split a running test);
   * this helper defaults to 9000, the library default. Pass
   * '9223372036854775807' for a kairosctl-style token that never rotates.
   */
  otpInterval?: number | string
}

/** Generates a network token with the Go binary (`edgevpn -g -b`). */
export function generateGoToken(options: GoTokenOptions = {}): string {
  const version = options.version ?? installedGoPeerVersions()[0]
  const bin = version ? goPeerBinary(version) : undefined
  if (!bin) throw new Error(`no Go EdgeVPN binary available to generate a token (looked in ${goPeersDir()})`)
  const res = spawnSync(bin, ['-g', '-b', '--key-otp-interval', String(options.otpInterval ?? 9000)], {
    encoding: 'utf8',
    timeout: 10_000,
    env: cleanEnv(tmpdir()),
  })
  const token = (res.stdout ?? '').trim()
  if (res.status !== 0 || !/^[A-Za-z0-9+/]+=*$/.test(token)) {
    throw new Error(`${bin} -g -b failed (status ${res.status}): ${res.stderr}`)
  }
  return token
}

/** A free TCP port on 127.0.0.1 (released before returning; tiny race accepted). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('could not allocate a port'))))
    })
  })
}

export interface StartGoPeerOptions {
  version: GoPeerVersion
  token: string
  /**
   * libp2p listen multiaddrs. Default: `/ip4/127.0.0.1/tcp/<free port>` on the
   * host, `/ip4/0.0.0.0/tcp/<random port>` inside a namespace. Host peers may
   * only listen on loopback.
   */
  listen?: string[]
  /**
   * TCP port of the HTTP API on 127.0.0.1 (default: a free port). Ignored for
   * peers in a namespace: their API is a unix socket, reachable from the host
   * because unix sockets live in the file system, not in a network namespace.
   */
  apiPort?: number
  /** Ledger ownership mode (`--ownership`); omit for v0.34.0, which has no such flag. */
  ownership?: OwnershipMode
  /**
   * VPN address such as '10.1.0.2/24'. When set, the node runs the VPN (plain
   * `edgevpn --api`, creates a TUN); this needs root and `netns`.
   */
  vpnAddress?: string
  /** TUN interface name for VPN peers (default edgevpn0). */
  vpnInterface?: string
  /**
   * `--dhcp` for VPN peers: the node negotiates its address over the ledger
   * (`vpnAddress` is then only its default). Needs `vpnAddress`.
   */
  dhcp?: boolean
  /** `--lease-dir` for `dhcp` (default: a directory in the node's temporary home). */
  leaseDir?: string
  /** Run inside `ip netns exec NAME`. */
  netns?: string
  /** mDNS discovery (default false; only allowed inside a namespace). */
  mdns?: boolean
  /** DHT discovery (default false; only allowed with `bootstrapPeers`). */
  dht?: boolean
  /**
   * `--discovery-bootstrap-peers`: full multiaddrs with `/p2p/<id>`. EdgeVPN makes
   * them gossipsub direct peers (dialled by the pubsub router even with the DHT
   * off) and, with the DHT on, DHT bootstrap peers.
   */
  bootstrapPeers?: string[]
  /** Healthcheck (alive) service for API peers (default true); VPN peers always run it. */
  healthchecks?: boolean
  /** Seconds between healthcheck announcements (default 5; Go default 120). */
  healthcheckInterval?: number
  /** Seconds for the ledger sync and announce backoff ceilings (default 2; Go default 10). */
  ledgerInterval?: number
  /** Go log level (default info, which is needed to read the node ID and addresses). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
  /** Marshalled libp2p private key (protobuf bytes, as in EdgeVPN's privkey cache file). */
  privkey?: Uint8Array
  /**
   * Start the node exactly as Kairos starts it (provider-kairos' edgevpn-kairos.env):
   * plain `edgevpn` with only EDGEVPNTOKEN, API, APILISTEN, DHCP and DHCPLEASEDIR
   * in its environment, plus `bootstrapPeers` as EDGEVPNBOOTSTRAPPEERS (what an
   * operator would put in `p2p.vpn.env`) and `extraEnv`. Everything else stays
   * at EdgeVPN's defaults: random listen ports on all transports, DHT, mDNS,
   * AutoRelay, hole punching, AutoNAT service, UPnP, and go-libp2p's
   * SO_REUSEPORT. Only inside a namespace and only with `bootstrapPeers` (the
   * default list is the public DHT); the flag options above do not apply.
   */
  kairos?: boolean
  /** Extra environment variables (the node gets a clean environment otherwise). */
  extraEnv?: Record<string, string>
  /** Extra command-line arguments, appended last (they override earlier flags). */
  extraArgs?: string[]
  /** Upper bound for start-up, milliseconds (default 30 000). */
  startTimeoutMs?: number
  /** Test context: `stop()` is registered with `t.after`. */
  t?: AfterContext
}

export interface GoPeer {
  version: string
  peerId: string
  /** `http://127.0.0.1:PORT`, or `unix:///…/api.sock` for peers in a namespace. */
  api: string
  /** Listen multiaddrs as reported by the node (without `/p2p/`). */
  listenAddrs: string[]
  /** Listen multiaddrs with `/p2p/<peerId>`, ready for bootstrapPeers or dialling. */
  p2pAddrs: string[]
  /** The node's temporary HOME (privkey, API socket); removed when the process ends. */
  workDir: string
  /** Full argument vector used (binary first). */
  argv: string[]
  /** Milliseconds from spawn to a verified API answer. */
  startupMs: number
  pid: number | undefined
  /** Captured stdout and stderr so far. */
  logs(): string
  /** Whether the process is still running. */
  running(): boolean
  /**
   * Remote endpoints (`ip:port`) of the node's current TCP/UDP sockets, read
   * with `ss` in the node's namespace; used to assert network hygiene.
   */
  remoteEndpoints(): Promise<string[]>
  /** SIGTERM the process group, SIGKILL after a grace period; idempotent. */
  stop(): Promise<void>
}

const MAX_LOG_CHARS = 8 << 20
/** Running Go processes and their temporary directories. */
const livePeers = new Map<ChildProcess, string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  const killAll = () => {
    for (const [child, dir] of livePeers) {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          /* gone */
        }
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
  process.once('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll()
      process.kill(process.pid, signal)
    })
  }
}

/** Minimal environment: nothing EdgeVPN reads (EDGEVPN*, API*, ADDRESS, ...) leaks in from the caller. */
function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, ...extra }
}

function isLocalMultiaddr(addr: string): boolean {
  return /^\/ip4\/127\.\d+\.\d+\.\d+\//.test(addr) || addr.startsWith('/ip6/::1/')
}

/**
 * Flags that switch off every behaviour reaching beyond loopback or the test
 * namespaces. Shared by API and VPN peers.
 */
function hygieneArgs(opts: { mdns: boolean; dht: boolean }): string[] {
  return [
    `--mdns=${opts.mdns}`,
    `--dht=${opts.dht}`,
    // AutoRelay's peer source queries the DHT for close peers (the public
    // Amino DHT by default); it also dereferences the DHT, unset when off.
    '--autorelay=false',
    // UPnP / NAT-PMP port mapping talks to the LAN gateway.
    '--natmap=false',
    // AutoNAT service: would dial back peers' observed addresses.
    '--natservice=false',
    // DCUtR hole punching.
    '--holepunch=false',
  ]
}

/** Starts a Go EdgeVPN node and waits (bounded) until its API answers as that node. */
export async function startGoPeer(options: StartGoPeerOptions): Promise<GoPeer> {
  const bin = goPeerBinary(options.version)
  if (!bin) throw new Error(`Go EdgeVPN ${options.version} is not installed under ${goPeersDir()}`)
  const mdns = options.mdns ?? false
  const dht = options.dht ?? false
  const bootstrapPeers = options.bootstrapPeers ?? []
  const inNetns = options.netns !== undefined

  // ---- network hygiene checks -------------------------------------------
  if (options.kairos) {
    if (!inNetns) throw new Error('kairos nodes run every NAT and discovery feature: only inside a test namespace')
    if (bootstrapPeers.length === 0) throw new Error('kairos nodes need bootstrapPeers: the default list is the public DHT')
    if (options.mdns !== undefined || options.dht !== undefined || options.listen || options.vpnAddress) {
      throw new Error('kairos nodes keep EdgeVPN defaults: do not set mdns, dht, listen or vpnAddress')
    }
  }
  if (mdns && !inNetns) throw new Error('mDNS is only allowed inside a test namespace (set netns)')
  if (dht && bootstrapPeers.length === 0) {
    throw new Error('DHT needs local bootstrapPeers: without them kad-dht bootstraps from public IPFS peers')
  }
  if (options.vpnAddress && !inNetns) throw new Error('VPN peers create a TUN and routes: run them in a namespace (netns)')
  if (options.dhcp && !options.vpnAddress) throw new Error('dhcp needs vpnAddress (the default address of a VPN peer)')
  if (!inNetns) {
    for (const addr of [...(options.listen ?? []), ...bootstrapPeers]) {
      if (!isLocalMultiaddr(addr)) throw new Error(`host peers may only use loopback multiaddrs, got ${addr}`)
    }
  }
  if (options.ownership !== undefined && !goPeerSupportsFlag(options.version, 'ownership')) {
    throw new Error(`EdgeVPN ${options.version} has no --ownership flag; omit ownership for it`)
  }

  // ---- arguments ----------------------------------------------------------
  const workDir = mkdtempSync(join(tmpdir(), 'kctl-gopeer-'))
  const listen = options.listen ?? [inNetns ? `/ip4/0.0.0.0/tcp/${20_000 + Math.floor(Math.random() * 20_000)}` : `/ip4/127.0.0.1/tcp/${await freePort()}`]
  let apiListen: string
  let api: string
  if (inNetns) {
    const socket = join(workDir, 'api.sock')
    apiListen = `unix://${socket}`
    api = `unix://${socket}`
  } else {
    const port = options.apiPort ?? (await freePort())
    apiListen = `127.0.0.1:${port}`
    api = `http://127.0.0.1:${port}`
  }
  const ledgerInterval = String(options.ledgerInterval ?? 2)
  const healthInterval = String(options.healthcheckInterval ?? 5)

  const args: string[] = []
  if (options.kairos) {
    args.push(...(options.extraArgs ?? []))
  } else if (options.vpnAddress) {
    args.push('--api', '--api-listen', apiListen, '--address', options.vpnAddress, '--interface', options.vpnInterface ?? 'edgevpn0', '--aliveness-healthcheck-interval', healthInterval)
    if (options.dhcp) args.push('--dhcp', '--lease-dir', options.leaseDir ?? join(workDir, 'leases'))
  } else {
    args.push('api', '--listen', apiListen)
    if (options.healthchecks ?? true) {
      args.push('--enable-healthchecks', '--aliveness-healthcheck-interval', healthInterval)
    }
  }
  if (!options.kairos) {
    args.push('--token', options.token, '--log-level', options.logLevel ?? 'info')
    for (const addr of listen) args.push('--listen-maddrs', addr)
    args.push(...hygieneArgs({ mdns, dht }))
    args.push('--ledger-announce-interval', ledgerInterval, '--ledger-synchronization-interval', ledgerInterval)
    if (dht) args.push('--discovery-interval', '5')
    for (const peer of bootstrapPeers) args.push('--discovery-bootstrap-peers', peer)
    if (options.ownership !== undefined) args.push('--ownership', options.ownership)
    if (options.privkey) {
      writeFileSync(join(workDir, 'privkey'), options.privkey, { mode: 0o600 })
      args.push('--privkey-cache', '--privkey-cache-dir', workDir)
    }
    args.push(...(options.extraArgs ?? []))
  }

  // ---- spawn --------------------------------------------------------------
  // go-libp2p dials from its listening port (SO_REUSEPORT). When two Go nodes
  // dial each other at the same moment (both answer each other's mDNS query),
  // the two SYNs can meet as one TCP simultaneous open: both ends then send a
  // TLS ClientHello, the handshake fails on both sides, and EdgeVPN's mDNS
  // handler never retries, so the pair stays apart. Seen in about 1 run in 15
  // of the mDNS harness test. Dialling from ephemeral ports removes the race
  // without touching the protocol; `extraEnv` can switch it back on.
  const env = options.kairos
    ? cleanEnv(workDir, {
        EDGEVPNTOKEN: options.token,
        API: 'true',
        APILISTEN: apiListen,
        DHCP: 'true',
        DHCPLEASEDIR: options.leaseDir ?? join(workDir, 'leases'),
        EDGEVPNBOOTSTRAPPEERS: bootstrapPeers.join(','),
        ...options.extraEnv,
      })
    : cleanEnv(workDir, { LIBP2P_TCP_REUSEPORT: 'false', ...options.extraEnv })
  const command = inNetns ? 'ip' : bin
  const commandArgs = inNetns ? ['netns', 'exec', options.netns as string, bin, ...args] : args
  installExitHook()
  const started = performance.now()
  const child = spawn(command, commandArgs, { env, cwd: workDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  livePeers.set(child, workDir)
  let buffer = ''
  const append = (chunk: Buffer) => {
    buffer += chunk.toString('utf8')
    if (buffer.length > MAX_LOG_CHARS) buffer = buffer.slice(buffer.length - MAX_LOG_CHARS)
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  let spawnError: Error | undefined
  child.once('error', (err) => {
    spawnError = err
  })
  // However the process ends (stop(), a namespace teardown, a crash), its
  // temporary home and API socket go with it.
  child.once('exit', () => {
    livePeers.delete(child)
    rmSync(workDir, { recursive: true, force: true })
  })
  // A forgotten stop() must not keep the test process alive; the exit hook kills it.
  child.unref()
  ;(child.stdout as unknown as { unref?: () => void } | null)?.unref?.()
  ;(child.stderr as unknown as { unref?: () => void } | null)?.unref?.()

  let stopped: Promise<void> | undefined
  const running = () => child.exitCode === null && child.signalCode === null && !spawnError
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await stopProcessGroup(child, 3_000)
      livePeers.delete(child)
      rmSync(workDir, { recursive: true, force: true })
    })()
    return stopped
  }
  options.t?.after(stop)

  const logs = () => buffer
  const redactedArgv = [bin, ...args].map((a) => (a === options.token ? '<token>' : a))
  try {
    const ready = await waitFor(
      async () => {
        if (spawnError) throw new StopWaiting(`spawn failed: ${spawnError.message}`)
        if (!running()) throw new StopWaiting(`process exited (code ${child.exitCode}, signal ${child.signalCode})`)
        const logged = /Node ID: ([1-9A-HJ-NP-Za-km-z]{20,})/.exec(buffer)?.[1]
        if (!logged) return undefined
        const summary = await apiSummary(api, { timeoutMs: 2_000 })
        // Another process may own a port we believed free: only accept our node.
        if (summary.NodeID !== logged) {
          throw new Error(`API at ${api} answers as ${summary.NodeID}, not as this node (${logged})`)
        }
        return { peerId: logged }
      },
      { timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 100, what: `Go EdgeVPN ${options.version} API at ${api}` },
    )
    const startupMs = Math.round(performance.now() - started)
    const addrLine = /Node Addresses: \[([^\]]*)\]/.exec(buffer)?.[1]
    const listenAddrs = addrLine ? addrLine.split(/\s+/).filter(Boolean) : listen
    return {
      version: options.version,
      peerId: ready.peerId,
      api,
      listenAddrs,
      p2pAddrs: listenAddrs.map((a) => `${a}/p2p/${ready.peerId}`),
      workDir,
      argv: redactedArgv,
      startupMs,
      pid: child.pid,
      logs,
      running,
      remoteEndpoints: () => socketPeers(child.pid, options.netns),
      stop,
    }
  } catch (err) {
    await stop()
    const message = err instanceof Error ? err.message : String(err)
    throw new Error(
      `Go EdgeVPN ${options.version} did not start: ${message}\n` + `command: ${inNetns ? `ip netns exec ${options.netns} ` : ''}${redactedArgv.join(' ')}\n` + `--- logs ---\n${buffer.slice(-8_000)}`,
      { cause: err },
    )
  }
}

/** Remote `ip:port` of every connected TCP/UDP socket of `pid` (via `ss`). */
export async function socketPeers(pid: number | undefined, netns?: string): Promise<string[]> {
  if (pid === undefined) return []
  const ssArgs = ['-H', '-t', '-u', '-a', '-n', '-p']
  const res = netns ? spawnSync('ip', ['netns', 'exec', netns, 'ss', ...ssArgs], { encoding: 'utf8', timeout: 10_000 }) : spawnSync('ss', ssArgs, { encoding: 'utf8', timeout: 10_000 })
  if (res.status !== 0) throw new Error(`ss failed: ${res.stderr || res.error?.message}`)
  const peers = new Set<string>()
  for (const line of res.stdout.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue
    const cols = line.trim().split(/\s+/)
    // Netid State Recv-Q Send-Q Local:Port Peer:Port Process
    const peer = cols[5]
    if (!peer || /^(\*|0\.0\.0\.0|\[::\]|\[::ffff:0\.0\.0\.0\]):\*$/.test(peer) || peer.endsWith(':*')) continue
    peers.add(peer)
  }
  return [...peers]
}

/** Whether an `ss` endpoint (`1.2.3.4:5`, `[::1]:5`) is loopback. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const host = endpoint
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.')
}

// ---------------------------------------------------------------------------
// Tiny client for the Go HTTP API (protocol doc §9). `api` is
// `http://host:port` or `unix:///path/to/socket`.
// ---------------------------------------------------------------------------

export interface ApiOptions {
  /** Upper bound for the request, milliseconds (default 10 000). */
  timeoutMs?: number
}

export interface ApiResponse {
  status: number
  body: string
}

/** Raw request. Path segments are sent as given (EdgeVPN stores PUT values verbatim). */
export function apiRequest(api: string, method: string, path: string, options: ApiOptions = {}): Promise<ApiResponse> {
  const timeoutMs = options.timeoutMs ?? 10_000
  let target: { socketPath?: string; host?: string; port?: number }
  if (api.startsWith('unix://')) {
    target = { socketPath: api.slice('unix://'.length) }
  } else {
    const url = new URL(api)
    if (url.protocol !== 'http:') throw new Error(`unsupported API URL ${api}`)
    target = { host: url.hostname, port: Number(url.port || 80) }
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...target, method, path, headers: { accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${api}${path} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

async function apiJson<T>(api: string, method: string, path: string, options?: ApiOptions): Promise<T> {
  const res = await apiRequest(api, method, path, options)
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${method} ${path} → HTTP ${res.status}: ${res.body.slice(0, 300)}`)
  }
  return JSON.parse(res.body) as T
}

function segment(name: string, what: string): string {
  if (name === '' || /[/?#%\s]/.test(name)) {
    throw new Error(`${what} ${JSON.stringify(name)} must be a non-empty URL path segment without / ? # % or spaces`)
  }
  return name
}

export interface ApiState {
  State: string
}

/**
 * `PUT /api/ledger/:bucket/:key/:value`. The Go node stores the value segment
 * as a JSON string; it is sent unencoded, so keep it URL-safe.
 */
export function apiPut(api: string, bucket: string, key: string, value: string, options?: ApiOptions): Promise<ApiState> {
  return apiJson(api, 'PUT', `/api/ledger/${segment(bucket, 'bucket')}/${segment(key, 'key')}/${segment(value, 'value')}`, options)
}

/**
 * `GET /api/ledger/:bucket/:key`: the entry's Data text (JSON text; for values
 * written by `apiPut` a JSON string such as `"\"v\""`), or `""` when missing.
 */
export function apiGet(api: string, bucket: string, key: string, options?: ApiOptions): Promise<string> {
  return apiJson<string>(api, 'GET', `/api/ledger/${segment(bucket, 'bucket')}/${segment(key, 'key')}`, options)
}

/** `GET /api/ledger/:bucket`: key → Data text, or null for an unknown bucket. */
export function apiBucket(api: string, bucket: string, options?: ApiOptions): Promise<Record<string, string> | null> {
  return apiJson(api, 'GET', `/api/ledger/${segment(bucket, 'bucket')}`, options)
}

/** `GET /api/ledger`: bucket → key → Data text (tombstones hidden). */
export function apiLedger(api: string, options?: ApiOptions): Promise<Record<string, Record<string, string>>> {
  return apiJson(api, 'GET', '/api/ledger', options)
}

/** `DELETE /api/ledger/:bucket/:key`, or the whole bucket when `key` is omitted. */
export function apiDelete(api: string, bucket: string, key?: string, options?: ApiOptions): Promise<ApiState> {
  const path = key === undefined ? `/api/ledger/${segment(bucket, 'bucket')}` : `/api/ledger/${segment(bucket, 'bucket')}/${segment(key, 'key')}`
  return apiJson(api, 'DELETE', path, options)
}

export interface ApiSummary {
  Files: number
  Machines: number
  Users: number
  Services: number
  BlockChain: number
  OnChainNodes: number
  Peers: number
  NodeID: string
}

export function apiSummary(api: string, options?: ApiOptions): Promise<ApiSummary> {
  return apiJson(api, 'GET', '/api/summary', options)
}

export interface ApiMachine {
  PeerID: string
  Hostname: string
  OS: string
  Arch: string
  Address: string
  Version: string
  Connected: boolean
  OnChain: boolean
  Online: boolean
}

export async function apiMachines(api: string, options?: ApiOptions): Promise<ApiMachine[]> {
  return (await apiJson<ApiMachine[] | null>(api, 'GET', '/api/machines', options)) ?? []
}

export interface ApiNode {
  ID: string
  Online: boolean
}

/** `GET /api/nodes`: topic peers plus recent healthchecks. */
export async function apiNodes(api: string, options?: ApiOptions): Promise<ApiNode[]> {
  return (await apiJson<ApiNode[] | null>(api, 'GET', '/api/nodes', options)) ?? []
}

/** `GET /api/peerstore`. */
export async function apiPeerstore(api: string, options?: ApiOptions): Promise<ApiNode[]> {
  return (await apiJson<ApiNode[] | null>(api, 'GET', '/api/peerstore', options)) ?? []
}

/**
 * `GET /api/blockchain` as raw text: entry `Version`s exceed JS number
 * precision, so parse it with a BigInt-aware parser if you need them.
 */
export async function apiBlockchain(api: string, options?: ApiOptions): Promise<string> {
  const res = await apiRequest(api, 'GET', '/api/blockchain', options)
  if (res.status !== 200) throw new Error(`GET /api/blockchain → HTTP ${res.status}`)
  return res.body
}

/**
 * Waits (bounded) until `GET /api/ledger/:bucket/:key` returns a non-empty
 * Data text (equal to `expected` when given) and returns it.
 */
export function waitForKey(api: string, bucket: string, key: string, expected?: string, options: WaitOptions = {}): Promise<string> {
  return waitFor(
    async () => {
      const data = await apiGet(api, bucket, key, { timeoutMs: 3_000 })
      if (data === '') return undefined
      if (expected !== undefined && data !== expected) throw new Error(`value is ${data}, want ${expected}`)
      return data
    },
    { timeoutMs: 30_000, intervalMs: 250, what: `ledger key ${bucket}/${key} at ${api}`, ...options },
  )
}

/**
 * Builds one of the small Go programs under test/go (linked against EdgeVPN's
 * own packages) in a scratch copy, so the source tree stays clean. Throws with
 * Go's output when the build fails; `remove()` deletes the scratch copy.
 */
export function buildGoHelper(name: string): { binary: string; remove: () => void } {
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'go', name)
  const dir = mkdtempSync(join(tmpdir(), `kctl-${name}-`))
  for (const f of ['main.go', 'go.mod', 'go.sum']) copyFileSync(join(src, f), join(dir, f))
  const binary = join(dir, name)
  const build = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOSUMDB: 'off' },
  })
  if (build.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`go build of test/go/${name} failed:\n${build.stderr}`)
  }
  return { binary, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
