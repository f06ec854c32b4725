/**
 * Our own peer (kairosctl's EdgePeer) as a child process, optionally inside a
 * test network namespace, so that it can sit on a namespace network next to
 * Go nodes (mDNS, DHT) the way a real operator machine would.
 *
 *   const peer = await startTsPeer({ token, netns: node.ns, ip: node.ip, mdns: true, t })
 *   await peer.ready()                 // bounded; `synced` once the ledger is in
 *   await peer.get('bucket', 'key')    // commands of ts-peer-main.ts, answered as JSON
 *   await peer.stop()                  // stdin EOF (clean stop), then SIGTERM/SIGKILL
 *
 * The identity is generated here, so the peer id and its full multiaddr are
 * known before the process runs (other nodes can be given it as a bootstrap
 * peer right away).
 *
 * Network hygiene, as for Go peers: host peers listen on loopback only, mDNS
 * only inside a namespace, and a DHT is only run with explicit local bootstrap
 * peers or as a DHT server (js kad-dht has no built-in public bootstrap list;
 * without bootstrap peers it talks to nobody).
 */
import './hygiene.js'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { freePort } from './go-peer.js'
import { stopProcessGroup } from './netns.js'
import type { MainOptions } from './ts-peer-main.js'
import { sleep, StopWaiting, waitFor, withTimeout } from './wait.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = resolve(HERE, '..', '..')
const MAIN = join(HERE, 'ts-peer-main.ts')

interface AfterContext {
  after(fn: () => unknown): void
}

export interface StartTsPeerOptions extends Omit<MainOptions, 'listen' | 'privateKey'> {
  /** Run inside `ip netns exec NAME` (a namespace of a test network). */
  netns?: string
  /** The namespace's address (for the default listen address and `p2pAddr`). */
  ip?: string
  /** TCP port (default 4001 in a namespace, a free loopback port on the host). */
  port?: number
  /** Listen multiaddrs (default `/ip4/<ip or 127.0.0.1>/tcp/<port>`). */
  listen?: string[]
  /** Upper bound of `ready()` (default: the join timeout + 15 s). */
  startTimeoutMs?: number
  /** Test context: `stop()` is registered with `t.after`. */
  t?: AfterContext
}

export interface ReadyInfo {
  id: string
  addrs: string[]
  synced: boolean
  /** Milliseconds from process start to ready, as measured by the child. */
  ms: number
}

export interface TsPeer {
  peerId: string
  /** `/ip4/<ip>/tcp/<port>/p2p/<id>`: give this to others as a bootstrap peer. */
  p2pAddr: string
  pid: number | undefined
  /** Waits (bounded) for the `ready` line; rejects with the logs if the process fails. */
  ready(): Promise<ReadyInfo>
  /**
   * Waits (bounded) until the peer's TCP port is listening, read with `ss`
   * (no connection is made). Use it before starting a node that has to dial
   * us: go-libp2p's pubsub dials its direct peers about 1 s after start and
   * then only every 5 minutes.
   */
  listening(timeoutMs?: number): Promise<void>
  /** Sends one command line; resolves with its `value` or rejects with its error. */
  command<T = unknown>(line: string, timeoutMs?: number): Promise<T>
  get(bucket: string, key: string): Promise<string | null>
  put(bucket: string, key: string, value: string): Promise<void>
  data(): Promise<Record<string, Record<string, string>>>
  /** Ids of connected peers. */
  peers(): Promise<string[]>
  /** Open connections with their direction (who dialled whom). */
  conns(): Promise<Array<{ peer: string; direction: 'inbound' | 'outbound'; addr: string }>>
  /** DHT lookup of the providers of the network's current rendezvous (peer ids). */
  providers(): Promise<string[]>
  info(): Promise<{ id: string; addrs: string[]; report: Record<string, unknown>; mode: string; topicPeers: string[] }>
  /** stderr so far (debug logs when `debug: true`). */
  logs(): string
  running(): boolean
  /** Clean stop (stdin EOF), then SIGTERM and SIGKILL of the process group; idempotent. */
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of live) {
      if (child.pid === undefined) continue
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  })
}

function isLoopback(addr: string): boolean {
  return /^\/ip4\/127\.\d+\.\d+\.\d+\//.test(addr) || addr.startsWith('/ip6/::1/')
}

