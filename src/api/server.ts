import { chmod, lstat, rm } from 'node:fs/promises'
import http from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import type { Stats } from 'node:fs'
import type { LedgerData } from '../ledger-access/types.js'
import { ExitCode, UserError } from '../errors.js'
import { DEFAULT_MAX_MESSAGE_SIZE } from '../token/token.js'
import { MAX_URL_BYTES } from './client.js'
import { PROMETHEUS_TYPE } from './metrics.js'
import { goFields, goFieldKey, goJsonStringify, isJsonObject, parseJson, parseJsonMembers, type JsonValue } from '../ledger/json.js'
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
  /** Every peer in the host's peer store; like Go's peer store, this node is one of them. */
  knownPeers(): string[]
  isConnected(peerId: string): boolean
  /** Stores a string value as a JSON string and keeps announcing it for a while, like EdgeVPN's Persist. */
  persist(bucket: string, key: string, value: string): void
  /** Stores a JSON value (for DNS records). */
  persistJson(bucket: string, key: string, value: unknown): void
  deleteKey(bucket: string, key: string): void
  deleteBucket(bucket: string): void
  /** Prometheus text for GET /metrics; without it, /metrics is a 404 like any unknown path. */
  metrics?(): string
  /** Routes of our own (the dashboard), tried before EdgeVPN's; `target` is the request target as received. */
  serve?(method: string, target: string): ApiReply | undefined
  /** Routes of our own that answer later (ping); undefined for other targets. `signal` aborts when the client goes away. */
  serveLater?(method: string, target: string, signal: AbortSignal): Promise<ApiReply> | undefined
}

/**
 * DNS record types as the Go DNS library names them (EdgeVPN stores a record
 * set as a JSON object keyed by the type's number, and its API shows names).
 */
const DNS_TYPES: Record<string, number> = {
  None: 0, A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, PTR: 12, HINFO: 13, MINFO: 14, MX: 15,
  TXT: 16, RP: 17, AFSDB: 18, X25: 19, ISDN: 20, RT: 21, 'NSAP-PTR': 23, SIG: 24, KEY: 25, PX: 26, GPOS: 27, AAAA: 28, LOC: 29,
  NXT: 30, EID: 31, NIMLOC: 32, SRV: 33, ATMA: 34, NAPTR: 35, KX: 36, CERT: 37, DNAME: 39, OPT: 41, APL: 42, DS: 43, SSHFP: 44,
  IPSECKEY: 45, RRSIG: 46, NSEC: 47, DNSKEY: 48, DHCID: 49, NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53, HIP: 55, NINFO: 56,
  RKEY: 57, TALINK: 58, CDS: 59, CDNSKEY: 60, OPENPGPKEY: 61, CSYNC: 62, ZONEMD: 63, SVCB: 64, HTTPS: 65, SPF: 99, UINFO: 100,
  UID: 101, GID: 102, UNSPEC: 103, NID: 104, L32: 105, L64: 106, LP: 107, EUI48: 108, EUI64: 109, NXNAME: 128, TKEY: 249,
  TSIG: 250, IXFR: 251, AXFR: 252, MAILB: 253, MAILA: 254, ANY: 255, URI: 256, CAA: 257, AVC: 258, AMTRELAY: 260, RESINFO: 261,
  TA: 32768, DLV: 32769, Reserved: 65535,
}
const DNS_NAMES = new Map(Object.entries(DNS_TYPES).map(([k, v]) => [String(v), k]))

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

/**
 * What Go's json.Unmarshal makes of a ledger value decoded into a struct of
 * string fields: names matched case-insensitively, the last match wins,
 * non-string values skipped; anything but a JSON object gives the zero struct.
 * EdgeVPN's API answers with such structs, never with the stored JSON itself.
 */
export function goStruct<F extends string>(text: string, fields: readonly F[]): Record<F, string> {
  const out = Object.fromEntries(fields.map((f) => [f, ''])) as Record<F, string>
  const byKey = new Map(fields.map((f) => [goFieldKey(f), f]))
  let members: ReturnType<typeof parseJsonMembers>
  try {
    members = parseJsonMembers(text)
  } catch {
    return out
  }
  for (const [k, v] of members ?? []) {
    const field = byKey.get(goFieldKey(k))
    if (field !== undefined && typeof v === 'string') out[field] = v
  }
  return out
}

const MACHINE_FIELDS = ['PeerID', 'Hostname', 'OS', 'Arch', 'Address', 'Version'] as const
/** The Go struct each list endpoint decodes its bucket's values into. */
const LIST_FIELDS = {
  users: ['PeerID', 'Timestamp'],
  services: ['PeerID', 'Name'],
  files: ['PeerID', 'Name'],
} as const

