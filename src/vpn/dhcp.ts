/**
 * EdgeVPN's "DHCP": how a node without a fixed VPN address takes one. It is
 * not a server but a small agreement over the shared ledger, run by every
 * node that wants an address (see docs/dhcp.md):
 *
 * 1. A lease file from an earlier run (named after the token) is reused.
 * 2. Otherwise, every 5 s: the live nodes (healthcheck within 15 minutes)
 *    that have no `machines` entry are the candidates; the one whose peer ID
 *    has the highest FNV-1a hash leads. It writes `dhcp/leader` = its ID and,
 *    once it reads that back, takes the highest address in `machines` plus
 *    one (its own default address when `machines` is empty). The others wait
 *    until it announces its address and the next one leads.
 * 3. Nothing happens with fewer than two live nodes.
 *
 * The decisions are pure functions (dhcpStep and its helpers); negotiate()
 * runs them against a live peer.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { md5hex } from '../crypto/otp.js'
import { UserError } from '../errors.js'
import { goFieldKey, parseJson, parseJsonMembers } from '../ledger/json.js'
import { isLive } from '../ledger/policy.js'
import type { NetworkToken } from '../token/token.js'

/** How often a node without an address re-evaluates (EdgeVPN: 5 s). */
export const DHCP_INTERVAL_MS = 5_000
/** A node counts as alive when its healthcheck is this recent (EdgeVPN: 15 minutes). */
export const DHCP_ALIVE_WINDOW_SECONDS = 15 * 60
export const DHCP_BUCKET = 'dhcp'
export const DHCP_LEADER_KEY = 'leader'

// ------------------------------------------------------------------ leader

/** 32-bit FNV-1a of the UTF-8 bytes of `text` (Go's hash/fnv New32a). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/**
 * EdgeVPN's utils.Leader: the ID with the highest FNV-1a hash; on equal
 * hashes the earlier one in the list. Undefined for an empty list.
 */
export function dhcpLeader(ids: readonly string[]): string | undefined {
  let leader: string | undefined
  let best = -1
  for (const id of ids) {
    const h = fnv1a32(id)
    if (h > best) {
      leader = id
      best = h
    }
  }
  return leader
}

// ------------------------------------------------------------------ addresses

/**
 * An address as 16 bytes (IPv4 in its IPv4-mapped IPv6 form, as Go's
 * net.ParseIP stores it), or undefined where Go's ParseIP returns nil
 * (leading zeros, zones, anything else that is not a plain address).
 */
export function parseIp(text: string): Uint8Array | undefined {
  if (text.includes('%')) return undefined
  const family = isIP(text)
  const out = new Uint8Array(16)
  if (family === 4) {
    out[10] = 0xff
    out[11] = 0xff
    text.split('.').forEach((part, i) => (out[12 + i] = Number(part)))
    return out
  }
  if (family !== 6) return undefined
  // The URL parser normalises any IPv6 form (embedded IPv4 included) to compressed hex groups.
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1)
  const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  groups.forEach((g, i) => {
    const v = parseInt(g, 16)
    out[2 * i] = v >> 8
    out[2 * i + 1] = v & 0xff
  })
  return out
}

function isMapped4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false
  return b[10] === 0xff && b[11] === 0xff
}

/** Formats 16 address bytes as Go's net.IP.String does: dotted IPv4 for mapped addresses, else RFC 5952. */
export function formatIp(b: Uint8Array): string {
  if (isMapped4(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16))
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/**
 * EdgeVPN's utils.NextIP: `defaultIp` when no address is in use, else the
 * highest one in use (IPv6 sorts by its 16 bytes, IPv4 as mapped addresses)
 * plus one, carrying across octets (10.1.0.255 → 10.1.1.0). The increment
 * stays within the address family and does not wrap: the very last address
 * comes back unchanged, as in Go.
 *
 * Unparsable entries are skipped (Go sorts them first, so they only matter
 * when nothing else is in use: Go then returns "<nil>", we return the default).
 */
export function nextIp(defaultIp: string, used: readonly string[]): string {
  let top: Uint8Array | undefined
  for (const text of used) {
    const b = parseIp(text)
    if (b && (!top || compareBytes(b, top) > 0)) top = b
  }
  if (!top) return defaultIp
  const next = Uint8Array.from(top)
  const first = isMapped4(next) ? 12 : 0
  for (let i = 15; i >= first; i--) {
    next[i] = (next[i] + 1) & 0xff
    if (next[i] !== 0) return formatIp(next)
  }
  return formatIp(top)
}

// ------------------------------------------------------------------ lease file

/** The lease file's name: MD5 hex of "<the token's otp.crypto.key>-ek", as EdgeVPN names it. */
export function leaseFileName(token: Pick<NetworkToken, 'otp'>): string {
  return md5hex(`${token.otp.crypto.key}-ek`)
}

export function leasePath(dir: string, token: Pick<NetworkToken, 'otp'>): string {
  return join(dir, leaseFileName(token))
}

/**
 * The address leased to this network in an earlier run, or undefined when
 * there is no lease (no file, or an empty one, as EdgeVPN treats it).
 * Surrounding whitespace is ignored; anything else that is not an IPv4
 * address is an error, so a damaged file never silently changes the address.
 */
export function readLease(dir: string, token: Pick<NetworkToken, 'otp'>): string | undefined {
  const path = leasePath(dir, token)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw new UserError(`cannot read the DHCP lease ${path}: ${code ?? (err as Error).message}`, { hint: 'fix its permissions or pass another --lease-dir', cause: err })
  }
  const ip = text.trim()
  if (ip === '') return undefined
  if (isIP(ip) !== 4) {
    throw new UserError(`the DHCP lease ${path} holds ${JSON.stringify(ip.slice(0, 60))}, not an IPv4 address`, { hint: 'delete the file to negotiate a new address' })
  }
  return ip
}

