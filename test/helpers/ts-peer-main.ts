/**
 * One kairosctl peer as a child process, driven by `test/helpers/ts-peer.ts`.
 *
 *   node --import tsx test/helpers/ts-peer-main.ts '<json options>'
 *
 * Options (JSON): see {@link MainOptions}. The process prints JSON lines on
 * stdout, nothing else:
 *
 *   {"event":"ready","id":…,"addrs":[…],"synced":true|false,"ms":…}
 *   {"event":"error","message":…}                      (then exits 1)
 *   {"ok":true,"cmd":"get","value":…}                  (one answer per command)
 *   {"ok":false,"cmd":"put","error":…}
 *
 * With `join: true` (the default) it joins like the CLI does, through
 * `joinNetwork`, and prints `ready` once the ledger is synced; with
 * `join: false` it starts the peer and prints `ready` at once (for a peer that
 * others have to find first, such as a DHT server).
 *
 * Commands, one per stdin line, answered in order:
 *   get BUCKET KEY            value (string) or null
 *   put BUCKET KEY VALUE…     write and wait for a peer's confirmation
 *   data                      the whole ledger (bucket → key → value)
 *   peers                     ids of connected peers
 *   conns                     open connections: peer id, direction (inbound/outbound), remote address
 *   providers                 DHT lookup: ids of the providers of the current rendezvous CID
 *   info                      id, addresses, discovery report, ownership mode, topic peers
 *   quit                      stop the peer and exit 0
 *
 * It exits 0 after stopping the peer on stdin EOF, `quit`, SIGTERM or SIGINT.
 * Logs (with `debug: true`) go to stderr.
 */
import '../../src/polyfill.js'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { createInterface } from 'node:readline'
import { joinNetwork, PeerLedgerAccess } from '../../src/ledger-access/network.js'
import { EdgePeer, type PeerOptions } from '../../src/peer/peer.js'
import { rendezvous, rendezvousCid } from '../../src/crypto/derive.js'
import { parseToken, type NetworkToken } from '../../src/token/token.js'

/** The peer's options as JSON can carry them (token as base64, key as hex), plus how this helper runs. */
export interface MainOptions extends Omit<PeerOptions, 'token' | 'privateKey' | 'identityFile' | 'listen' | 'log'> {
  /** Base64 network token. */
  token: string
  listen: string[]
  /** Hex of the libp2p protobuf private key (fixed identity). */
  privateKey?: string
  /** Join through joinNetwork and wait until synced (default true). */
  join?: boolean
  /** joinNetwork timeout (default 60 000). */
  timeoutMs?: number
  settleMs?: number
  /** Timeout of each `put` confirmation (default 30 000). */
  putTimeoutMs?: number
  debug?: boolean
}

const started = performance.now()
const out = (obj: unknown): void => {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}
const log = (msg: string): void => {
  process.stderr.write(`[ts-peer ${new Date().toISOString()}] ${msg}\n`)
}

let access: PeerLedgerAccess | undefined
let peer: EdgePeer | undefined
let stopping: Promise<void> | undefined
let token: NetworkToken

function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    // Never hang on the way out: a stuck libp2p stop must not keep the process alive.
    const guard = setTimeout(() => process.exit(code), 5_000)
    guard.unref()
    try {
      await peer?.stop()
    } catch (err) {
      log(`stop failed: ${(err as Error).message}`)
    }
    process.exit(code)
  })()
  return stopping
}

async function main(): Promise<void> {
  const raw = process.argv[2]
  if (!raw) throw new Error('usage: ts-peer-main.ts <json options>')
  const opts = JSON.parse(raw) as MainOptions
  token = parseToken(opts.token)
  const peerOpts = {
    token,
    listen: opts.listen,
    mdns: opts.mdns ?? false,
    dht: opts.dht ?? false,
    dhtServer: opts.dhtServer,
    bootstrapPeers: opts.bootstrapPeers ?? [],
    ownership: opts.ownership ?? 'auto',
    ownershipTtl: opts.ownershipTtl ?? 120,
    syncIntervalMs: opts.syncIntervalMs,
    privateKey: opts.privateKey ? privateKeyFromProtobuf(Buffer.from(opts.privateKey, 'hex')) : undefined,
    log: opts.debug ? (level: string, msg: string) => log(`${level} ${msg}`) : undefined,
  }
  // Commands are answered strictly in order, once the peer is ready; stdin EOF
  // (the parent went away) ends the process at any time.
  const putTimeoutMs = opts.putTimeoutMs ?? 30_000
  let markReady!: () => void
  let queue = new Promise<void>((resolve) => (markReady = resolve))
  const rl = createInterface({ input: process.stdin, terminal: false })
  rl.on('line', (line) => {
    queue = queue.then(() => handle(line.trim(), putTimeoutMs))
  })
  rl.on('close', () => {
    if (access) void queue.then(() => shutdown(0))
    else void shutdown(0)
  })

  if (opts.join ?? true) {
    access = await joinNetwork({ ...peerOpts, timeoutMs: opts.timeoutMs ?? 60_000, settleMs: opts.settleMs })
    peer = access.peer
  } else {
    peer = await EdgePeer.start(peerOpts)
    access = new PeerLedgerAccess(peer)
  }
  out({
    event: 'ready',
    id: peer.id,
    addrs: peer.host.getMultiaddrs().map(String),
    synced: opts.join ?? true,
    ms: Math.round(performance.now() - started),
  })
  markReady()
}

async function handle(line: string, putTimeoutMs: number): Promise<void> {
  if (line === '') return
  const [cmd = '', ...args] = line.split(' ')
  const a = access!
  try {
    switch (cmd) {
      case 'get':
        out({ ok: true, cmd, value: (await a.get(need(args[0]), need(args[1]))) ?? null })
        break
      case 'put':
        await a.put(need(args[0]), need(args[1]), need(args.slice(2).join(' ') || undefined), { timeoutMs: putTimeoutMs })
        out({ ok: true, cmd })
        break
      case 'data':
        out({ ok: true, cmd, value: await a.data() })
        break
      case 'peers':
        out({ ok: true, cmd, value: a.peer.knownPeers() })
        break
      case 'conns':
        out({
          ok: true,
          cmd,
          value: a.peer.host.getConnections().map((c) => ({ peer: c.remotePeer.toString(), direction: c.direction, addr: c.remoteAddr.toString() })),
        })
        break
      case 'providers': {
        // A DHT lookup of the providers of the network's current rendezvous CID (bounded).
        const cid = await rendezvousCid(rendezvous(token))
        const ids = new Set<string>()
        try {
          for await (const p of a.peer.host.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(10_000) })) ids.add(p.id.toString())
        } catch (err) {
          if (ids.size === 0) throw err
        }
        out({ ok: true, cmd, value: [...ids] })
        break
      }
      case 'info':
        out({
          ok: true,
          cmd,
          value: {
            id: a.peer.id,
            addrs: a.peer.host.getMultiaddrs().map(String),
            report: a.peer.report(),
            mode: a.peer.effectiveMode,
            topicPeers: a.peer.topicPeers(),
          },
        })
        break
      case 'quit':
        out({ ok: true, cmd })
        await shutdown(0)
        break
      default:
        out({ ok: false, cmd, error: `unknown command ${JSON.stringify(cmd)}` })
    }
  } catch (err) {
    out({ ok: false, cmd, error: (err as Error).message })
  }
}

function need(v: string | undefined): string {
  if (v === undefined || v === '') throw new Error('missing argument')
  return v
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void shutdown(0))

main().catch((err: unknown) => {
  out({ event: 'error', message: (err as Error).message })
  void shutdown(1)
})