/** Marks a plain object as a Go map: its keys are written sorted, as Go's encoder does. */
const GO_MAP = Symbol('go map')
function goMap<T extends object>(obj: T): T {
  Object.defineProperty(obj, GO_MAP, { value: true, enumerable: false })
  return obj
}

/** Go's JSON for a response body: struct fields in the order built, map keys sorted, Go's string escapes. */
export function encodeBody(body: unknown): string {
  if (body instanceof RawJson) return body.text
  const toGo = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(toGo)
    if (v === null || typeof v !== 'object') return v
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, toGo(x)]))
    const entries = Object.entries(v).map(([k, x]) => [k, toGo(x)] as const)
    return (v as { [GO_MAP]?: boolean })[GO_MAP] ? new Map(entries) : Object.fromEntries(entries)
  }
  return goJsonStringify(toGo(body))
}

function ledgerView(data: LedgerData): LedgerData {
  return goMap(Object.fromEntries(Object.entries(data).map(([b, kv]) => [b, goMap({ ...kv })])))
}

/**
 * Routes EdgeVPN's API paths to the backend; returns [status, body], or
 * undefined when no route matches (the server then answers as EdgeVPN's does:
 * 404 for GET, 405 for other methods). `path` is what EdgeVPN's router sees
 * (see {@link routedPath}); like its router, segments are not decoded here,
 * inner segments may be empty and the last one may not.
 */
export function route(backend: ApiBackend, method: string, path: string, body: string): [number, unknown] | undefined {
  if (!path.startsWith('/')) return undefined
  const parts = path.slice(1).split('/')
  if (parts[parts.length - 1] === '' || parts[0] !== 'api' || parts.length < 2) return undefined
  const [, what, ...params] = parts
  const data = backend.data()
  if (what === 'ledger') {
    const [a, b, c] = params
    if (method === 'GET' && params.length <= 2) {
      if (a === undefined) return [200, ledgerView(data)]
      if (b === undefined) return [200, Object.hasOwn(data, a) ? goMap({ ...data[a] }) : null]
      return [200, (Object.hasOwn(data, a) && Object.hasOwn(data[a], b) ? data[a][b] : undefined) ?? '']
    }
    if (method === 'PUT' && params.length === 3) {
      backend.persist(a, b, c)
      return [200, ANNOUNCING]
    }
    if (method === 'DELETE' && (params.length === 1 || params.length === 2)) {
      if (b === undefined) backend.deleteBucket(a)
      else backend.deleteKey(a, b)
      return [200, ANNOUNCING]
    }
    return undefined
  }
  if (params.length > 0) return undefined
  if (method === 'POST' && what === 'dns') return postDns(backend, body)
  if (method !== 'GET') return undefined
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
        Peers: new Set(backend.knownPeers()).size,
        NodeID: backend.nodeId(),
      }]
    case 'machines': {
      const online = new Set(availableNodes(data, 20 * 60_000))
      return [200, Object.values(data.machines ?? {}).map((text) => {
        const m = goStruct(text, MACHINE_FIELDS)
        return { ...m, Connected: m.PeerID !== '' && backend.isConnected(m.PeerID), OnChain: topic.has(m.PeerID), Online: online.has(m.PeerID) }
      })]
    }
    case 'nodes': {
      const ids = new Set([...availableNodes(data, 10 * 60_000), ...topic])
      return [200, [...ids].map((ID) => ({ ID, Online: true }))]
    }
    case 'peerstore':
      // Go lists its peer store without looking at connections: Online stays false.
      return [200, [...new Set(backend.knownPeers())].map((ID) => ({ ID, Online: false }))]
    case 'users':
    case 'services':
    case 'files':
      return [200, Object.values(data[what] ?? {}).map((t) => goStruct(t, LIST_FIELDS[what]))]
    case 'blockchain':
      return [200, new RawJson(backend.lastBlockJson())]
    case 'dns':
      return [200, Object.entries(data.dns ?? {}).map(([Regex, t]) => {
        const records: Record<string, string> = goMap({})
        let members: ReturnType<typeof parseJsonMembers>
        try {
          members = parseJsonMembers(t)
        } catch {
          members = undefined
        }
        // Keys are type numbers; a type the DNS library does not know shows as "".
        for (const [k, v] of members ?? []) if (typeof v === 'string') records[DNS_NAMES.get(k) ?? ''] = v
        return { Regex, Records: records }
      })]
  }
  return undefined
}

/**
 * POST /api/dns: `{"Regex": "...", "Records": {"A": "10.1.0.1"}}`. Type names
 * are matched exactly as EdgeVPN does (an unknown name is type 0, "None").
 * Unlike EdgeVPN, a body without a Regex is refused rather than stored under "".
 */
