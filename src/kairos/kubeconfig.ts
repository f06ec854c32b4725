import { isIP } from 'node:net'
// The kubeconfig entry parsers that KubeConfig.loadFromString uses. The package's
// index loads every generated API client (about a second); this module loads in ms.
import { newClusters, newContexts, newUsers } from '@kubernetes/client-node/dist/config_types.js'
import { isScalar, parse, parseDocument, stringify, type Scalar } from 'yaml'
import type { LedgerAccess, LedgerData } from '../ledger-access/types.js'
import { UsageError, UserError } from '../errors.js'
import { setLongTimeout } from '../timers.js'
import { decodeString, keys, LayoutError } from './layout.js'

/**
 * get-kubeconfig as the Go kairosctl computes it: read `master-kubeconfig`
 * (RawURL base64 of the master's k3s.yaml), read `ip-master`, and replace
 * every `127.0.0.1` in the document with the master IP. The Go tool ignores
 * every error and prints an empty line; here every missing or broken piece is
 * a KubeconfigError that says what is missing, and the result must load as a
 * kubeconfig before it is returned.
 */

/**
 * - `no-bucket`: nothing at all under the network id;
 * - `no-master`: no `ip-master` (no master elected yet, or not announced yet);
 * - `no-kubeconfig`: no `master-kubeconfig` (k3s not up on the master yet);
 * - `empty-master-ip`: `ip-master` holds "" (the master had no edgevpn0 address);
 * - `undecodable`: a value does not survive the decoding chain;
 * - `invalid`: the decoded document is not a usable kubeconfig.
 */
export type KubeconfigProblem = 'no-bucket' | 'no-master' | 'no-kubeconfig' | 'empty-master-ip' | 'undecodable' | 'invalid'

/** Problems that go away by themselves while a cluster bootstraps (worth waiting for). */
export const TRANSIENT_PROBLEMS: readonly KubeconfigProblem[] = ['no-bucket', 'no-master', 'no-kubeconfig', 'empty-master-ip']

export class KubeconfigError extends UserError {
  constructor(
    readonly problem: KubeconfigProblem,
    message: string,
    opts: { hint?: string; key?: string; layer?: LayoutError['layer'] | 'kubeconfig base64' } = {},
  ) {
    super(message, { hint: opts.hint })
    this.name = 'KubeconfigError'
    this.key = opts.key
    this.layer = opts.layer
  }

  /** The ledger key at fault, when one is. */
  readonly key?: string
  /** For `undecodable`: the layer of the chain that failed. */
  readonly layer?: LayoutError['layer'] | 'kubeconfig base64'
}

export interface ClusterAccess {
  /** The kubeconfig with every 127.0.0.1 replaced by the master IP (no newline added). */
  kubeconfig: string
  masterIp: string
}

/** Buckets EdgeVPN itself uses: not candidates for "did you mean another network id". */
const EDGEVPN_BUCKETS = new Set(['healthcheck', 'machines', 'users', 'services', 'files', 'dns', 'dhcp', 'egress', 'trustzone', 'trustzoneAuth'])

const WAIT_HINT = 'the cluster may still be bootstrapping: retry later or wait for it (--wait)'

/** The RawURL base64 Kairos stores under `master-kubeconfig` for a kubeconfig text. */
export function encodeKubeconfig(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url')
}

/**
 * The pure rewrite step: RawURL-decode the stored value and replace every
 * `127.0.0.1` with the master IP (like Go's strings.ReplaceAll, so
 * `127.0.0.10` becomes `<ip>0` there too). Throws on a value that Go's
 * base64.RawURLEncoding would reject or that is not UTF-8 text.
 */
