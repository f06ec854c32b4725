/**
 * Linux network-namespace test networks.
 *
 * `createNetwork({ count })` builds an isolated L2 segment that never touches
 * the host's own network namespace:
 *
 *   kctl-<pid>-<rand>-sw   "switch" namespace holding bridge br0
 *   kctl-<pid>-<rand>-n0   node namespace: lo + eth0 192.168.77.10/24
 *   kctl-<pid>-<rand>-n1   node namespace: lo + eth0 192.168.77.11/24
 *   ...
 *
 * Each node's eth0 is one end of a veth pair whose other end (veth<i>) is a
 * port of br0 in the switch namespace. Both ends are created directly in
 * their target namespaces, so no interface ever exists in the root namespace.
 * Multicast snooping is off on the bridge and each node has a 224.0.0.0/4
 * route on eth0, so mDNS works between the namespaces.
 *
 * Every process started through `spawn` is tracked; `teardown()` stops them,
 * kills whatever else is still running inside the namespaces (only our own
 * namespaces), and deletes the namespaces. It is idempotent, is registered
 * with the test context when one is given, and also runs on process exit.
 *
 * Requires root and iproute2; use `requireNetns(t)` to skip otherwise.
 */
import './hygiene.js'
import { execFile, execFileSync, spawn as spawnChild, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { sleep } from './wait.js'

export const NETNS_PREFIX = 'kctl-'

interface SkippableContext {
  skip(message?: string): void
}
interface AfterContext {
  after(fn: () => unknown): void
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/** Why namespace tests cannot run here, or `undefined` when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (!isRoot()) return 'network namespaces need root (process.getuid() !== 0)'
  const probe = spawnSync('ip', ['-V'], { stdio: 'ignore' })
  if (probe.error || probe.status !== 0) return 'iproute2 (`ip`) is not installed'
  return undefined
}

/** Skips the test (and returns false) when namespaces are unavailable. */
export function requireNetns(t: SkippableContext): boolean {
  const reason = netnsUnavailableReason()
  if (reason) {
    t.skip(reason)
    return false
  }
  return true
}

export interface ExecResult {
  stdout: string
  stderr: string
  code: number
}

export interface ExecOptions {
  /** Upper bound in milliseconds (default 30 000). */
  timeoutMs?: number
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFailure?: boolean
  env?: NodeJS.ProcessEnv
}

/** Runs a command to completion (bounded) and returns its output. */
export function run(cmd: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 << 20, env: options.env, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      if (error && !options.allowFailure) {
        const timedOut = error.killed ? ` (killed after ${options.timeoutMs ?? 30_000} ms)` : ''
        reject(new Error(`${cmd} ${args.join(' ')} failed${timedOut}: ${String(stderr).trim() || error.message}`))
        return
      }
      resolve({ stdout: String(stdout), stderr: String(stderr), code })
    })
  })
}

export interface NetnsNode {
  /** Index in the network (0-based). */
  index: number
  /** Namespace name. */
  ns: string
  /** Interface inside the namespace (always eth0). */
  iface: string
  /** IPv4 address of eth0, e.g. 192.168.77.10. */
  ip: string
  /** The same with the prefix length, e.g. 192.168.77.10/24. */
  cidr: string
}

export interface CreateNetworkOptions {
  /** Number of node namespaces (>= 1). */
  count: number
  /** First three octets of the /24 used inside the namespaces (default 192.168.77). */
  subnet?: string
  /** Host part of the first node's address (default 10). */
  firstHost?: number
  /** Test context: teardown is registered with `t.after`. */
  t?: AfterContext
}

