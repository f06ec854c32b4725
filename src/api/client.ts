import http from 'node:http'
import { ExitCode, UserError } from '../errors.js'
import type { MachineEntry } from '../ledger/machine.js'
import { connectSocketProblem } from './socket-path.js'
import type { PingErrorBody, PingResult } from './ping.js'

/**
 * The longest request target sent: EdgeVPN's Go server reads 1 MiB of
 * request line and headers, plus 4 KiB of slack (Node's default is 16 KiB).
 */
export const MAX_URL_BYTES = 1 << 20

/** GET /api/summary (Go's types.Summary). */
export interface ApiSummary {
  Files: number
  Machines: number
  Users: number
  Services: number
  /** Index of the node's last ledger block. */
  BlockChain: number
  /** Peers subscribed to the network's gossip topic. */
  OnChainNodes: number
  /** Peers in the node's peer store (Go counts the node itself too). */
  Peers: number
  NodeID: string
}

/** An entry of GET /api/machines: the machines bucket value plus the node's view of it. */
export interface ApiMachine extends MachineEntry {
  /**
   * The node has a libp2p connection to the machine. Go's API never sets it (it
   * casts the base58 PeerID text to a peer.ID instead of decoding it).
   */
  Connected: boolean
  /** The machine is subscribed to the network's gossip topic. */
  OnChain: boolean
  /** Healthcheck within the last 20 minutes. */
  Online: boolean
}

/** An entry of GET /api/peerstore. */
export interface ApiPeer {
  ID: string
  Online: boolean
}

/**
 * A client for the EdgeVPN HTTP API (Go `edgevpn api`, a Kairos node's
 * socket, or our own bridge). Accepts `http://host:port`, a bare
 * `host:port` (as the bridge's --api flag is written) or `unix:///path`.
 */
export class ApiClient {
  private readonly socketPath?: string
  private readonly base: URL