export async function startTsPeer(options: StartTsPeerOptions): Promise<TsPeer> {
  const inNetns = options.netns !== undefined
  if (options.mdns && !inNetns) throw new Error('mDNS is only allowed inside a test namespace (set netns)')
  if (inNetns && !options.ip && !options.listen) throw new Error('a peer in a namespace needs ip (or explicit listen addresses)')
  const port = options.port ?? (inNetns ? 4001 : await freePort())
  const host = inNetns ? (options.ip as string) : '127.0.0.1'
  const listen = options.listen ?? [`/ip4/${host}/tcp/${port}`]
  if (!inNetns) {
    for (const addr of [...listen, ...(options.bootstrapPeers ?? [])]) {
      if (!isLoopback(addr)) throw new Error(`host peers may only use loopback multiaddrs, got ${addr}`)
    }
  }
  if (options.dht && !options.dhtServer && (options.bootstrapPeers ?? []).length === 0) {
    throw new Error('a DHT client needs local bootstrap peers')
  }

  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key).toString()
  const { netns: _n, ip: _i, port: _p, startTimeoutMs, t, ...rest } = options
  const main: MainOptions = { ...rest, listen, privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('hex') }
  const nodeArgs = ['--import', 'tsx', MAIN, JSON.stringify(main)]
  const executable = inNetns ? 'ip' : process.execPath
  const args = inNetns ? ['netns', 'exec', options.netns as string, process.execPath, ...nodeArgs] : nodeArgs

  installExitHook()
  const child = spawn(executable, args, { cwd: REPO_ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => live.delete(child))
  child.unref()
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.()
  child.stdin?.on('error', () => {}) // EPIPE after the child is gone

  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8')
    if (stderr.length > 4 << 20) stderr = stderr.slice(-(2 << 20))
  })
  let spawnError: Error | undefined
  child.once('error', (err) => (spawnError = err))
  const running = (): boolean => child.exitCode === null && child.signalCode === null && !spawnError

  let readyInfo: ReadyInfo | undefined
  let startError: string | undefined
  const waiters: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = []
  const exitWaiters = new Set<() => void>()
  child.once('exit', () => {
    for (const w of waiters.splice(0)) w.reject(new Error(`ts peer exited (code ${child.exitCode}, signal ${child.signalCode})`))
    for (const w of exitWaiters) w()
  })
  const rl = createInterface({ input: child.stdout, terminal: false })
  rl.on('line', (line) => {
    let msg: { event?: string; ok?: boolean; value?: unknown; error?: string; message?: string } & Partial<ReadyInfo>
    try {
      msg = JSON.parse(line)
    } catch {
      stderr += `[stdout] ${line}\n`
      return
    }
    if (msg.event === 'ready') readyInfo = { id: msg.id!, addrs: msg.addrs!, synced: msg.synced!, ms: msg.ms! }
    else if (msg.event === 'error') startError = msg.message
    else {
      const w = waiters.shift()
      if (!w) return
      if (msg.ok) w.resolve(msg.value)
      else w.reject(new Error(`ts peer: ${msg.error}`))
    }
  })

  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (running()) {
        child.stdin?.end()
        const gone = new Promise<void>((r) => {
          exitWaiters.add(r)
          if (!running()) r()
        })
        await Promise.race([gone, sleep(4_000)])
      }
      await stopProcessGroup(child, 2_000)
      live.delete(child)
    })()
    return stopped
  }
  t?.after(stop)

  const describe = (): string => `ts peer ${peerId}${inNetns ? ` in ${options.netns}` : ''}`
  const readyTimeout = startTimeoutMs ?? (options.timeoutMs ?? 60_000) + 15_000
  let readyPromise: Promise<ReadyInfo> | undefined
  const ready = (): Promise<ReadyInfo> => {
    readyPromise ??= (async () => {
      const deadline = Date.now() + readyTimeout
      for (;;) {
        if (readyInfo) return readyInfo
        if (startError || spawnError || !running()) {
          await sleep(100) // let the rest of stderr arrive
          throw new Error(`${describe()} did not start: ${startError ?? spawnError?.message ?? `exited (code ${child.exitCode}, signal ${child.signalCode})`}\n--- stderr ---\n${stderr.slice(-6_000)}`)
        }
        if (Date.now() > deadline) {
          throw new Error(`${describe()} not ready within ${readyTimeout} ms\n--- stderr ---\n${stderr.slice(-6_000)}`)
        }
        await sleep(50)
      }
    })()
    return readyPromise
  }

  const listening = async (timeoutMs = 30_000): Promise<void> => {
    const ssArgs = ['-H', '-l', '-t', '-n', `sport = :${port}`]
    await waitFor(
      () => {
        if (!running()) throw new StopWaiting(`${describe()} exited\n--- stderr ---\n${stderr.slice(-6_000)}`)
        if (startError) throw new StopWaiting(`${describe()} failed: ${startError}`)
        const res = inNetns
          ? spawnSync('ip', ['netns', 'exec', options.netns as string, 'ss', ...ssArgs], { encoding: 'utf8', timeout: 5_000 })
          : spawnSync('ss', ssArgs, { encoding: 'utf8', timeout: 5_000 })
        return res.status === 0 && res.stdout.trim() !== ''
      },
      { timeoutMs, intervalMs: 50, what: `${describe()} listening on port ${port}` },
    )
  }

  const command = <T>(line: string, timeoutMs = 45_000): Promise<T> => {
    if (!running()) return Promise.reject(new Error(`${describe()} is not running`))
    const answer = new Promise<T>((resolve, reject) => waiters.push({ resolve: resolve as (v: unknown) => void, reject }))
    child.stdin.write(`${line}\n`)
    return withTimeout(answer, timeoutMs, `${describe()}: ${line.split(' ')[0]}`)
  }

  return {
    peerId,
    p2pAddr: `/ip4/${host}/tcp/${port}/p2p/${peerId}`,
    pid: child.pid,
    ready,
    listening,
    command,
    get: (bucket, key) => command<string | null>(`get ${bucket} ${key}`),
    put: async (bucket, key, value) => {
      await command(`put ${bucket} ${key} ${value}`, (options.putTimeoutMs ?? 30_000) + 10_000)
    },
    data: () => command('data'),
    peers: () => command('peers'),
    conns: () => command('conns'),
    providers: () => command('providers'),
    info: () => command('info'),
    logs: () => stderr,
    running,
    stop,
  }
}