export interface TestNetwork {
  /** Unique id, `kctl-<pid>-<random>`; every namespace name starts with it. */
  id: string
  switchNs: string
  bridge: string
  subnet: string
  nodes: NetnsNode[]
  /** Runs a command inside a namespace (bounded; rejects on non-zero exit unless allowFailure). */
  exec(ns: string, cmd: string, args?: string[], options?: ExecOptions): Promise<ExecResult>
  /** Starts a long-running command inside a namespace in its own process group; stopped at teardown. */
  spawn(ns: string, cmd: string, args?: string[], options?: SpawnOptions): ChildProcess
  /** Sends one ping from `from` to `toIp`; resolves true when it was answered. */
  ping(from: string, toIp: string, options?: { count?: number; timeoutS?: number }): Promise<boolean>
  /** Stops tracked processes and deletes every namespace. Idempotent. */
  teardown(): Promise<void>
}

const liveNetworks = new Set<NamespaceGroup>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const net of liveNetworks) net.teardownSync()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const net of liveNetworks) net.teardownSync()
      process.kill(process.pid, signal)
    })
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      /* already gone */
    }
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcessGroup(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.pid === undefined || exited(child)) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  killGroup(child, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (!exited(child) && Date.now() < deadline) {
    await Promise.race([gone, sleep(50)])
  }
  if (!exited(child)) {
    killGroup(child, 'SIGKILL')
    await Promise.race([gone, sleep(2_000)])
  } else {
    // The leader is gone; make sure nothing else in its group survives.
    killGroup(child, 'SIGKILL')
  }
}

/**
 * A set of namespaces that live and die together: every namespace name starts
 * with `id`, every process started with `spawn` is tracked, and `teardown()`
 * stops them and deletes the namespaces (idempotent; also on process exit).
 * `createNetwork` builds one bridge segment on it; other topologies (the WAN
 * lab) add namespaces and links themselves.
 */
export class NamespaceGroup {
  protected readonly namespaces: string[] = []
  private readonly children = new Set<ChildProcess>()
  private torn = false

  constructor(readonly id: string) {}

  /** Creates namespace `<id>-<suffix>` with loopback up; it is deleted at teardown. */
  async addNamespace(suffix: string): Promise<string> {
    if (this.torn) throw new Error(`namespace group ${this.id} was already torn down`)
    const ns = `${this.id}-${suffix}`
    await run('ip', ['netns', 'add', ns])
    this.namespaces.push(ns)
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    return ns
  }

  /** Names of the namespaces created so far. */
  list(): string[] {
    return [...this.namespaces]
  }

  exec(ns: string, cmd: string, args: string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    this.assertOwn(ns)
    return run('ip', ['netns', 'exec', ns, cmd, ...args], options)
  }

  spawn(ns: string, cmd: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
    this.assertOwn(ns)
    const child = spawnChild('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore', ...options, detached: true })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    child.unref()
    return child
  }

  async ping(from: string, toIp: string, options: { count?: number; timeoutS?: number } = {}): Promise<boolean> {
    const count = options.count ?? 1
    const timeoutS = options.timeoutS ?? 2
    const result = await this.exec(from, 'ping', ['-n', '-c', String(count), '-W', String(timeoutS), toIp], {
      allowFailure: true,
      timeoutMs: (count * timeoutS + 5) * 1000,
    })
    return result.code === 0
  }

  async teardown(): Promise<void> {
    if (this.torn) return
    this.torn = true
    await Promise.all([...this.children].map((c) => stopProcessGroup(c, 2_000)))
    for (const ns of [...this.namespaces].reverse()) {
      await this.killNamespacePids(ns)
      await run('ip', ['netns', 'del', ns], { allowFailure: true, timeoutMs: 10_000 })
    }
    liveNetworks.delete(this)
  }

  /** Synchronous best-effort teardown for process exit. */
  teardownSync(): void {
    if (this.torn) return
    this.torn = true
    for (const child of this.children) killGroup(child, 'SIGKILL')
    for (const ns of [...this.namespaces].reverse()) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5_000 })
        for (const pid of pids.split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL')
          } catch {
            /* gone */
          }
        }
      } catch {
        /* namespace already gone */
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5_000 })
      } catch {
        /* already gone */
      }
    }
    liveNetworks.delete(this)
  }

  private async killNamespacePids(ns: string): Promise<void> {
    // Only processes inside a namespace this helper created are touched.
    for (let attempt = 0; attempt < 20; attempt++) {
      const { stdout, code } = await run('ip', ['netns', 'pids', ns], { allowFailure: true, timeoutMs: 5_000 })
      const pids = code === 0 ? stdout.split(/\s+/).filter(Boolean).map(Number) : []
      if (pids.length === 0) return
      for (const pid of pids) {
        try {
          process.kill(pid, attempt === 0 ? 'SIGTERM' : 'SIGKILL')
        } catch {
          /* gone */
        }
      }
      await sleep(100)
    }
  }

  private assertOwn(ns: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`namespace ${ns} does not belong to test network ${this.id}`)
    if (this.torn) throw new Error(`test network ${this.id} was already torn down`)
  }
}

