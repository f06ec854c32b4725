import { chmod, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LedgerData } from '../access.js'
import { ExitCode, UserError } from '../errors.js'
import { isLive } from '../ledger/policy.js'

/** What the API serves; implemented over an EdgePeer by `peerBackend`. */
export interface ApiBackend {
  nodeId(): string
  data(): LedgerData
  /** The last block as EdgeVPN's JSON (signed entries as objects). */
  lastBlockJson(): string
  index(): number
  /** Peers subscribed to the network's gossip topic ("on chain"). */
  topicPeers(): string[]
  /** Every peer the host knows of. */
  knownPeers(): string[]
  isConnected(peerId: string): boolean
  /** Stores a string value as a JSON string and keeps announcing it for a while, like EdgeVPN's Persist. */
  persist(bucket: string, key: string, value: string): void
  /** Stores a JSON value (for DNS records). */
  persistJson(bucket: string, key: string, value: unknown): void
  deleteKey(bucket: string, key: string): void
  deleteBucket(bucket: string): void
}

/** DNS record types by name and by number, as EdgeVPN stores them (numeric keys). */
const DNS_TYPES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 }
const DNS_NAMES = Object.fromEntries(Object.entries(DNS_TYPES).map(([k, v]) => [String(v), k]))

const ANNOUNCING = { State: 'Announcing' }

/** A body that is already JSON text (the block keeps 64-bit versions exact). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** Healthcheck entries younger than `windowMs` (EdgeVPN's AvailableNodes). */
export function availableNodes(data: LedgerData, windowMs: number, now = Date.now()): string[] {
  const health = data.healthcheck ?? {}
  return Object.keys(health).filter((id) => isLive(health, id, windowMs / 1000, new Date(now)))
}

function parse<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T
  } catch {
    return undefined
  }
}

interface MachineValue {
  PeerID?: string
  Hostname?: string
  OS?: string
  Arch?: string
  Address?: string
  Version?: string
}

/** Routes EdgeVPN's API paths to the backend; returns [status, body] or undefined for 404. */
export function route(backend: ApiBackend, method: string, path: string, body: string): [number, unknown] | undefined {
  // Like EdgeVPN's server, path segments are taken literally (not percent-decoded).
  const parts = path.split('/').filter(Boolean)
  if (parts[0] !== 'api') return undefined
  const [, what, a, b, c] = parts
  const data = backend.data()
  if (what === 'ledger') {
    if (method === 'GET') {
      if (a === undefined) return [200, data]
      if (b === undefined) return [200, data[a] ?? null]
      return [200, data[a]?.[b] ?? '']
    }
    if (method === 'PUT' && a && b && c !== undefined && parts.length === 5) {
      backend.persist(a, b, c)
      return [200, ANNOUNCING]
    }
    if (method === 'DELETE' && a && parts.length <= 4) {
      if (b === undefined) backend.deleteBucket(a)
      else backend.deleteKey(a, b)
      return [200, ANNOUNCING]
    }
    return undefined
  }
  if (method === 'POST' && what === 'dns' && a === undefined) {
    const req = parse<{ Regex?: string; Records?: Record<string, string> }>(body)
    if (!req?.Regex || typeof req.Records !== 'object' || req.Records === null) return [400, { message: 'expected {"Regex": "...", "Records": {"A": "..."}}' }]
    const entry: Record<string, string> = {}
    for (const [name, value] of Object.entries(req.Records)) entry[String(DNS_TYPES[name.toUpperCase()] ?? 0)] = value
    backend.persistJson('dns', req.Regex, entry)
    return [200, ANNOUNCING]
  }
  if (method !== 'GET' || a !== undefined) return undefined
  const topic = new Set(backend.topicPeers())
  switch (what) {
    case 'summary':
      return [200, {
        Files: Object.keys(data.files ?? {}).length,
        Machines: Object.keys(data.machines ?? {}).length,
        Users: Object.keys(data.users ?? {}).length,
        Services: Object.keys(data.services ?? {}).length,
        BlockChain: backend.index(),
        OnChainNodes: topic.size,
        Peers: backend.knownPeers().length,
        NodeID: backend.nodeId(),
      }]
    case 'machines': {
      const online = new Set(availableNodes(data, 20 * 60_000))
      return [200, Object.values(data.machines ?? {}).map((text) => {
        const m = parse<MachineValue>(text) ?? {}
        const id = m.PeerID ?? ''
        return {
          PeerID: id, Hostname: m.Hostname ?? '', OS: m.OS ?? '', Arch: m.Arch ?? '', Address: m.Address ?? '', Version: m.Version ?? '',
          Connected: id !== '' && backend.isConnected(id), OnChain: topic.has(id), Online: online.has(id),
        }
      })]
    }
    case 'nodes': {
      const ids = new Set([...availableNodes(data, 10 * 60_000), ...topic])
      return [200, [...ids].map((ID) => ({ ID, Online: true }))]
    }
    case 'peerstore':
      return [200, backend.knownPeers().map((ID) => ({ ID, Online: false }))]
    case 'users':
      return [200, Object.values(data.users ?? {}).map((t) => parse(t) ?? {})]
    case 'services':
    case 'files':
      return [200, Object.values(data[what] ?? {}).map((t) => parse(t) ?? {})]
    case 'blockchain':
      return [200, new RawJson(backend.lastBlockJson())]
    case 'dns':
      return [200, Object.entries(data.dns ?? {}).map(([Regex, t]) => {
        const records = parse<Record<string, string>>(t) ?? {}
        return { Regex, Records: Object.fromEntries(Object.entries(records).map(([k, v]) => [DNS_NAMES[k] ?? k, v])) }
      })]
  }
  return undefined
}

