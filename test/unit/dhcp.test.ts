/**
 * EdgeVPN's DHCP: leader choice, next address, lease files, one round of the
 * agreement and the negotiation loop. Expected hashes, leaders and addresses
 * were computed with Go (hash/fnv, net.ParseIP/String, crypto/md5) following
 * edgevpn v0.35.3's pkg/utils/leader.go, pkg/utils/ip.go (iplib v1.0.8's
 * ByIP and NextIP) and pkg/vpn/dhcp.go.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ExitCode, UserError } from '../../src/errors.js'
import { healthcheckTime } from '../../src/ledger/go-time.js'
import { generateToken, parseToken, tokenYaml } from '../../src/token/token.js'
import { DhcpAborted, dhcpLeader, dhcpStep, fnv1a32, formatIp, leaseFileName, negotiate, nextIp, parseIp, readLease, writeLease, type DhcpPeer } from '../../src/vpn/dhcp.js'

const ID_A = '12D3KooWJrhDAK3HpmyMYDgnUV2yrWDmvXWw4Sf7K6ZyEwd1omTX' // fnv 1169895678
const ID_B = '12D3KooWHdFr2pk4iy7FU4n5gsmnFuHsbkQnQgXFVK9bEJZPb4Bq' // fnv 2220493448
const ID_C = '12D3KooWQ6xtN4SUFcfD1pEBTuMd6zeYrcHgEqxGoXCN5Tu3pvDq' // fnv 1289040366
const ID_D = '12D3KooWA1u8GjFtSj7bk4rVbUjnPBvHTwBqzB2n8rTb3tqkx6Zc' // fnv 1778216499

describe('FNV leader (utils.Leader)', () => {
  test('FNV-1a 32 matches Go hash/fnv', () => {
    const cases: [string, number][] = [
      ['', 2166136261],
      ['a', 3826002220],
      ['foobar', 3214735720],
      ['é', 513665217],
      ['12D3KooW', 876661251],
      [ID_A, 1169895678],
      [ID_B, 2220493448],
      [ID_C, 1289040366],
      [ID_D, 1778216499],
      ['QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', 2209214729],
    ]
    for (const [text, hash] of cases) assert.equal(fnv1a32(text), hash, text)
  })

  test('the highest hash leads; on equal hashes the earlier one (as Go)', () => {
    assert.equal(dhcpLeader([ID_A, ID_B, ID_C, ID_D]), ID_B)
    assert.equal(dhcpLeader([ID_A, ID_B]), ID_B)
    assert.equal(dhcpLeader([ID_C, ID_D]), ID_D)
    assert.equal(dhcpLeader([ID_A]), ID_A)
    assert.equal(dhcpLeader([]), undefined)
    // node-522789 and node-739192 share the FNV-1a hash 3593787339.
    assert.equal(dhcpLeader(['node-522789', 'node-739192']), 'node-522789')
    assert.equal(dhcpLeader(['node-739192', 'node-522789']), 'node-739192')
    assert.equal(dhcpLeader(['foobar', 'node-739192', 'node-522789']), 'node-739192')
    assert.equal(dhcpLeader(['node-739192', 'a', 'node-522789']), 'a')
  })
})

describe('NextIP', () => {
  test('highest address in use + 1, default when none (values from Go)', () => {
    const cases: [string[], string][] = [
      [[], '10.1.0.254'],
      [['10.1.0.1'], '10.1.0.2'],
      [['10.1.0.1', '10.1.0.254'], '10.1.0.255'],
      [['10.1.0.254', '10.1.0.255'], '10.1.1.0'],
      [['10.1.0.255'], '10.1.1.0'],
      // numeric order, not text order, and not the first free address
      [['10.1.0.9', '10.1.0.10', '10.1.0.2'], '10.1.0.11'],
      [['10.2.0.1', '10.10.0.1', '9.255.255.255'], '10.10.0.2'],
      // the last address does not wrap
      [['255.255.255.255'], '255.255.255.255'],
      // unparsable entries sort first in Go: they never win
      [['', '10.1.0.3', 'bogus', '010.1.0.9'], '10.1.0.4'],
      [['::ffff:10.1.0.7', '10.1.0.5'], '10.1.0.8'],
      // IPv6 sorts by its 16 bytes: ::1 below every IPv4-mapped address, fd00:: above
      [['10.1.0.3', '::1'], '10.1.0.4'],
      [['10.1.0.3', 'fd00::1'], 'fd00::2'],
      [['fd00::ffff'], 'fd00::1:0'],
      [['fd00::1:ffff:ffff'], 'fd00::2:0:0'],
    ]
    for (const [used, next] of cases) assert.equal(nextIp('10.1.0.254', used), next, JSON.stringify(used))
  })

  test('the sequence after a bridge at 10.1.0.254: .255, then 10.1.1.0', () => {
    const used = ['10.1.0.1', '10.1.0.254']
    const first = nextIp('10.1.0.1', used)
    assert.equal(first, '10.1.0.255')
    assert.equal(nextIp('10.1.0.1', [...used, first]), '10.1.1.0')
  })

  test('only unparsable entries: the default (Go would return "<nil>")', () => {
    assert.equal(nextIp('10.1.0.254', ['', 'x']), '10.1.0.254')
  })

  test('address parsing and formatting follow Go', () => {
    assert.equal(parseIp('010.1.0.1'), undefined)
    assert.equal(parseIp('fe80::1%eth0'), undefined)
    assert.equal(parseIp('10.1.0.1 '), undefined)
    assert.equal(formatIp(parseIp('::ffff:10.1.0.7')!), '10.1.0.7')
    assert.equal(formatIp(parseIp('::1.2.3.4')!), '::102:304')
    assert.equal(formatIp(parseIp('FD00:0:0:0:0:0:0:1')!), 'fd00::1')
    assert.equal(formatIp(parseIp('::')!), '::')
  })
})

describe('lease file', () => {
  const withKey = (key: string) => {
    const t = generateToken()
    return parseToken(Buffer.from(tokenYaml({ ...t, otp: { ...t.otp, crypto: { ...t.otp.crypto, key } } })).toString('base64'))
  }

  test("named MD5hex(<otp.crypto.key>-ek), like EdgeVPN's", () => {
    // Values from Go: crypto/md5 over "<key>-ek".
    assert.equal(leaseFileName(withKey('abc')), '9a035aeb44b2a41ce385a057aa1d2e4e')
    assert.equal(leaseFileName(withKey('6rF3mQpZy2vXcW8nLk0sHd4TgJ7bYe1uAi9oRq5tNfM')), '389c5ba5b800f2e706454f41b5c16468')
  })

  test('written as the bare address (0600 in a 0700 directory), read back, reused', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'kctl-lease-'))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    const dir = join(root, 'leases')
    const token = withKey('abc')
    assert.equal(readLease(dir, token), undefined, 'no directory yet: no lease')
    const path = writeLease(dir, token, '10.1.0.6')
    assert.equal(path, join(dir, '9a035aeb44b2a41ce385a057aa1d2e4e'))
    assert.equal(readFileSync(path, 'utf8'), '10.1.0.6')
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    assert.equal(readLease(dir, token), '10.1.0.6')
    assert.equal(readLease(dir, withKey('abd')), undefined, 'another network has its own lease')
    writeLease(dir, token, '10.1.0.7')
    assert.equal(readLease(dir, token), '10.1.0.7', 'replaced')
  })

  test('a lease written by hand or by Go: whitespace ignored, empty means none, garbage is an error', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kctl-lease-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const token = withKey('abc')
    const path = join(dir, leaseFileName(token))
    writeFileSync(path, '10.1.0.9\n')
    assert.equal(readLease(dir, token), '10.1.0.9')
    writeFileSync(path, '')
    assert.equal(readLease(dir, token), undefined)
    writeFileSync(path, '10.1.0.9/24')
    assert.throws(
      () => readLease(dir, token),
      (err: unknown) => err instanceof UserError && err.exitCode === ExitCode.Failure && /holds "10\.1\.0\.9\/24", not an IPv4 address: delete the file/.test(err.line()),
    )
    rmSync(path)
    mkdirSync(path)
    assert.throws(
      () => readLease(dir, token),
      (err: unknown) => err instanceof UserError && /cannot read the DHCP lease .*EISDIR/.test(err.line()),
    )
  })
})

describe('one DHCP round (dhcpStep)', () => {
  const now = new Date('2025-06-01T12:00:00Z')
  const fresh = JSON.stringify(healthcheckTime(new Date(now.getTime() - 60_000)))
  const stale = JSON.stringify(healthcheckTime(new Date(now.getTime() - 16 * 60_000)))
  const machine = (id: string, address: string) => JSON.stringify({ PeerID: id, Hostname: 'h', OS: 'linux', Arch: 'amd64', Address: address, Version: 'v' })
  const health = (...ids: string[]) => Object.fromEntries(ids.map((id) => [id, fresh]))

  test('alone, or only stale others: wait (at least 2 live nodes)', () => {
    assert.deepEqual(dhcpStep({ healthcheck: health(ID_A) }, ID_A, '10.1.0.254', now), { action: 'wait', reason: 'alone', alive: 1 })
    assert.deepEqual(dhcpStep({ healthcheck: { ...health(ID_A), [ID_B]: stale } }, ID_A, '10.1.0.254', now), { action: 'wait', reason: 'alone', alive: 1 })
    assert.deepEqual(dhcpStep({}, ID_A, '10.1.0.254', now), { action: 'wait', reason: 'alone', alive: 0 })
  })

  test('the only node without an address leads: claim, then take highest + 1', () => {
    const data = { healthcheck: health(ID_A, ID_B, ID_C), machines: { '10.1.0.1': machine(ID_B, '10.1.0.1'), '10.1.0.5': machine(ID_C, '10.1.0.5') } }
    assert.deepEqual(dhcpStep(data, ID_A, '10.1.0.254', now), { action: 'claim', waiting: 1 })
    const flagged = { ...data, dhcp: { leader: JSON.stringify(ID_A) } }
    assert.deepEqual(dhcpStep(flagged, ID_A, '10.1.0.254', now), { action: 'assign', ip: '10.1.0.6', source: 'picked' })
  })

  test('no machines yet: the leader takes its own default address', () => {
    const data = { healthcheck: health(ID_A, ID_B), dhcp: { leader: JSON.stringify(ID_B) } }
    // ID_B's hash is higher: it leads and, flagged, takes its default.
    assert.deepEqual(dhcpStep(data, ID_B, '10.1.0.20', now), { action: 'assign', ip: '10.1.0.20', source: 'picked' })
    assert.deepEqual(dhcpStep(data, ID_A, '10.1.0.10', now), { action: 'wait', reason: 'not-leader', leader: ID_B, waiting: 2 })
  })

  test('Go quirks: a flag naming us wins even when the hash says otherwise; a waiting flag holder makes the hash leader back off', () => {
    const data = { healthcheck: health(ID_A, ID_B) }
    assert.deepEqual(dhcpStep({ ...data, dhcp: { leader: JSON.stringify(ID_A) } }, ID_A, '10.1.0.10', now), { action: 'assign', ip: '10.1.0.10', source: 'picked' })
    assert.deepEqual(dhcpStep({ ...data, dhcp: { leader: JSON.stringify(ID_A) } }, ID_B, '10.1.0.20', now), { action: 'backoff', holder: ID_A })
    // A flag naming a node that has an address meanwhile (or is gone) is stale: the hash leader claims.
    assert.deepEqual(dhcpStep({ ...data, dhcp: { leader: JSON.stringify(ID_C) } }, ID_B, '10.1.0.20', now), { action: 'claim', waiting: 2 })
    // A flag that is not a JSON string reads as empty.
    assert.deepEqual(dhcpStep({ ...data, dhcp: { leader: '42' } }, ID_B, '10.1.0.20', now), { action: 'claim', waiting: 2 })
  })

  test('machines values are read like Go structs (case-insensitive fields), whatever their key', () => {
    const data = {
      healthcheck: health(ID_A, ID_B),
      machines: { 'some-key': JSON.stringify({ peerid: ID_B, ADDRESS: '10.1.0.40' }), junk: '"not an object"' },
      dhcp: { leader: JSON.stringify(ID_A) },
    }
    assert.deepEqual(dhcpStep(data, ID_A, '10.1.0.254', now), { action: 'assign', ip: '10.1.0.41', source: 'picked' })
  })

  test('an address machines already lists for us is taken again (EdgeVPN would wait forever)', () => {
    const data = { healthcheck: health(ID_A), machines: { '10.1.0.7': machine(ID_A, '10.1.0.7') } }
    assert.deepEqual(dhcpStep(data, ID_A, '10.1.0.254', now), { action: 'assign', ip: '10.1.0.7', source: 'ledger' })
  })

  test('every live node has an address but ours is not in the ledger yet: wait', () => {
    const data = { healthcheck: health(ID_B, ID_C), machines: { a: machine(ID_B, '10.1.0.1'), b: machine(ID_C, '10.1.0.2') } }
    assert.deepEqual(dhcpStep(data, ID_A, '10.1.0.254', now), { action: 'wait', reason: 'nobody-waiting', alive: 2 })
  })
})

describe('negotiate', () => {
  function fakePeer(id: string, data: Record<string, Record<string, string>>): DhcpPeer & { puts: string[]; announces: number } {
    const peer = {
      id,
      puts: [] as string[],
      announces: 0,
      ledger: {
        currentData: () => data,
        put(bucket: string, key: string, value: unknown) {
          peer.puts.push(`${bucket}/${key}`)
          ;(data[bucket] ??= {})[key] = JSON.stringify(value)
          return true
        },
      },
      async announce() {
        peer.announces++
      },
    }
    return peer
  }
  const fresh = () => JSON.stringify(healthcheckTime())

  test('claims dhcp/leader, reads it back, takes the next address', async () => {
    const peer = fakePeer(ID_A, {
      healthcheck: { [ID_A]: fresh(), [ID_B]: fresh() },
      machines: { '10.1.0.1': JSON.stringify({ PeerID: ID_B, Address: '10.1.0.1' }) },
    })
    const lines: string[] = []
    const got = await negotiate({ peer, defaultIp: '10.1.0.254', intervalMs: 5, log: (l) => lines.push(l) })
    assert.deepEqual(got, { ip: '10.1.0.2', source: 'picked' })
    assert.deepEqual(peer.puts, ['dhcp/leader'])
    assert.equal(peer.announces, 1)
    assert.match(lines.join('\n'), /announcing dhcp\/leader[\s\S]*took 10\.1\.0\.2/)
  })

  test('alone: a one-line timeout error that says why and what to do', async () => {
    const peer = fakePeer(ID_A, { healthcheck: { [ID_A]: fresh() } })
    const lines: string[] = []
    const started = Date.now()
    await assert.rejects(
      negotiate({ peer, defaultIp: '10.1.0.254', intervalMs: 20, timeoutMs: 100, log: (l) => lines.push(l) }),
      (err: unknown) =>
        err instanceof UserError &&
        err.exitCode === ExitCode.Failure &&
        /^no VPN address from DHCP within \d+s: waiting for another live node: .*at least 2 nodes alive.*1 seen: start the bridge once another node/.test(err.line()) &&
        !err.line().includes('\n'),
    )
    assert.ok(Date.now() - started < 2_000)
    assert.equal(lines.length, 1, 'the waiting state is logged once, not every round')
  })

  test('aborting stops the wait', async () => {
    const peer = fakePeer(ID_A, { healthcheck: { [ID_A]: fresh() } })
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 30)
    await assert.rejects(negotiate({ peer, defaultIp: '10.1.0.254', intervalMs: 10, signal: ac.signal }), DhcpAborted)
  })
})