function postDns(backend: ApiBackend, body: string): [number, unknown] {
  const bad: [number, unknown] = [400, { message: 'expected {"Regex": "...", "Records": {"A": "..."}}' }]
  let fields: Map<string, JsonValue>
  try {
    const v = parseJson(body)
    if (!isJsonObject(v)) return bad
    fields = goFields(v)
  } catch (err) {
    return [400, { message: (err as Error).message }]
  }
  const regex = fields.get('regex')
  const records = fields.get('records') ?? null
  if (typeof regex !== 'string' || regex === '' || (records !== null && !isJsonObject(records))) return bad
  const entry = new Map<string, string>()
  for (const [name, value] of Object.entries(records ?? {})) {
    if (typeof value !== 'string') return bad
    entry.set(String(DNS_TYPES[name] ?? 0), value)
  }
  backend.persistJson('dns', regex, entry)
  return [200, ANNOUNCING]
}

/**
 * The path EdgeVPN's router matches for a request target: Go decodes the
 * path, and its router uses the decoded form only when re-encoding it gives
 * back the original; otherwise the raw path, undecoded. So `a%20b` arrives as
 * "a b" but `a%3Db` as is. Undefined for a malformed escape (Go answers 400).
 */
export function routedPath(target: string): string | undefined {
  let raw = target
  if (!raw.startsWith('/')) {
    try {
      raw = new URL(raw).pathname
    } catch {
      return undefined
    }
  }
  raw = raw.split('?')[0]
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return undefined
  // Go would escape any other character, so such a path cannot be in its default form.
  if (!/^[\x21-\x7e]*$/.test(raw)) return raw
  const bytes = Buffer.from(raw.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1')
  return goEscapePath(bytes) === raw ? bytes.toString('utf8') : raw
}

/** Go's url escaping of a path: bytes other than letters, digits and -_.~$&+,/:;=@ become %XX (upper-case hex). */
function goEscapePath(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) {
    const c = String.fromCharCode(byte)
    out += /^[A-Za-z0-9\-_.~$&+,/:;=@]$/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

export interface ApiServer {
  /** `http://127.0.0.1:8080` or `unix:///path`. */
  address: string
  close(): Promise<void>
}

export interface ApiReply {
  status: number
  headers: Record<string, string>
  text: string
}

const JSON_TYPE = 'application/json'

/**
 * The whole answer to a request, as EdgeVPN's server (echo) gives it: JSON
 * bodies in Go's encoding with a trailing newline; a GET no route matches is
 * its file server's plain-text 404; other methods get 405 (its router has a
 * GET route for every path); OPTIONS gets 204; a malformed escape gets 400.
 * A failing backend throws (the server answers 500 and logs it).
 */
export function respond(backend: ApiBackend, method: string, target: string, body: string): ApiReply {
  const json = (status: number, value: unknown): ApiReply => ({ status, headers: { 'content-type': JSON_TYPE }, text: encodeBody(value) + '\n' })
  const path = routedPath(target)
  if (path === undefined) return { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }, text: '400 Bad Request' }
  if (path === '/metrics' && method === 'GET' && backend.metrics) return { status: 200, headers: { 'content-type': PROMETHEUS_TYPE }, text: backend.metrics() }
  const own = backend.serve?.(method, target)
  if (own) return own
  const result = route(backend, method, path, body)
  if (result) return json(result[0], result[1])
  if (method === 'GET') return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }, text: '404 page not found\n' }
  if (method === 'OPTIONS') return { status: 204, headers: {}, text: '' }
  return json(405, { message: 'Method Not Allowed' })
}

export interface ApiServerOptions {
  /**
   * The largest request body read, in bytes; larger ones get 413 before they
   * are read. The bridge passes the token's max_message_size: nothing larger
   * can reach the ledger. Default: EdgeVPN's default max_message_size (20 MiB).
   */
  maxBodyBytes?: number
  /** Receives one line for each request the server failed to answer. */
  log?: (line: string) => void
}

/**
 * The request line and headers Go's server reads: http.DefaultMaxHeaderBytes
 * (1 MiB) and the 4 KiB it allows on top. Node's default is 16 KiB, too small
 * for EdgeVPN clients, which put ledger values in the path.
 */
const MAX_HEADER_BYTES = MAX_URL_BYTES + 4096

/** Only POST /api/dns reads a body; other requests' bodies are counted and dropped. */
const readsBody = (method: string | undefined): boolean => method === 'POST'

const TOO_LARGE = '{"message":"Request Entity Too Large"}\n'

/** Text for a log line: the first line of an error, a request target cut short. */
const brief = (text: string, max = 200): string => {
  const line = text.split('\n')[0]
  return line.length > max ? `${line.slice(0, max)}…` : line
}

