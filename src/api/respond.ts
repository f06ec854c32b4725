import type { ApiBackend, ApiReply } from './backend.js'
import { encodeBody } from './go-body.js'
import { PROMETHEUS_TYPE } from './metrics.js'
import { route } from './routes.js'

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
  const bytes = Buffer.from(
    raw.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  )
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

export const JSON_TYPE = 'application/json'

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
