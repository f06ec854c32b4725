/**
 * Gathering the status: from an EdgeVPN-compatible API (our bridge's, a Kairos
 * node's socket, a Go node's) or from a short-lived peer that joined with the
 * token. Independent of oclif; the command only picks the flags and prints.
 *
 * Both sources give the same inputs (for a joined peer, the answers our API
 * server would give for it).
 */
import { ApiClient, type ApiMachine, type ApiSummary } from '../api/client.js'
import { peerBackend } from '../api/peer-backend.js'
import { route } from '../api/routes.js'
import { ExitCode, UserError } from '../errors.js'
import { HEALTHCHECK_BUCKET } from '../ledger/policy.js'
import type { EdgePeer } from '../peer/peer.js'
import { buildStatus } from './build.js'
import type { Status, StatusInputs } from './model.js'

/** Where `kairosctl bridge` serves its API by default. */
export const DEFAULT_BRIDGE_API = 'http://127.0.0.1:8080'

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Asks an API for the status inputs (four requests in parallel); answers of the wrong shape count as empty. */
export async function inputsFromApi(client: ApiClient, timeoutMs?: number): Promise<StatusInputs> {
  let answers
  try {
    answers = await Promise.all([
      client.summary(timeoutMs),
      client.machines(timeoutMs),
      client.ledgerBucket(HEALTHCHECK_BUCKET, timeoutMs),
      // Only a fallback for a summary without Peers; an API without it is no reason to fail.
      client.peerstore(timeoutMs).catch(() => undefined),
    ])
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new UserError(`the API at ${client.address} answered something other than JSON`, { hint: 'is it an EdgeVPN API?', cause: err })
    }
    throw err
  }
  const [summary, machines, healthcheck, peerstore] = answers
  return {
    source: 'api',
    api: client.address,
    summary: isRecord(summary) ? summary : {},
    machines: Array.isArray(machines) ? machines.filter(isRecord) : [],
    healthcheck: isRecord(healthcheck) ? Object.fromEntries(Object.entries(healthcheck).filter((e): e is [string, string] => typeof e[1] === 'string')) : {},
    peerstore: Array.isArray(peerstore) ? peerstore : undefined,
  }
}

/** The same inputs for a peer we run ourselves: what our API server would answer for it. */
export function inputsFromPeer(peer: EdgePeer): StatusInputs {
  const backend = peerBackend(peer)
  const get = <T>(path: string): T | undefined => route(backend, 'GET', path, '')?.[1] as T | undefined
  return {
    source: 'network',
    summary: get<Partial<ApiSummary>>('/api/summary') ?? {},
    machines: get<Partial<ApiMachine>[]>('/api/machines') ?? [],
    healthcheck: get<Record<string, string> | null>(`/api/ledger/${HEALTHCHECK_BUCKET}`) ?? {},
    links: peerLinks(peer),
    nat: peer.report().nat,
  }
}

/** For each connected peer: direct when any of its connections is, else relayed. */
function peerLinks(peer: EdgePeer): Record<string, 'direct' | 'relayed'> {
  const links: Record<string, 'direct' | 'relayed'> = {}
  for (const c of peer.host.getConnections()) {
    const id = c.remotePeer.toString()
    if (c.limits === undefined) links[id] = 'direct'
    else links[id] ??= 'relayed'
  }
  return links
}

/** Whether an ApiClient error means nothing listens at the address. */
function nothingListens(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code
  return code === 'ECONNREFUSED' || code === 'ENOENT'
}

/** What joining the network gives (a PeerLedgerAccess). */
export interface JoinedPeer {
  peer: EdgePeer
  close(): Promise<void>
}

export interface GatherOptions {
  /** --api: read this API. */
  api?: string
  /** Set when --network-token is given: joins the network and returns the synced peer. */
  join?: () => Promise<JoinedPeer>
  /** Without either: the bridge's API (default {@link DEFAULT_BRIDGE_API}) ... */
  defaultApi?: string
  /** ... then this socket when the file exists (a Kairos node's EdgeVPN daemon). */
  kairosSocket?: { path: string; exists: () => boolean }
  /** Per API request (default 10 s). */
  timeoutMs?: number
  progress?: (line: string) => void
  now?: () => Date
}

/**
 * Gathers the status the way openLedger reaches a ledger: --api, else the
 * token, else (unlike openLedger) the bridge's default API, then the Kairos
 * socket. Nothing answering is one UserError with a hint.
 */
export async function gatherStatus(opts: GatherOptions): Promise<Status> {
  const now = opts.now ?? (() => new Date())
  const fromApi = async (address: string): Promise<Status> => {
    const client = new ApiClient(address) // a malformed address is a usage error here
    opts.progress?.(`asking the API at ${client.address}…`)
    return buildStatus(await inputsFromApi(client, opts.timeoutMs), now())
  }

  if (opts.api !== undefined) {
    try {
      return await fromApi(opts.api)
    } catch (err) {
      if (!nothingListens(err)) throw err
      throw new UserError(`no EdgeVPN API answers at ${opts.api}`, {
        hint: 'is the node or `kairosctl bridge` running? Or pass --network-token to join the network directly',
        cause: err,
      })
    }
  }

  if (opts.join) {
    const joined = await opts.join()
    try {
      return buildStatus(inputsFromPeer(joined.peer), now())
    } finally {
      await joined.close().catch(() => {})
    }
  }

  const fallback = opts.defaultApi ?? DEFAULT_BRIDGE_API
  try {
    return await fromApi(fallback)
  } catch (err) {
    if (!nothingListens(err)) throw err
    const socket = opts.kairosSocket
    if (socket?.exists()) return fromApi(`unix://${socket.path}`)
    throw new UserError(`no bridge API answers at ${fallback}`, {
      exitCode: ExitCode.Failure,
      hint: 'start one with `sudo kairosctl bridge --network-token "$TOKEN"`, or pass --api URL or --network-token',
      cause: err,
    })
  }
}