export function rewriteKubeconfig(encoded: string, masterIp: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) {
    const why = encoded.includes('=') ? 'has "=" padding' : /[+/]/.test(encoded) ? 'uses the standard (not URL) alphabet' : 'is not URL-alphabet base64'
    throw new KubeconfigError('undecodable', `master-kubeconfig cannot be decoded: its value ${why} (Kairos stores unpadded URL base64)`, { key: keys.kubeconfig, layer: 'kubeconfig base64' })
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded, 'base64url'))
  } catch {
    throw new KubeconfigError('undecodable', 'master-kubeconfig cannot be decoded: the decoded bytes are not UTF-8 text', { key: keys.kubeconfig, layer: 'kubeconfig base64' })
  }
  return text.replaceAll('127.0.0.1', masterIp)
}

/** What the Go `get-kubeconfig` writes to stdout for a kubeconfig (fmt.Println: one newline added). */
export function getKubeconfigOutput(kubeconfig: string): string {
  return kubeconfig + '\n'
}

/**
 * The kubeconfig and master IP from a ledger snapshot, or a KubeconfigError
 * saying exactly what is missing or broken.
 */
export function extractKubeconfig(data: LedgerData, networkId: string): ClusterAccess {
  const bucket = data[networkId]
  if (!bucket || Object.keys(bucket).length === 0) {
    const others = Object.keys(data)
      .filter((b) => !EDGEVPN_BUCKETS.has(b))
      .sort()
    throw new KubeconfigError('no-bucket', `the ledger has no Kairos data for network id "${networkId}"`, {
      hint: others.length ? `buckets present: ${others.join(', ')} (is the network id one of them?)` : 'no Kairos node has published anything on this network yet',
    })
  }
  const ipText = bucket[keys.masterIp]
  const kcText = bucket[keys.kubeconfig]
  if (ipText === undefined && kcText === undefined) {
    throw new KubeconfigError('no-master', `no master elected yet in network "${networkId}" (neither ${keys.masterIp} nor ${keys.kubeconfig} is in the ledger)`, {
      hint: WAIT_HINT,
      key: keys.masterIp,
    })
  }
  if (ipText === undefined) {
    throw new KubeconfigError('no-master', `the master has published its kubeconfig but not its IP yet (${keys.masterIp} is not in the ledger)`, { hint: WAIT_HINT, key: keys.masterIp })
  }
  const masterIp = decodeKey(ipText, keys.masterIp)
  if (masterIp === '') {
    throw new KubeconfigError('empty-master-ip', `the master published an empty IP (${keys.masterIp} is ""; its edgevpn0 interface had no address yet)`, { hint: WAIT_HINT, key: keys.masterIp })
  }
  if (isIP(masterIp) === 0) {
    throw new KubeconfigError('undecodable', `${keys.masterIp} holds "${masterIp}", which is not an IP address`, { key: keys.masterIp })
  }
  if (kcText === undefined) {
    throw new KubeconfigError('no-kubeconfig', `master ${masterIp} has not published its kubeconfig yet (${keys.kubeconfig} is not in the ledger)`, { hint: WAIT_HINT, key: keys.kubeconfig })
  }
  const kubeconfig = rewriteKubeconfig(decodeKey(kcText, keys.kubeconfig), masterIp)
  validateKubeconfig(kubeconfig, 'the published kubeconfig')
  return { kubeconfig, masterIp }
}

function decodeKey(text: string, key: string): string {
  try {
    return decodeString(text)
  } catch (err) {
    if (!(err instanceof LayoutError)) throw err
    throw new KubeconfigError('undecodable', `${key} cannot be decoded (${err.layer} layer): ${err.message}`, { key, layer: err.layer })
  }
}

/**
 * Throws a KubeconfigError (`invalid`) unless the text loads as a kubeconfig
 * with at least one cluster, context and user, and a current-context whose
 * cluster and user exist.
 */