class NetworkImpl extends NamespaceGroup implements TestNetwork {
  readonly bridge = 'br0'
  readonly nodes: NetnsNode[] = []
  readonly switchNs: string

  constructor(
    id: string,
    readonly subnet: string,
  ) {
    super(id)
    this.switchNs = `${id}-sw`
  }

  async build(count: number, firstHost: number): Promise<void> {
    const ip = (args: string[]) => run('ip', args)
    await this.addNamespace('sw')
    const sw = ['-n', this.switchNs]
    await ip([...sw, 'link', 'add', this.bridge, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0'])
    await ip([...sw, 'link', 'set', this.bridge, 'up'])
    for (let i = 0; i < count; i++) {
      const ns = await this.addNamespace(`n${i}`)
      const port = `veth${i}`
      await ip([...sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await ip([...sw, 'link', 'set', port, 'master', this.bridge])
      await ip([...sw, 'link', 'set', port, 'up'])
      const addr = `${this.subnet}.${firstHost + i}`
      const n = ['-n', ns]
      await ip([...n, 'addr', 'add', `${addr}/24`, 'dev', 'eth0'])
      await ip([...n, 'link', 'set', 'eth0', 'multicast', 'on', 'up'])
      await ip([...n, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
      this.nodes.push({ index: i, ns, iface: 'eth0', ip: addr, cidr: `${addr}/24` })
    }
  }
}

/** Builds an isolated test network of `count` namespaces joined by a bridge. */
export async function createNetwork(options: CreateNetworkOptions): Promise<TestNetwork> {
  const reason = netnsUnavailableReason()
  if (reason) throw new Error(`cannot create test network: ${reason}`)
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > 200) {
    throw new Error(`count must be an integer between 1 and 200 (got ${options.count})`)
  }
  const subnet = options.subnet ?? '192.168.77'
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new Error(`subnet must be three octets, got ${subnet}`)
  const firstHost = options.firstHost ?? 10
  if (firstHost < 1 || firstHost + options.count > 254) throw new Error('addresses do not fit in the /24')

  const id = `${NETNS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`
  const net = new NetworkImpl(id, subnet)
  installExitHook()
  liveNetworks.add(net)
  options.t?.after(() => net.teardown())
  try {
    await net.build(options.count, firstHost)
  } catch (err) {
    await net.teardown()
    throw err
  }
  return net
}

/**
 * An empty namespace group with a fresh unique id, torn down with `t` (when
 * given) and on process exit.
 */
export function createNamespaceGroup(t?: AfterContext): NamespaceGroup {
  const reason = netnsUnavailableReason()
  if (reason) throw new Error(`cannot create namespaces: ${reason}`)
  const group = new NamespaceGroup(`${NETNS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`)
  installExitHook()
  liveNetworks.add(group)
  t?.after(() => group.teardown())
  return group
}

/** Names of existing namespaces created by these helpers (any process). */
export function leftoverNamespaces(prefix = NETNS_PREFIX): string[] {
  const dir = '/run/netns'
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((name) => name.startsWith(prefix))
}
