/**
 * GET /api/kairosctl/ping?target=T[&count=N][&interval=MS][&timeout=S]: the
 * bridge resolves T through its ledger and pings it with its own libp2p
 * host, then answers with what `kairosctl ping --json` prints. Errors are
 * `{"error", "hint", "exitCode"}`: 404 for a target the ledger does not know,
 * 400 for a bad request (or the bridge itself), 502 when the target cannot be
 * reached. Not one of EdgeVPN's routes; `kairosctl ping --api` uses it.
 */
import { ExitCode, UserError } from '../errors.js'
import type { EdgePeer } from '../peer/peer.js'
import { pingPeer, resolvePingTarget, type PingSummary, type PingTarget } from '../peer/ping.js'
import type { ApiReply } from './backend.js'

export const PING_PATH = '/api/kairosctl/ping'

/** The answer of a ping through the API, as `kairosctl ping --json` prints it. */
export type PingResult = { target: PingTarget } & PingSummary

/** What a ping request may ask for; the same bounds as the command's flags. */
export const PING_LIMITS = { count: { min: 1, max: 10_000, default: 4 }, interval: { min: 0, max: 3_600_000, default: 1000 }, timeout: { min: 1, max: 3600, default: 30 } }

export interface PingErrorBody {
  error: string
  hint?: string
  exitCode: number
}

const json = (status: number, value: unknown): ApiReply => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  text: JSON.stringify(value) + '\n',
})

const failure = (status: number, err: UserError): ApiReply => json(status, { error: err.message, ...(err.hint ? { hint: err.hint } : {}), exitCode: err.exitCode } satisfies PingErrorBody)

function param(url: URL, name: keyof typeof PING_LIMITS): number {
  const { min, max, default: dflt } = PING_LIMITS[name]
  const text = url.searchParams.get(name)
  if (text === null || text === '') return dflt
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`${name} must be an integer from ${min} to ${max}`, { exitCode: ExitCode.Usage })
  return n
}

/**
 * The ping route, or undefined for any other request target (answered
 * synchronously, so other routes are not held up). `signal` ends the pings
 * early when the client goes away.
 */
export function pingRoute(peer: EdgePeer, method: string, target: string, signal: AbortSignal): Promise<ApiReply> | undefined {
  let url: URL
  try {
    url = new URL(target, 'http://bridge')
  } catch {
    return undefined
  }
  if (url.pathname !== PING_PATH) return undefined
  if (method !== 'GET') return Promise.resolve(json(405, { error: `${method} is not allowed here`, exitCode: ExitCode.Usage }))
  return answer(peer, url, signal)
}

async function answer(peer: EdgePeer, url: URL, signal: AbortSignal): Promise<ApiReply> {
  let count: number, interval: number, timeout: number, resolved: PingTarget
  try {
    count = param(url, 'count')
    interval = param(url, 'interval')
    timeout = param(url, 'timeout')
    const input = url.searchParams.get('target')
    if (input === null) throw new UserError('missing ?target=VPN-IP|HOSTNAME|PEER-ID', { exitCode: ExitCode.Usage })
    resolved = resolvePingTarget(input, peer.ledger.currentData())
  } catch (err) {
    if (!(err instanceof UserError)) throw err
    return failure(err.exitCode === ExitCode.Usage ? 400 : 404, err)
  }
  try {
    const summary = await pingPeer(peer, resolved, { count, intervalMs: interval, timeoutMs: timeout * 1000, signal })
    return json(200, { target: resolved, ...summary } satisfies PingResult)
  } catch (err) {
    if (!(err instanceof UserError)) throw err
    return failure(err.exitCode === ExitCode.Usage ? 400 : 502, err)
  }
}