export interface ApiServer {
  /** `http://127.0.0.1:8080` or `unix:///path`. */
  address: string
  close(): Promise<void>
}

/**
 * Serves the EdgeVPN-compatible API. `listen` is `HOST:PORT` (loopback by
 * default; a non-loopback host must be asked for explicitly) or `unix:///path`
 * (socket created with mode 0600, removed on close).
 */
export async function startApiServer(backend: ApiBackend, listen: string): Promise<ApiServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let result: [number, unknown] | undefined
      try {
        const url = new URL(req.url ?? '/', 'http://api')
        result = route(backend, req.method ?? 'GET', url.pathname, Buffer.concat(chunks).toString('utf8'))
      } catch (err) {
        result = [500, { message: (err as Error).message }]
      }
      const [status, body] = result ?? [404, { message: 'Not Found' }]
      const text = (body instanceof RawJson ? body.text : JSON.stringify(body ?? null)) + '\n'
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
      res.end(text)
    })
  })
  const socketPath = listen.startsWith('unix://') ? listen.slice('unix://'.length) : undefined
  if (socketPath) await rm(socketPath, { force: true })
  const hostPort = socketPath ? undefined : parseHostPort(listen)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = socketPath ?? listen
      if (err.code === 'EADDRINUSE') reject(new UserError(`cannot serve the API on ${where}: the address is already in use`, { hint: 'stop what uses it, or pass --api with another port' }))
      else if (err.code === 'EACCES') reject(new UserError(`cannot serve the API on ${where}: permission denied`, { exitCode: ExitCode.Permission }))
      else reject(new UserError(`cannot serve the API on ${where}: ${err.message}`))
    })
    if (socketPath) server.listen(socketPath, () => resolve())
    else server.listen(hostPort!.port, hostPort!.host, () => resolve())
  })
  if (socketPath) await chmod(socketPath, 0o600)
  const addr = server.address()
  const address = socketPath ? `unix://${socketPath}` : `http://${hostPort!.host.includes(':') ? `[${hostPort!.host}]` : hostPort!.host}:${(addr as AddressInfo).port}`
  return {
    address,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      if (socketPath) await rm(socketPath, { force: true })
    },
  }
}

/** `127.0.0.1:8080`, `:8080`, `[::1]:8080`, `http://127.0.0.1:8080`. */
export function parseHostPort(text: string): { host: string; port: number } {
  const t = text.replace(/^http:\/\//, '').replace(/\/$/, '')
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(t)
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) {
    throw new UserError(`invalid API listen address ${text}`, { exitCode: ExitCode.Usage, hint: 'use HOST:PORT (e.g. 127.0.0.1:8080) or unix:///path' })
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port }
}

/** True for loopback hosts; the bridge refuses others unless told explicitly. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