/**
 * Serves the EdgeVPN-compatible API. `listen` is `HOST:PORT` (loopback by
 * default; a non-loopback host must be asked for explicitly) or `unix:///path`
 * (socket created with mode 0600, removed on close; an existing file there is
 * replaced only when it is a socket nobody listens on).
 *
 * No request can take the process down: bodies over the limit are refused
 * (413) as soon as they are announced or pass it, and a failure while
 * answering is a 500 and one line to `log`.
 */
export async function startApiServer(backend: ApiBackend, listen: string, opts: ApiServerOptions = {}): Promise<ApiServer> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_MESSAGE_SIZE
  const handle = (req: http.IncomingMessage, res: http.ServerResponse, expectsContinue = false): void => {
    const send = (reply: ApiReply): void => {
      if (res.headersSent) return
      // Go's reason phrase for 413 (Node says "Payload Too Large").
      const reason = reply.status === 413 ? 'Request Entity Too Large' : undefined
      res.writeHead(reply.status, reason, { ...reply.headers, 'content-length': Buffer.byteLength(reply.text) })
      res.end(reply.text)
    }
    const fail = (err: unknown): void => {
      opts.log?.(`API: ${req.method} ${brief(req.url ?? '', 100)} failed: ${brief(err instanceof Error ? err.message : String(err))}`)
      if (res.headersSent) res.destroy()
      else send({ status: 500, headers: { 'content-type': JSON_TYPE }, text: '{"message":"Internal Server Error"}\n' })
    }
    const tooLarge = (): void => send({ status: 413, headers: { 'content-type': JSON_TYPE, connection: 'close' }, text: TOO_LARGE })
    try {
      req.on('error', () => {}) // a client that goes away mid-body
      if (Number(req.headers['content-length'] ?? 0) > maxBody) return tooLarge()
      if (expectsContinue) res.writeContinue()
      const keep = readsBody(req.method)
      const chunks: Buffer[] = []
      let size = 0
      req.on('data', (c: Buffer) => {
        size += c.length
        if (size > maxBody) {
          req.removeAllListeners('data')
          req.pause()
          return tooLarge()
        }
        if (keep) chunks.push(c)
      })
      req.on('end', () => {
        try {
          if (size > maxBody) return
          const gone = new AbortController()
          res.once('close', () => gone.abort())
          const later = backend.serveLater?.(req.method ?? 'GET', req.url ?? '/', gone.signal)
          if (later) later.then(send, fail)
          else send(respond(backend, req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8')))
        } catch (err) {
          fail(err)
        }
      })
    } catch (err) {
      fail(err)
    }
  }
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, handle)
  // `Expect: 100-continue` (curl sends it for large bodies): a body over the limit is refused before the client sends it.
  server.on('checkContinue', (req, res) => handle(req, res, true))
  // Requests Node's parser refuses, answered as Go's server answers them.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy()
    const [status, text] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : [400, 'Bad Request']
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${status} ${text}`)
  })
  const socketPath = listen.startsWith('unix://') ? listen.slice('unix://'.length) : undefined
  if (socketPath) await removeStaleSocket(socketPath)
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
  // After listening, a server error (accept failing with EMFILE, say) must not end the process.
  server.on('error', (err) => opts.log?.(`API: ${brief(err.message)}`))
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

/**
 * Clears the way for a unix socket at `path`, as EdgeVPN does: nothing there,
 * or a socket left by a process that is gone (connecting is refused), which is
 * removed. Anything else is refused and left alone: a file that is not a
 * socket, a socket someone answers on, a socket whose state cannot be told.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st: Stats
  try {
    st = await lstat(path)
  } catch {
    return // nothing there (or unreachable: listening reports why)
  }
  if (!st.isSocket()) {
    throw new UserError(`refusing to serve the API on ${path}: it exists and is not a socket (${fileKind(st)})`, {
      exitCode: ExitCode.Usage,
      hint: 'pass --api with another path, or remove the file if it is not needed',
    })
  }
  const probe = await new Promise<string | undefined>((resolve) => {
    const s = connect(path)
    s.setTimeout(1000, () => (s.destroy(), resolve('ETIMEDOUT')))
    s.once('connect', () => (s.destroy(), resolve(undefined)))
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
  if (probe === undefined) {
    throw new UserError(`refusing to serve the API on ${path}: another process is listening on it`, { hint: 'stop it (another bridge or EdgeVPN node?), or pass --api with another path' })
  }
  if (probe !== 'ECONNREFUSED') {
    throw new UserError(`refusing to serve the API on ${path}: cannot tell whether the socket there is in use (${probe})`, { hint: 'pass --api with another path, or remove the socket if it is stale' })
  }
  await rm(path, { force: true })
}

function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file'
  if (st.isDirectory()) return 'a directory'
  if (st.isSymbolicLink()) return 'a symbolic link'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'a device'
  return 'not a regular file'
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