/** Saves the lease (directory 0700, file 0600, replaced atomically); returns its path. Throws the file system's error. */
export function writeLease(dir: string, token: Pick<NetworkToken, 'otp'>, ip: string): string {
  const path = leasePath(dir, token)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, ip, { mode: 0o600 })
  renameSync(tmp, path)
  return path
}

// ------------------------------------------------------------------ one round

/** What one evaluation decided. */
export type DhcpDecision =
  /** Fewer than two live nodes: EdgeVPN's DHCP never assigns then. */
  | { action: 'wait'; reason: 'alone'; alive: number }
  /** No live node lacks an address (our own healthcheck is not in the ledger yet). */
  | { action: 'wait'; reason: 'nobody-waiting'; alive: number }
  /** Another node leads; it takes an address first. */
  | { action: 'wait'; reason: 'not-leader'; leader: string; waiting: number }
  /** We lead: write dhcp/leader = our ID, and take an address once it reads back. */
  | { action: 'claim'; waiting: number }
  /** We should lead but another waiting node holds the flag: wait one round more (EdgeVPN backs off). */
  | { action: 'backoff'; holder: string }
  /** Take this address: picked as leader, or already ours in `machines` (source 'ledger'). */
  | { action: 'assign'; ip: string; source: 'picked' | 'ledger' }

/** A string field of a JSON object as Go's json.Unmarshal fills a struct field (case-insensitive, last string wins). */
function stringField(text: string, field: string): string | undefined {
  let out: string | undefined
  try {
    for (const [k, v] of parseJsonMembers(text) ?? []) if (goFieldKey(k) === field && typeof v === 'string') out = v
  } catch {
    return undefined
  }
  return out
}

/**
 * One round of EdgeVPN's DHCP loop for node `self`, from the ledger's live
 * data (bucket → key → JSON text). `defaultIp` is the node's own configured
 * address, taken when `machines` is empty.
 *
 * One deliberate addition: when `machines` already names `self` with an
 * address (a previous run of this identity whose lease file is gone), that
 * address is taken again. EdgeVPN would wait forever there, since a node
 * with a machines entry is never a candidate.
 */
export function dhcpStep(
  data: Readonly<Record<string, Readonly<Record<string, string>>>>,
  self: string,
  defaultIp: string,
  now: Date = new Date(),
  windowSeconds: number = DHCP_ALIVE_WINDOW_SECONDS,
): DhcpDecision {
  const health = data.healthcheck ?? {}
  const alive = Object.keys(health).filter((id) => isLive(health, id, windowSeconds, now))

  const addressOf = new Map<string, string>()
  const used: string[] = []
  for (const text of Object.values(data.machines ?? {})) {
    const peer = stringField(text, 'peerid') ?? ''
    const address = stringField(text, 'address') ?? ''
    addressOf.set(peer, address)
    used.push(address)
  }
  const mine = addressOf.get(self)
  if (mine !== undefined && isIP(mine) === 4) return { action: 'assign', ip: mine, source: 'ledger' }

  const waiting = alive.filter((id) => !addressOf.has(id))
  if (alive.length <= 1) return { action: 'wait', reason: 'alone', alive: alive.length }
  if (waiting.length === 0) return { action: 'wait', reason: 'nobody-waiting', alive: alive.length }

  const leader = dhcpLeader(waiting)!
  const flagText = data[DHCP_BUCKET]?.[DHCP_LEADER_KEY]
  let flag = ''
  if (flagText !== undefined) {
    try {
      const v = parseJson(flagText)
      if (typeof v === 'string') flag = v
    } catch {
      // Go's Unmarshal fails and leaves the flag empty.
    }
  }
  if (leader !== self && flag !== self) return { action: 'wait', reason: 'not-leader', leader, waiting: waiting.length }
  if (leader === self && (flag === '' || !waiting.includes(flag))) return { action: 'claim', waiting: waiting.length }
  if (flag !== self) return { action: 'backoff', holder: flag }
  return { action: 'assign', ip: nextIp(defaultIp, used), source: 'picked' }
}

