import { chmod, lstat, rm } from 'node:fs/promises'
import http from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import type { Stats } from 'node:fs'
import { ExitCode, UserError } from '../errors.js'
import { DEFAULT_MAX_MESSAGE_SIZE } from '../token/token.js'
import type { ApiBackend, ApiReply } from './backend.js'
import { MAX_URL_BYTES } from './client.js'
import { JSON_TYPE, respond } from './respond.js'

export interface ApiServer {
  /** `http://127.0.0.1:8080` or `unix:///path`. */
  address: string
  close(): Promise<void>
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
/** How long a refused request's connection stays half-open for the client to read the answer (Go's rstAvoidanceDelay). */
const LINGER_MS = 500

/**
 * Node closes a `connection: close` response's socket as soon as the answer
 * is written. When the client is still sending the body we refused, closing
 * with its bytes unread resets the connection, and the client can lose the
 * answer before it reads it (a unix socket's peer gets EPIPE on its next
 * write and drops what it had not read). Go's server half-closes instead and
 * reads on for a moment (net/http, closeWriteAndWait); so does this: the
 * answer is followed by our FIN, what still arrives is discarded, and the
 * socket closes when the client closes or after LINGER_MS.
 */
function lingerAtClose(req: http.IncomingMessage): void {
  const socket: Socket & { destroySoon?: () => void } = req.socket
  socket.destroySoon = () => {
    req.resume() // the rest of the body is read and dropped
    socket.end()
    socket.once('end', () => socket.destroy())
    setTimeout(() => socket.destroy(), LINGER_MS).unref()
  }
}

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
    const tooLarge = (): void => {
      lingerAtClose(req)
      send({ status: 413, headers: { 'content-type': JSON_TYPE, connection: 'close' }, text: TOO_LARGE })
    }
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
    throw new UserError(`refusing to serve the API on ${path}: cannot tell whether the socket there is in use (${probe})`, {
      hint: 'pass --api with another path, or remove the socket if it is stale',
    })
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