  constructor(readonly address: string) {
    const text = address.trim()
    if (text.startsWith('unix://')) {
      this.socketPath = text.slice('unix://'.length)
      if (!this.socketPath) throw new UserError(`invalid API address ${address}`, { exitCode: ExitCode.Usage, hint: 'use unix:///path/to/socket' })
      this.base = new URL('http://unix')
      return
    }
    try {
      this.base = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`)
    } catch {
      throw new UserError(`invalid API address ${address}`, { exitCode: ExitCode.Usage, hint: 'use http://HOST:PORT or unix:///path' })
    }
    if (this.base.protocol !== 'http:') {
      throw new UserError(`unsupported API address ${address}`, { exitCode: ExitCode.Usage, hint: 'use http://HOST:PORT or unix:///path' })
    }
  }

  /** GET the JSON at a path (`/api/...`). */
  async get<T>(path: string, timeoutMs = 10_000): Promise<T> {
    return JSON.parse(await this.request('GET', path, timeoutMs)) as T
  }

  async put(path: string, timeoutMs = 10_000): Promise<unknown> {
    return JSON.parse(await this.request('PUT', path, timeoutMs))
  }

  async delete(path: string, timeoutMs = 10_000): Promise<unknown> {
    return JSON.parse(await this.request('DELETE', path, timeoutMs))
  }

  async post(path: string, body: unknown, timeoutMs = 10_000): Promise<unknown> {
    return JSON.parse(await this.request('POST', path, timeoutMs, JSON.stringify(body)))
  }

  // --- ledger ---------------------------------------------------------------

  /** Every live key: bucket → key → Data text (the JSON text stored for the key). */
  ledger(): Promise<Record<string, Record<string, string>>> {
    return this.get<Record<string, Record<string, string>> | null>('/api/ledger').then((v) => v ?? {})
  }

  /** A key's Data text, or undefined when the key is missing (the API answers ""). */
  async ledgerKey(bucket: string, key: string): Promise<string | undefined> {
    const v = await this.get<string>(`/api/ledger/${seg(bucket)}/${seg(key)}`)
    return v === '' ? undefined : v
  }

  /**
   * Stores `value` as EdgeVPN's API does: the path segment becomes a JSON
   * string in the ledger. The segment is sent as is (EdgeVPN's Go client does
   * not percent-encode it), so it must be URL-safe.
   */
  async ledgerPut(bucket: string, key: string, value: string): Promise<void> {
    if (!/^[A-Za-z0-9._~=+:@!$&'()*,;-]*$/.test(value) || value === '') {
      throw new UserError('the value cannot be sent through the EdgeVPN API as a path segment', {
        exitCode: ExitCode.Usage,
        hint: 'use URL-safe characters only, or join the network with --network-token instead of --api',
      })
    }
    const path = `/api/ledger/${seg(bucket)}/${seg(key)}/${value}`
    if (path.length > MAX_URL_BYTES) {
      throw new UserError(`the value is too long for the EdgeVPN API (a URL of ${path.length} bytes, at most ${MAX_URL_BYTES})`, {
        exitCode: ExitCode.Usage,
        hint: 'use --network-token to write it to the ledger directly',
      })
    }
    await this.put(path)
  }

  async ledgerDelete(bucket: string, key?: string): Promise<void> {
    await this.delete(key === undefined ? `/api/ledger/${seg(bucket)}` : `/api/ledger/${seg(bucket)}/${seg(key)}`)
  }

  // --- node status -----------------------------------------------------------
  // Go nodes and older versions may leave fields out, hence the Partial types.

  /** The node's identity, ledger height and peer counts. */
  summary(timeoutMs?: number): Promise<Partial<ApiSummary>> {
    return this.get<Partial<ApiSummary> | null>('/api/summary', timeoutMs).then((v) => v ?? {})
  }

  /** The machines bucket, with the node's view of each machine's connectivity. */
  machines(timeoutMs?: number): Promise<Partial<ApiMachine>[]> {
    return this.get<Partial<ApiMachine>[] | null>('/api/machines', timeoutMs).then((v) => v ?? [])
  }

  /** Every peer in the node's peer store. */
  peerstore(timeoutMs?: number): Promise<Partial<ApiPeer>[]> {
    return this.get<Partial<ApiPeer>[] | null>('/api/peerstore', timeoutMs).then((v) => v ?? [])
  }

  /** One bucket: key → Data text; empty when the bucket is missing (the API answers null). */
  ledgerBucket(bucket: string, timeoutMs?: number): Promise<Record<string, string>> {
    return this.get<Record<string, string> | null>(`/api/ledger/${seg(bucket)}`, timeoutMs).then((v) => v ?? {})
  }

  // --- kairosctl bridge extensions --------------------------------------------

  /**
   * Has the bridge ping TARGET (VPN IP, hostname or peer ID) with its own
   * host: GET /api/kairosctl/ping. Its errors become the same one-line errors
   * `kairosctl ping --network-token` gives; a node without the route (Go
   * EdgeVPN, an older bridge) is told apart.
   */
  async ping(target: string, opts: { count: number; intervalMs: number; timeoutSeconds: number }): Promise<PingResult> {
    const q = new URLSearchParams({ target, count: String(opts.count), interval: String(opts.intervalMs), timeout: String(opts.timeoutSeconds) })
    // The answer comes after the last ping: wait for every ping, each bounded by the timeout, and the first dial.
    const waitMs = Math.min((opts.count + 1) * (opts.intervalMs + opts.timeoutSeconds * 1000) + 10_000, 2 ** 31 - 1)
    const { status, text } = await this.exchange('GET', `/api/kairosctl/ping?${q}`, waitMs)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    if (status === 200 && body && typeof body === 'object') return body as PingResult
    const e = body as Partial<PingErrorBody> | undefined
    if (e && typeof e.error === 'string') throw new UserError(e.error, { hint: e.hint, exitCode: typeof e.exitCode === 'number' ? e.exitCode : ExitCode.Failure })
    if (status === 404) {
      throw new UserError(`the API at ${this.address} cannot ping (only a kairosctl bridge of this version or later can)`, { hint: 'use --network-token to join the network and ping from here' })
    }
    throw new UserError(`the API at ${this.address} answered ${status} to a ping`, { hint: text.trim().slice(0, 200) })
  }

  private async request(method: string, path: string, timeoutMs: number, body?: string): Promise<string> {
    const { status, text } = await this.exchange(method, path, timeoutMs, body)
    if (status >= 400) {
      const shown = path.length > 120 ? `${path.slice(0, 120)}… (${path.length} bytes)` : path
      throw new UserError(`the API at ${this.address} answered ${status} to ${method} ${shown}`, { hint: text.trim().slice(0, 200) })
    }
    return text
  }

  private exchange(method: string, path: string, timeoutMs: number, body?: string): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.base)
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method,
          socketPath: this.socketPath,
          host: this.socketPath ? undefined : url.hostname,
          port: this.socketPath ? undefined : url.port || 80,
          path: url.pathname + url.search,
          headers: body ? { 'content-type': 'application/json' } : undefined,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode ?? 500, text: Buffer.concat(chunks).toString('utf8') }))
        },
      )
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', (err: NodeJS.ErrnoException) => {
        const problem = this.socketPath && err.code !== 'EACCES' ? connectSocketProblem(this.socketPath) : undefined
        if (problem) {
          return reject(new UserError(`cannot reach the EdgeVPN API at ${this.address}: ${problem}`, { hint: 'check the socket path given with --api or EDGEVPN_API' }))
        }
        const hint =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? 'is the node or `kairosctl bridge` running? (or use --network-token to join the network directly)'
            : err.code === 'EACCES'
              ? 'permission denied on the socket: try sudo'
              : undefined
        reject(new UserError(`cannot reach the EdgeVPN API at ${this.address}: ${err.code ?? err.message}`, { hint, cause: err }))
      })
      if (body) req.write(body)
      req.end()
    })
  }
}

/** EdgeVPN's API takes path segments literally, so only URL-safe names can travel through it. */
function seg(s: string): string {
  if (!/^[A-Za-z0-9._~=+:@!$&'()*,;-]+$/.test(s)) {
    throw new UserError(`"${s}" cannot be sent through the EdgeVPN API as a path segment`, {
      exitCode: ExitCode.Usage,
      hint: 'use --network-token to reach the ledger directly',
    })
  }
  return s
}