/** One line for the operator about a decision. */
export function describeDecision(d: DhcpDecision, self?: string): string {
  switch (d.action) {
    case 'wait':
      if (d.reason === 'alone') {
        return `waiting for another live node: EdgeVPN's DHCP assigns addresses only with at least 2 nodes alive (healthcheck within 15 min), ${d.alive} seen`
      }
      if (d.reason === 'nobody-waiting') return `waiting for this bridge's healthcheck to reach the ledger (${d.alive} live nodes, all with addresses)`
      return `${d.leader === self ? 'this bridge' : d.leader} leads the DHCP round (${d.waiting} node(s) without an address); waiting for it to take an address`
    case 'claim':
      return `this bridge leads the DHCP round (${d.waiting} node(s) without an address): announcing dhcp/leader`
    case 'backoff':
      return `${d.holder} holds dhcp/leader; backing off`
    case 'assign':
      return d.source === 'ledger' ? `machines already lists ${d.ip} for this bridge; taking it again` : `took ${d.ip} (highest address in machines + 1)`
  }
}

// ------------------------------------------------------------------ negotiation

/** What negotiate() needs from a peer (EdgePeer has it; the ledger object may be replaced while running). */
export interface DhcpPeer {
  readonly id: string
  readonly ledger: {
    currentData(): Record<string, Record<string, string>>
    put(bucket: string, key: string, value: unknown): boolean
  }
  announce(): Promise<unknown>
}

export interface NegotiateOptions {
  peer: DhcpPeer
  /** The address taken when `machines` is empty (the bridge's --address, without prefix). */
  defaultIp: string
  /** Milliseconds between rounds (default 5000, as EdgeVPN). */
  intervalMs?: number
  /** Give up after this many milliseconds (undefined or 0: never). */
  timeoutMs?: number
  signal?: AbortSignal
  windowSeconds?: number
  now?: () => Date
  /** Called with a line whenever the state changes. */
  log?: (msg: string) => void
}

export interface NegotiatedAddress {
  ip: string
  source: 'picked' | 'ledger'
}

/** Thrown when negotiate() is aborted through its signal. */
export class DhcpAborted extends Error {
  constructor() {
    super('DHCP negotiation stopped')
    this.name = 'DhcpAborted'
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DhcpAborted())
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new DhcpAborted())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Runs EdgeVPN's DHCP rounds until this peer may take an address, and
 * returns it. The caller writes the lease and announces the address. Rounds
 * start after one interval, as in EdgeVPN (the ledger syncs meanwhile).
 * Throws DhcpAborted when the signal fires, a UserError on timeout.
 */
export async function negotiate(opts: NegotiateOptions): Promise<NegotiatedAddress> {
  const interval = opts.intervalMs ?? DHCP_INTERVAL_MS
  const started = Date.now()
  const deadline = opts.timeoutMs ? started + opts.timeoutMs : Infinity
  const { peer } = opts
  let said = ''
  let last: DhcpDecision | undefined
  let extra = 0
  for (;;) {
    await pause(Math.max(0, Math.min(interval + extra, deadline - Date.now())), opts.signal)
    extra = 0
    const d = dhcpStep(peer.ledger.currentData(), peer.id, opts.defaultIp, opts.now?.() ?? new Date(), opts.windowSeconds)
    last = d
    const line = describeDecision(d, peer.id)
    if (line !== said) {
      opts.log?.(`DHCP: ${line}`)
      said = line
    }
    if (d.action === 'assign') return { ip: d.ip, source: d.source }
    if (d.action === 'claim') {
      peer.ledger.put(DHCP_BUCKET, DHCP_LEADER_KEY, peer.id)
      void peer.announce()
    }
    if (d.action === 'backoff') extra = interval
    if (Date.now() >= deadline) {
      const seconds = Math.round((Date.now() - started) / 1000)
      const alone = last.action === 'wait' && last.reason === 'alone'
      throw new UserError(`no VPN address from DHCP within ${seconds}s: ${describeDecision(last, peer.id)}`, {
        hint: alone
          ? 'start the bridge once another node of the network is up, wait longer (--dhcp-timeout), or pass a fixed --address without --dhcp'
          : 'wait longer (--dhcp-timeout 0 waits as long as the bridge runs)',
      })
    }
  }
}