export function validateKubeconfig(text: string, what = 'the kubeconfig'): void {
  let shape: unknown
  try {
    shape = parse(text)
  } catch (err) {
    throw new KubeconfigError('invalid', `${what} is not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (shape === null || shape === undefined) throw new KubeconfigError('invalid', `${what} is empty`)
  if (typeof shape !== 'object' || Array.isArray(shape)) throw new KubeconfigError('invalid', `${what} is not a valid kubeconfig: it is not a YAML mapping`)
  const doc = shape as Record<string, unknown>
  let clusters, contexts, users
  try {
    // What KubeConfig.loadFromString does after parsing the YAML.
    clusters = newClusters(doc.clusters)
    contexts = newContexts(doc.contexts)
    users = newUsers(doc.users)
  } catch (err) {
    throw new KubeconfigError('invalid', `${what} is not a valid kubeconfig: ${(err as Error).message.split('\n')[0]}`)
  }
  const missing = [clusters.length === 0 ? 'clusters' : '', contexts.length === 0 ? 'contexts' : '', users.length === 0 ? 'users' : ''].filter(Boolean)
  if (missing.length) throw new KubeconfigError('invalid', `${what} is not a valid kubeconfig: it has no ${missing.join(', no ')}`)
  const current = doc['current-context']
  if (!current) throw new KubeconfigError('invalid', `${what} is not a valid kubeconfig: it has no current-context`)
  const ctx = contexts.find((c) => c.name === current)
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- current-context is whatever the YAML held, shown as String() shows it
  if (!ctx) throw new KubeconfigError('invalid', `${what} is not a valid kubeconfig: current-context "${String(current)}" is not among its contexts`)
  if (!clusters.some((c) => c.name === ctx.cluster))
    throw new KubeconfigError('invalid', `${what} is not a valid kubeconfig: context "${ctx.name}" names cluster "${ctx.cluster}", which it does not define`)
  if (!users.some((u) => u.name === ctx.user)) throw new KubeconfigError('invalid', `${what} is not a valid kubeconfig: context "${ctx.name}" names user "${ctx.user}", which it does not define`)
}

/**
 * Renames the current context, its cluster and its user to `name` (k3s calls
 * all three `default`), and points current-context at it, so the document can
 * be merged into an existing kubeconfig. Other contexts that share the cluster
 * or user follow the rename. Only the name scalars are rewritten in the text,
 * so everything else (comments, order, indentation, other entries) stays byte
 * for byte. Fails if `name` already names a different entry.
 */
export function renameContext(text: string, name: string): string {
  if (name.trim() === '' || /[\n\r]/.test(name)) throw new UsageError(`invalid context name "${name}"`, 'use a non-empty single-line name')
  validateKubeconfig(text)
  const doc = parseDocument(text)
  // Read through toJS so that anchors and aliases resolve.
  const js = doc.toJS() as KubeconfigShape
  const entries = (section: 'clusters' | 'contexts' | 'users') => (Array.isArray(js[section]) ? js[section] : [])
  const current = String(js['current-context'])
  const ctx = entries('contexts').find((c) => c?.name === current)
  const oldCluster = String(ctx?.context?.cluster)
  const oldUser = String(ctx?.context?.user)

  const renames = [
    ['clusters', oldCluster],
    ['users', oldUser],
    ['contexts', current],
  ] as const
  for (const [section, from] of renames) {
    if (from !== name && entries(section).some((e) => e?.name === name)) {
      throw new UsageError(`the kubeconfig already has a ${section.slice(0, -1)} named "${name}"`, 'pick another context name')
    }
  }
  const paths: (string | number)[][] = [['current-context']]
  for (const [section, from] of renames) {
    entries(section).forEach((e, i) => {
      if (e?.name === from) paths.push([section, i, 'name'])
    })
  }
  entries('contexts').forEach((c, i) => {
    if (c?.context?.cluster === oldCluster) paths.push(['contexts', i, 'context', 'cluster'])
    if (c?.context?.user === oldUser) paths.push(['contexts', i, 'context', 'user'])
  })

  let out: string
  const nodes = paths.map((p) => doc.getIn(p, true))
  if (nodes.every((n) => isScalar(n) && n.range)) {
    // Splice the new scalar into the source text, last one first, so nothing else moves.
    // Plain when that is unambiguous anywhere (block or flow), else a double-quoted (JSON) scalar.
    const plain = stringify(name, { lineWidth: 0 }).replace(/\n$/, '')
    const replacement = /^[A-Za-z0-9][A-Za-z0-9._@/-]*$/.test(plain) ? plain : JSON.stringify(name)
    const ranges = nodes.map((n) => (n as Scalar).range!).sort((a, b) => b[0] - a[0])
    out = text
    for (const [start, end] of ranges) out = out.slice(0, start) + replacement + out.slice(end)
  } else {
    // Aliases or other unusual nodes: edit the resolved document and write it out again.
    for (const p of paths) setIn(js, p, name)
    out = stringify(js, { lineWidth: 0, indentSeq: false })
  }
  validateKubeconfig(out, 'the renamed kubeconfig')
  return out
}

type NamedEntry = { name?: unknown; context?: { cluster?: unknown; user?: unknown } } | null
type KubeconfigShape = Record<string, unknown> & { clusters?: NamedEntry[]; contexts?: NamedEntry[]; users?: NamedEntry[] }

function setIn(target: unknown, path: (string | number)[], value: unknown): void {
  let node = target as Record<string | number, unknown>
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, unknown>
  node[path[path.length - 1]] = value
}

export interface WaitOptions {
  /** Give up after this long (a UserError naming what is still missing). */
  timeoutMs: number
  /** When the caller's overall wait began, if before this call (the timeout error reports the time since then). */
  startedAt?: number
  /** Stop waiting early (a UserError saying so). */
  signal?: AbortSignal
  /** Called with a one-line status whenever what is missing changes. */
  onProgress?: (status: string) => void
}

/**
 * Watches the ledger until the kubeconfig can be extracted. Missing pieces
 * (no master yet, no kubeconfig yet) are waited for; a value that is present
 * but broken fails at once. At the timeout, throws a UserError naming what
 * is still missing.
 */
export async function waitForKubeconfig(access: LedgerAccess, networkId: string, opts: WaitOptions): Promise<ClusterAccess> {
  const { timeoutMs, signal, onProgress } = opts
  let result: ClusterAccess | undefined
  let fatal: unknown
  let pending: KubeconfigError | undefined
  let lastStatus = ''

  const stop = new AbortController()
  const consider = (data: LedgerData): void => {
    if (result || fatal) return
    try {
      result = extractKubeconfig(data, networkId)
      stop.abort()
    } catch (err) {
      if (err instanceof KubeconfigError && TRANSIENT_PROBLEMS.includes(err.problem)) {
        pending = err
        if (err.message !== lastStatus) {
          lastStatus = err.message
          onProgress?.(`waiting: ${err.message}`)
        }
      } else {
        fatal = err
        stop.abort()
      }
    }
  }

  if (signal?.aborted) throw cancelled(pending)
  consider(await access.data())
  if (result) return result
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what extractKubeconfig threw
  if (fatal) throw fatal

  let timedOut = false
  const timer = setLongTimeout(
    () => {
      timedOut = true
      stop.abort()
    },
    Math.max(0, timeoutMs),
  )
  const onAbort = (): void => stop.abort()
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await access.watch(consider, stop.signal)
  } finally {
    timer.clear()
    signal?.removeEventListener('abort', onAbort)
  }
  if (result) return result
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what extractKubeconfig threw
  if (fatal) throw fatal
  if (timedOut) {
    const waited = opts.startedAt === undefined ? timeoutMs : Date.now() - opts.startedAt
    throw new UserError(`timed out after ${formatDuration(waited)} waiting for the kubeconfig: ${pending?.message ?? 'no ledger data received'}`, {
      hint: pending?.problem === 'no-bucket' ? pending.hint : 'check that the cluster is up, or wait longer (--timeout)',
    })
  }
  throw cancelled(pending)
}

function cancelled(pending: KubeconfigError | undefined): UserError {
  return new UserError(`stopped waiting for the kubeconfig${pending ? `: ${pending.message}` : ''}`)
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const s = Math.round(ms / 1000)
  return s < 120 || s % 60 !== 0 ? `${s}s` : `${s / 60}m`
}
