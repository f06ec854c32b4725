/**
 * The Kairos layer without a network: the shared `kairos` vectors, every way
 * get-kubeconfig can fail (with its message), role listing and validation,
 * context renaming, and waiting for a kubeconfig on an in-memory ledger.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parse as parseYaml } from 'yaml'
import type { LedgerAccess, LedgerData, WriteOptions } from '../../src/ledger-access/types.js'
import { ExitCode, UsageError, UserError } from '../../src/errors.js'
import { encodeKubeconfig, extractKubeconfig, getKubeconfigOutput, KubeconfigError, renameContext, rewriteKubeconfig, waitForKubeconfig, type KubeconfigProblem } from '../../src/kairos/kubeconfig.js'
import { advertisementValue, decodeString, decodeValue, encodeDataText, encodePaddedUrlBase64, encodeValue, goTimeText, keys } from '../../src/kairos/layout.js'
import { ADVERTISE_FRESHNESS_MS, KNOWN_ROLES, listRoles, setRole, validateRole } from '../../src/kairos/roles.js'
import { noVectors, vectors } from '../helpers/vectors.js'

interface KairosVectors {
  bucket: string
  entries: { key: string; go_value: unknown; put_path: string; ledger_data_text: string; api_get_body: string }[]
  kubeconfig_plain: string
  get_kubeconfig_output: string
}

const NET = 'kairos'

/** A k3s-shaped kubeconfig (what /etc/rancher/k3s/k3s.yaml looks like). */
const K3S_YAML = [
  'apiVersion: v1',
  'clusters:',
  '- cluster:',
  '    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==',
  '    server: https://127.0.0.1:6443',
  '  name: default',
  'contexts:',
  '- context:',
  '    cluster: default',
  '    user: default',
  '  name: default',
  'current-context: default',
  'kind: Config',
  'preferences: {}',
  'users:',
  '- name: default',
  '  user:',
  '    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==',
  '    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCg==',
  '',
].join('\n')

/** The ledger a Kairos master leaves: its IP and its kubeconfig, stored as the Go client stores them. */
function clusterData(opts: { ip?: string | null; kubeconfig?: string | null; extra?: Record<string, string> } = {}): LedgerData {
  const bucket: Record<string, string> = { ...(opts.extra ?? {}) }
  const ip = opts.ip === undefined ? '10.1.0.3' : opts.ip
  const kc = opts.kubeconfig === undefined ? K3S_YAML : opts.kubeconfig
  if (ip !== null) bucket[keys.masterIp] = encodeDataText(ip)
  if (kc !== null) bucket[keys.kubeconfig] = encodeDataText(encodeKubeconfig(kc))
  return { [NET]: bucket }
}

/** Asserts extractKubeconfig fails with this problem, message (exact string or pattern), and optional key/layer. */
function expectProblem(data: LedgerData, problem: KubeconfigProblem, message: string | RegExp, extra: { key?: string; layer?: string; hint?: string | RegExp } = {}): KubeconfigError {
  let caught: KubeconfigError | undefined
  assert.throws(
    () => extractKubeconfig(data, NET),
    (err: unknown) => {
      assert.ok(err instanceof KubeconfigError, `expected a KubeconfigError, got ${String(err)}`)
      caught = err
      return true
    },
  )
  const err = caught!
  assert.equal(err.problem, problem, err.message)
  if (typeof message === 'string') assert.equal(err.message, message)
  else assert.match(err.message, message)
  if ('key' in extra) assert.equal(err.key, extra.key)
  if ('layer' in extra) assert.equal(err.layer, extra.layer)
  if (typeof extra.hint === 'string') assert.equal(err.hint, extra.hint)
  else if (extra.hint) assert.match(err.hint ?? '', extra.hint)
  // Everything is an operator error (exit 1), never an internal error.
  assert.ok(err instanceof UserError)
  assert.equal(err.exitCode, ExitCode.Failure)
  return err
}

// ---------------------------------------------------------------------------

describe('kairos vectors', { skip: noVectors }, () => {
  const v = vectors?.kairos as KairosVectors
  const entry = (k: string) => v.entries.find((e) => e.key === k)!

  test('encodeValue stored as a JSON string is the ledger Data text of every vector entry', () => {
    assert.ok(v.entries.length >= 5)
    for (const e of v.entries) {
      const stored = JSON.stringify(encodeValue(e.go_value))
      assert.equal(stored, e.ledger_data_text, e.key)
      // The PUT path the Go client sends carries exactly that segment, unescaped.
      assert.equal(e.put_path, `/api/ledger/${v.bucket}/${e.key}/${encodeValue(e.go_value)}`, e.key)
    }
  })

  test('decodeValue reverses the chain for every entry', () => {
    for (const e of v.entries) {
      assert.deepEqual(decodeValue(e.ledger_data_text), e.go_value, e.key)
      // The API's GET body is the Data text as a JSON string.
      assert.deepEqual(decodeValue(JSON.parse(e.api_get_body) as string), e.go_value, e.key)
    }
  })

  test('the vector kubeconfig rewrites byte for byte to the Go output minus its Println newline', () => {
    const ip = decodeString(entry(keys.masterIp).ledger_data_text)
    const stored = decodeString(entry(keys.kubeconfig).ledger_data_text)
    const rewritten = rewriteKubeconfig(stored, ip)
    assert.equal(rewritten, v.get_kubeconfig_output.slice(0, -1))
    assert.equal(getKubeconfigOutput(rewritten), v.get_kubeconfig_output)
  })

  test('extractKubeconfig: the vector document (a clusters-only fragment) is refused as invalid', () => {
    // The Go tool would print the fragment; kairosctl refuses a kubeconfig that kubectl cannot use.
    const data: LedgerData = { [v.bucket]: Object.fromEntries(v.entries.map((e) => [e.key, e.ledger_data_text])) }
    expectProblem(data, 'invalid', 'the published kubeconfig is not a valid kubeconfig: it has no contexts, no users')
  })

  test('extractKubeconfig: the vector document completed with a context and user comes out byte for byte', () => {
    const rest = [
      'contexts:',
      '- context:',
      '    cluster: default',
      '    user: default',
      '  name: default',
      'current-context: default',
      'users:',
      '- name: default',
      '  user:',
      '    token: abc',
      '',
    ].join('\n')
    assert.ok(!rest.includes('127.0.0.1'))
    const full = v.kubeconfig_plain + rest
    const ip = entry(keys.masterIp).go_value as string
    const data: LedgerData = {
      [v.bucket]: {
        ...Object.fromEntries(v.entries.map((e) => [e.key, e.ledger_data_text])),
        [keys.kubeconfig]: encodeDataText(encodeKubeconfig(full)),
      },
    }
    const got = extractKubeconfig(data, v.bucket)
    assert.equal(got.masterIp, ip)
    // The vector's output (its Println newline dropped), then the added part, then the command's newline.
    assert.equal(getKubeconfigOutput(got.kubeconfig), v.get_kubeconfig_output.slice(0, -1) + rest + '\n')
  })
})

// ---------------------------------------------------------------------------

describe('extractKubeconfig', () => {
  test('a k3s kubeconfig: every 127.0.0.1 becomes the master IP, nothing else changes', () => {
    const got = extractKubeconfig(clusterData(), NET)
    assert.equal(got.masterIp, '10.1.0.3')
    assert.equal(got.kubeconfig, K3S_YAML.replace('https://127.0.0.1:6443', 'https://10.1.0.3:6443'))
    assert.equal(getKubeconfigOutput(got.kubeconfig), got.kubeconfig + '\n')
  })

  test('replaces like strings.ReplaceAll (127.0.0.10 too) and accepts an IPv6 master', () => {
    const kc = K3S_YAML.replace('https://127.0.0.1:6443', 'https://127.0.0.1:6443\n    # also 127.0.0.10 and 127.0.0.1')
    const got = extractKubeconfig(clusterData({ kubeconfig: kc }), NET)
    assert.match(got.kubeconfig, /# also 10\.1\.0\.30 and 10\.1\.0\.3\n/)
    assert.equal(extractKubeconfig(clusterData({ ip: 'fd00::1' }), NET).masterIp, 'fd00::1')
  })

  test('no bucket: an empty ledger, an empty bucket, or only other buckets', () => {
    expectProblem({}, 'no-bucket', 'the ledger has no Kairos data for network id "kairos"', {
      hint: 'no Kairos node has published anything on this network yet',
    })
    expectProblem({ [NET]: {} }, 'no-bucket', 'the ledger has no Kairos data for network id "kairos"')
    // EdgeVPN's own buckets are not suggested; other buckets are (a wrong --network-id).
    expectProblem({ healthcheck: { p: '"x"' }, machines: { m: '{}' }, zeta: { a: '"x"' }, mycluster: { b: '"y"' } }, 'no-bucket', /no Kairos data for network id "kairos"$/, {
      hint: 'buckets present: mycluster, zeta (is the network id one of them?)',
    })
  })

  test('no ip-master: no master elected yet, or the kubeconfig came first', () => {
    const ad = { [keys.advertisement('n1')]: encodeDataText(advertisementValue(new Date())) }
    expectProblem(clusterData({ ip: null, kubeconfig: null, extra: ad }), 'no-master', 'no master elected yet in network "kairos" (neither ip-master nor master-kubeconfig is in the ledger)', {
      key: keys.masterIp,
      hint: /--wait/,
    })
    expectProblem(clusterData({ ip: null }), 'no-master', 'the master has published its kubeconfig but not its IP yet (ip-master is not in the ledger)', { key: keys.masterIp })
  })

  test('no kubeconfig: the master is known but k3s is not up yet', () => {
    expectProblem(clusterData({ kubeconfig: null }), 'no-kubeconfig', 'master 10.1.0.3 has not published its kubeconfig yet (master-kubeconfig is not in the ledger)', {
      key: keys.kubeconfig,
    })
  })

  test('an empty master IP, and one that is not an IP', () => {
    expectProblem(clusterData({ ip: '' }), 'empty-master-ip', 'the master published an empty IP (ip-master is ""; its edgevpn0 interface had no address yet)', { key: keys.masterIp })
    expectProblem(clusterData({ ip: 'master.local' }), 'undecodable', 'ip-master holds "master.local", which is not an IP address', { key: keys.masterIp })
  })

  for (const key of [keys.masterIp, keys.kubeconfig]) {
    test(`undecodable ${key} at each layer of the chain`, () => {
      const broken = (dataText: string): LedgerData => {
        const d = clusterData()
        d[NET][key] = dataText
        return d
      }
      // Ledger text layer: not JSON, or JSON that is not a string.
      expectProblem(broken('not json'), 'undecodable', new RegExp(`^${key} cannot be decoded \\(ledger text layer\\): the stored text is not JSON`), { key, layer: 'ledger text' })
      expectProblem(broken('{"a":1}'), 'undecodable', `${key} cannot be decoded (ledger text layer): the stored value is an object, not the base64 string a Kairos client stores`, {
        key,
        layer: 'ledger text',
      })
      // Base64 layer: stored without the Go client's encoding (plain, unpadded, standard alphabet).
      expectProblem(broken('"10.1.0.3"'), 'undecodable', `${key} cannot be decoded (base64 layer): "10.1.0.3" is not padded URL-alphabet base64`, { key, layer: 'base64' })
      expectProblem(broken('"IjEwLjEuMC4zIg"'), 'undecodable', /\(base64 layer\): "IjEwLjEuMC4zIg" is not padded/, { key, layer: 'base64' })
      expectProblem(broken('"Im1+c3RlciI="'), 'undecodable', /\(base64 layer\)/, { key, layer: 'base64' })
      // Value JSON layer: base64 of something that is not JSON, not UTF-8, or not a string.
      expectProblem(
        broken(JSON.stringify(encodePaddedUrlBase64('10.1.0.3'))),
        'undecodable',
        new RegExp(`^${key} cannot be decoded \\(value JSON layer\\): the decoded text "10\\.1\\.0\\.3" is not JSON \\(`),
        { key, layer: 'value JSON' },
      )
      expectProblem(broken(JSON.stringify(encodePaddedUrlBase64(Buffer.from([0xff, 0xfe])))), 'undecodable', `${key} cannot be decoded (value JSON layer): the decoded bytes are not UTF-8 text`, {
        key,
        layer: 'value JSON',
      })
      expectProblem(broken(encodeDataText({ Time: 'x' })), 'undecodable', `${key} cannot be decoded (value JSON layer): the value is an object, not a string`, { key, layer: 'value JSON' })
    })
  }

  test('undecodable master-kubeconfig at the inner (RawURL base64) layer', () => {
    const inner = (stored: string): LedgerData => ({ [NET]: { [keys.masterIp]: encodeDataText('10.1.0.3'), [keys.kubeconfig]: encodeDataText(stored) } })
    // A document whose RawURL base64 needs padding, so the padded form differs.
    let doc = K3S_YAML
    while (encodeKubeconfig(doc).length % 4 === 0) doc += '#'
    const raw = encodeKubeconfig(doc)
    const padded = raw + '='.repeat(4 - (raw.length % 4))
    expectProblem(inner(padded), 'undecodable', 'master-kubeconfig cannot be decoded: its value has "=" padding (Kairos stores unpadded URL base64)', {
      key: keys.kubeconfig,
      layer: 'kubeconfig base64',
    })
    const standard = Buffer.from(doc + '??>>')
      .toString('base64')
      .replace(/=+$/, '')
    assert.match(standard, /[+/]/)
    expectProblem(inner(standard), 'undecodable', 'master-kubeconfig cannot be decoded: its value uses the standard (not URL) alphabet (Kairos stores unpadded URL base64)', {
      layer: 'kubeconfig base64',
    })
    // A length no base64 can have (4n+1).
    const truncated = raw.slice(0, raw.length - (raw.length % 4) + 1)
    assert.equal(truncated.length % 4, 1)
    expectProblem(inner(truncated), 'undecodable', 'master-kubeconfig cannot be decoded: its value is not URL-alphabet base64 (Kairos stores unpadded URL base64)', { layer: 'kubeconfig base64' })
    expectProblem(inner('this is yaml: not base64'), 'undecodable', /is not URL-alphabet base64/, { layer: 'kubeconfig base64' })
    expectProblem(inner(Buffer.from([0xc3, 0x28, 0x41]).toString('base64url')), 'undecodable', 'master-kubeconfig cannot be decoded: the decoded bytes are not UTF-8 text', {
      layer: 'kubeconfig base64',
    })
  })

  test('invalid kubeconfig documents', () => {
    const bad = (kc: string, message: string | RegExp) => expectProblem(clusterData({ kubeconfig: kc }), 'invalid', message)
    bad('', /^the published kubeconfig (is empty|is not a valid kubeconfig: it has no clusters, no contexts, no users)$/)
    bad('apiVersion: v1\nkind: Config\n', 'the published kubeconfig is not a valid kubeconfig: it has no clusters, no contexts, no users')
    bad('clusters: [unclosed\n', /^the published kubeconfig is not (valid YAML|a valid kubeconfig): /)
    bad(K3S_YAML.replace('current-context: default\n', ''), 'the published kubeconfig is not a valid kubeconfig: it has no current-context')
    bad(K3S_YAML.replace('current-context: default', 'current-context: other'), 'the published kubeconfig is not a valid kubeconfig: current-context "other" is not among its contexts')
    bad(K3S_YAML.replace('    cluster: default', '    cluster: nope'), 'the published kubeconfig is not a valid kubeconfig: context "default" names cluster "nope", which it does not define')
    bad(K3S_YAML.replace('    user: default', '    user: nobody'), 'the published kubeconfig is not a valid kubeconfig: context "default" names user "nobody", which it does not define')
    // Entries the kubernetes client's own parsers refuse.
    bad(K3S_YAML.replace('    server: https://127.0.0.1:6443\n', ''), 'the published kubeconfig is not a valid kubeconfig: clusters[0].cluster.server is missing')
    bad(K3S_YAML.replace('- context:\n    cluster: default\n', '- context:\n'), 'the published kubeconfig is not a valid kubeconfig: contexts[0].context.cluster is missing')
  })

  test('another network id reads its own bucket', () => {
    const d = clusterData()
    const other = { prod: d[NET] }
    assert.equal(extractKubeconfig(other, 'prod').masterIp, '10.1.0.3')
    assert.throws(
      () => extractKubeconfig(other, NET),
      (err: unknown) => err instanceof KubeconfigError && err.problem === 'no-bucket' && err.hint === 'buckets present: prod (is the network id one of them?)',
    )
  })
})

// ---------------------------------------------------------------------------

describe('listRoles', () => {
  const now = new Date(Date.UTC(2026, 7, 6, 12, 0, 0, 500))
  const ad = (at: Date, nanos = 0) => encodeDataText({ Time: goTimeText(at, nanos) })
  const ago = (ms: number) => new Date(now.getTime() - ms)

  test('freshness: an advertisement counts while Time + 15 min is strictly after now', () => {
    assert.equal(ADVERTISE_FRESHNESS_MS, 15 * 60_000)
    const data: LedgerData = {
      [NET]: {
        'exact-uuid': ad(ago(ADVERTISE_FRESHNESS_MS)), // Time + 15 min == now: gone
        'onenano-uuid': ad(ago(ADVERTISE_FRESHNESS_MS), 1), // 1 ns later: still there
        'onems-uuid': ad(ago(ADVERTISE_FRESHNESS_MS - 1)),
        'older-uuid': ad(ago(ADVERTISE_FRESHNESS_MS + 1)),
        'fresh-uuid': ad(ago(20_000)),
        'future-uuid': ad(new Date(now.getTime() + 60_000)),
      },
    }
    assert.deepEqual(
      listRoles(data, NET, now).map((n) => n.uuid),
      ['fresh', 'future', 'onems', 'onenano'],
    )
  })

  test('Go time formats: offsets and nanoseconds are honoured', () => {
    // 11:46:00.5+00:00 is exactly 14 min before now; written as 13:46:00.5+02:00 it is the same instant.
    const data: LedgerData = {
      [NET]: {
        'zoned-uuid': encodeDataText({ Time: '2026-08-06T13:46:00.5+02:00' }),
        'stale-zoned-uuid': encodeDataText({ Time: '2026-08-06T12:45:00.5+01:00' }), // 11:45:00.5Z: exactly 15 min
      },
    }
    const nodes = listRoles(data, NET, now)
    assert.deepEqual(
      nodes.map((n) => n.uuid),
      ['zoned'],
    )
    assert.equal(nodes[0].lastSeen.toISOString(), '2026-08-06T11:46:00.500Z')
  })

  test('sorted by UUID (byte order), with role and IP, "" when missing or unreadable', () => {
    const data: LedgerData = {
      [NET]: {
        'b-uuid': ad(ago(1000)),
        'b-role': encodeDataText('worker'),
        'b-ip': encodeDataText('10.1.0.2'),
        'a-uuid': ad(ago(2000)),
        'a-role': encodeDataText('master'),
        'a-ip': encodeDataText('10.1.0.1'),
        'Z-uuid': ad(ago(3000)),
        'Z-role': '"not base64!"', // unreadable: shown as no role
        '10-uuid': ad(ago(4000)),
        '9-uuid': ad(ago(5000)),
        'c-role': encodeDataText('worker'), // a role without an advertisement: not listed
        [keys.masterIp]: encodeDataText('10.1.0.1'),
      },
      other: { 'x-uuid': ad(ago(1000)) },
    }
    const nodes = listRoles(data, NET, now)
    assert.deepEqual(
      nodes.map((n) => [n.uuid, n.role, n.ip]),
      [
        ['10', '', ''],
        ['9', '', ''],
        ['Z', '', ''],
        ['a', 'master', '10.1.0.1'],
        ['b', 'worker', '10.1.0.2'],
      ],
    )
    assert.equal(nodes[3].lastSeen.getTime(), ago(2000).getTime())
    assert.deepEqual(
      listRoles(data, 'other', now).map((n) => n.uuid),
      ['x'],
    )
    assert.deepEqual(listRoles(data, 'missing', now), [])
  })

  test('unreadable advertisements are skipped', () => {
    const data: LedgerData = {
      [NET]: {
        'ok-uuid': ad(ago(1000)),
        'plain-uuid': '"2026-08-06T12:00:00Z"',
        'string-uuid': encodeDataText('2026-08-06T12:00:00Z'),
        'notime-uuid': encodeDataText({ When: goTimeText(ago(1000)) }),
        'badtime-uuid': encodeDataText({ Time: '2026-08-06 12:00:00' }),
        'numtime-uuid': encodeDataText({ Time: 1786000000 }),
      },
    }
    assert.deepEqual(
      listRoles(data, NET, now).map((n) => n.uuid),
      ['ok'],
    )
  })

  test('candidates as Go ListItems makes them: keys ending in "uuid", every "-uuid" removed', () => {
    const data: LedgerData = {
      [NET]: {
        // Key "n-uuid-uuid" yields candidate "n", which reads "n-uuid".
        'n-uuid-uuid': ad(ago(1000)),
        'n-uuid': ad(ago(1000)),
        // Ends in "uuid" without a dash: candidate "myuuid" reads "myuuid-uuid" (missing): skipped.
        myuuid: ad(ago(1000)),
      },
    }
    assert.deepEqual(
      listRoles(data, NET, now).map((n) => n.uuid),
      ['n'],
    )
  })
})

// ---------------------------------------------------------------------------

describe('validateRole', () => {
  const usage = (role: string, force: boolean, message: string | RegExp, hint?: RegExp) =>
    assert.throws(
      () => validateRole(role, force),
      (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err))
        assert.equal(err.exitCode, ExitCode.Usage)
        if (typeof message === 'string') assert.equal(err.message, message)
        else assert.match(err.message, message)
        if (hint) assert.match(err.hint ?? '', hint)
        return true
      },
    )

  test('every known role, and comma-separated lists of them', () => {
    assert.deepEqual([...KNOWN_ROLES], ['master', 'worker', 'master/ha', 'master/clusterinit'])
    for (const r of KNOWN_ROLES) {
      validateRole(r, false)
      validateRole(r, true)
    }
    validateRole('master,worker', false)
    validateRole('master/clusterinit,worker', false)
  })

  test('unknown roles need --force', () => {
    usage('manager', false, 'unknown role "manager"', /known roles: master, worker, master\/ha, master\/clusterinit \(pass --force/)
    usage('master,foo,bar', false, 'unknown role "foo", "bar"')
    usage('Master', false, 'unknown role "Master"')
    validateRole('manager', true)
    validateRole('master,foo', true)
  })

  test('auto and the empty role need --force', () => {
    usage('auto', false, '"auto" is not an assignable role', /--force/)
    usage('worker,auto', false, '"auto" is not an assignable role')
    validateRole('auto', true)
    usage('', false, 'the role is empty', /un-assigns the node.*--force/)
    validateRole('', true)
  })

  test('roles no node could parse are refused even with --force', () => {
    for (const force of [false, true]) {
      usage('master,,worker', force, 'role "master,,worker" has an empty part')
      usage('master,', force, 'role "master," has an empty part')
      usage(',', force, 'role "," has an empty part')
      usage('master, worker', force, 'role "master, worker" has spaces around "worker"', /does not trim/)
      usage(' master', force, 'role " master" has spaces around "master"')
    }
  })
})

// ---------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any -- these tests walk the parsed kubeconfig YAML */
describe('renameContext', () => {
  test('renames the context, its cluster and its user, and points current-context at it', () => {
    const out = renameContext(K3S_YAML, 'kairos')
    const doc = parseYaml(out) as Record<string, any>
    assert.equal(doc['current-context'], 'kairos')
    assert.deepEqual(
      doc.clusters.map((c: any) => c.name),
      ['kairos'],
    )
    assert.deepEqual(
      doc.users.map((u: any) => u.name),
      ['kairos'],
    )
    assert.deepEqual(doc.contexts, [{ context: { cluster: 'kairos', user: 'kairos' }, name: 'kairos' }])
    // Everything else is kept as it was, in order.
    assert.equal(doc.clusters[0].cluster.server, 'https://127.0.0.1:6443')
    assert.equal(doc.users[0].user['client-key-data'], 'LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCg==')
    assert.deepEqual(Object.keys(doc), ['apiVersion', 'clusters', 'contexts', 'current-context', 'kind', 'preferences', 'users'])
    // Only names change: the text is the input with "default" renamed.
    assert.equal(out, K3S_YAML.replaceAll('default', 'kairos'))
  })

  test('renaming to the current name changes nothing', () => {
    assert.equal(renameContext(K3S_YAML, 'default'), K3S_YAML)
  })

  test('other entries are kept; contexts sharing the cluster follow it', () => {
    const multi = K3S_YAML.replace('current-context: default', 'current-context: default')
      .replace('contexts:\n', 'contexts:\n- context:\n    cluster: default\n    user: admin\n  name: admin@default\n')
      .replace('users:\n', 'users:\n- name: admin\n  user:\n    token: t\n')
    const doc = parseYaml(renameContext(multi, 'edge')) as Record<string, any>
    assert.deepEqual(
      doc.contexts.map((c: any) => [c.name, c.context.cluster, c.context.user]),
      [
        ['admin@default', 'edge', 'admin'],
        ['edge', 'edge', 'edge'],
      ],
    )
    assert.deepEqual(
      doc.users.map((u: any) => u.name),
      ['admin', 'edge'],
    )
  })

  test('refuses a name that another entry already has, and blank names', () => {
    const multi = K3S_YAML.replace('users:\n', 'users:\n- name: taken\n  user:\n    token: t\n')
    assert.throws(
      () => renameContext(multi, 'taken'),
      (err: unknown) => err instanceof UsageError && err.message === 'the kubeconfig already has a user named "taken"',
    )
    assert.throws(
      () => renameContext(K3S_YAML, ''),
      (err: unknown) => err instanceof UsageError && err.message === 'invalid context name ""',
    )
    assert.throws(() => renameContext(K3S_YAML, 'a\nb'), UsageError)
  })

  test('refuses an invalid kubeconfig', () => {
    assert.throws(
      () => renameContext('apiVersion: v1\n', 'x'),
      (err: unknown) => err instanceof KubeconfigError && err.problem === 'invalid',
    )
  })
})
/* eslint-enable @typescript-eslint/no-explicit-any */

// ---------------------------------------------------------------------------

/** An in-memory LedgerAccess: writes notify watchers at once, like a peer's ledger. */
class FakeLedger implements LedgerAccess {
  readonly puts: { bucket: string; key: string; value: string; opts?: WriteOptions }[] = []
  private readonly watchers = new Set<(d: LedgerData) => void>()
  watchCalls = 0
  constructor(private readonly state: LedgerData = {}) {}

  describe(): string {
    return 'fake ledger'
  }
  private snapshot(): LedgerData {
    return Object.fromEntries(Object.entries(this.state).map(([b, kv]) => [b, { ...kv }]))
  }
  async data(): Promise<LedgerData> {
    return this.snapshot()
  }
  async get(bucket: string, key: string): Promise<string | undefined> {
    return this.state[bucket]?.[key]
  }
  /** Stores a Data text directly (as a peer receiving a block would) and notifies watchers. */
  setText(bucket: string, key: string, dataText: string): void {
    ;(this.state[bucket] ??= {})[key] = dataText
    const snap = this.snapshot()
    for (const w of this.watchers) w(snap)
  }
  async put(bucket: string, key: string, value: string, opts?: WriteOptions): Promise<void> {
    this.puts.push({ bucket, key, value, opts })
    this.setText(bucket, key, JSON.stringify(value))
  }
  async delete(bucket: string, key?: string): Promise<void> {
    if (key === undefined) delete this.state[bucket]
    else delete this.state[bucket]?.[key]
  }
  async watch(onChange: (data: LedgerData) => void, signal: AbortSignal): Promise<void> {
    this.watchCalls++
    if (signal.aborted) return
    this.watchers.add(onChange)
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
    this.watchers.delete(onChange)
  }
  async close(): Promise<void> {}
  get watching(): number {
    return this.watchers.size
  }
}

describe('waitForKubeconfig', () => {
  const expected = K3S_YAML.replace('127.0.0.1', '10.1.0.3')

  test('already there: resolves at once without watching', async () => {
    const fake = new FakeLedger(clusterData())
    const got = await waitForKubeconfig(fake, NET, { timeoutMs: 1000 })
    assert.deepEqual(got, { kubeconfig: expected, masterIp: '10.1.0.3' })
    assert.equal(fake.watchCalls, 0)
  })

  test('published later: resolves when the kubeconfig arrives, reporting each missing piece once', async () => {
    const fake = new FakeLedger()
    const progress: string[] = []
    const started = Date.now()
    const pending = waitForKubeconfig(fake, NET, { timeoutMs: 10_000, onProgress: (s) => progress.push(s) })
    setTimeout(() => fake.setText(NET, keys.advertisement('n1'), encodeDataText(advertisementValue(new Date()))), 50)
    setTimeout(() => fake.setText(NET, keys.advertisement('n2'), encodeDataText(advertisementValue(new Date()))), 80)
    setTimeout(() => fake.setText(NET, keys.masterIp, encodeDataText('10.1.0.3')), 120)
    setTimeout(() => fake.setText(NET, keys.kubeconfig, encodeDataText(encodeKubeconfig(K3S_YAML))), 200)
    const got = await pending
    assert.equal(got.kubeconfig, expected)
    assert.ok(Date.now() - started < 5000)
    assert.deepEqual(progress, [
      'waiting: the ledger has no Kairos data for network id "kairos"',
      'waiting: no master elected yet in network "kairos" (neither ip-master nor master-kubeconfig is in the ledger)',
      'waiting: master 10.1.0.3 has not published its kubeconfig yet (master-kubeconfig is not in the ledger)',
    ])
    assert.equal(fake.watching, 0, 'the watch ended')
  })

  test('an empty master IP is waited for, then replaced', async () => {
    const fake = new FakeLedger(clusterData({ ip: '' }))
    const pending = waitForKubeconfig(fake, NET, { timeoutMs: 10_000 })
    setTimeout(() => fake.setText(NET, keys.masterIp, encodeDataText('10.1.0.9')), 50)
    assert.equal((await pending).masterIp, '10.1.0.9')
  })

  test('never published: times out with a message naming what is missing', async () => {
    const fake = new FakeLedger(clusterData({ kubeconfig: null }))
    const started = Date.now()
    await assert.rejects(waitForKubeconfig(fake, NET, { timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof UserError && !(err instanceof KubeconfigError), String(err))
      assert.equal(err.message, 'timed out after 300ms waiting for the kubeconfig: master 10.1.0.3 has not published its kubeconfig yet (master-kubeconfig is not in the ledger)')
      assert.match(err.hint ?? '', /--timeout/)
      assert.equal(err.exitCode, ExitCode.Failure)
      return true
    })
    assert.ok(Date.now() - started < 3000)
    assert.equal(fake.watching, 0)
  })

  test('what is left of a longer wait: the timeout reports the whole wait', async () => {
    const fake = new FakeLedger(clusterData({ kubeconfig: null }))
    const started = Date.now()
    await assert.rejects(waitForKubeconfig(fake, NET, { timeoutMs: 100, startedAt: started - 29_900 }), {
      message: /^timed out after 30s waiting for the kubeconfig: /,
    })
    assert.ok(Date.now() - started < 3000, 'only the remaining 100 ms were waited')
  })

  test('never any master: the timeout says no master is elected', async () => {
    const fake = new FakeLedger({ [NET]: { [keys.advertisement('n1')]: encodeDataText(advertisementValue(new Date())) } })
    await assert.rejects(waitForKubeconfig(fake, NET, { timeoutMs: 1000 }), {
      message: 'timed out after 1s waiting for the kubeconfig: no master elected yet in network "kairos" (neither ip-master nor master-kubeconfig is in the ledger)',
    })
  })

  test('an empty network: the timeout keeps the hint about other buckets', async () => {
    const fake = new FakeLedger({ prod: { a: '"x"' } })
    await assert.rejects(waitForKubeconfig(fake, NET, { timeoutMs: 200 }), (err: unknown) => {
      assert.ok(err instanceof UserError)
      assert.equal(err.message, 'timed out after 200ms waiting for the kubeconfig: the ledger has no Kairos data for network id "kairos"')
      assert.equal(err.hint, 'buckets present: prod (is the network id one of them?)')
      return true
    })
  })

  test('a broken value fails at once instead of waiting', async () => {
    const fake = new FakeLedger(clusterData({ kubeconfig: null }))
    const started = Date.now()
    const pending = waitForKubeconfig(fake, NET, { timeoutMs: 10_000 })
    setTimeout(() => fake.setText(NET, keys.kubeconfig, '"not base64"'), 50)
    await assert.rejects(pending, (err: unknown) => err instanceof KubeconfigError && err.problem === 'undecodable' && err.layer === 'base64')
    assert.ok(Date.now() - started < 3000)
    const invalid = new FakeLedger(clusterData({ kubeconfig: 'apiVersion: v1\n' }))
    await assert.rejects(waitForKubeconfig(invalid, NET, { timeoutMs: 10_000 }), (err: unknown) => err instanceof KubeconfigError && err.problem === 'invalid')
    assert.equal(invalid.watchCalls, 0)
  })

  test('an abort signal stops the wait, saying what was still missing', async () => {
    const fake = new FakeLedger(clusterData({ kubeconfig: null }))
    const ac = new AbortController()
    const pending = waitForKubeconfig(fake, NET, { timeoutMs: 10_000, signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    await assert.rejects(pending, { message: 'stopped waiting for the kubeconfig: master 10.1.0.3 has not published its kubeconfig yet (master-kubeconfig is not in the ledger)' })
    assert.equal(fake.watching, 0)
  })
})

describe('setRole', () => {
  test('writes <uuid>-role as the Go client does, passing the write options on', async () => {
    const fake = new FakeLedger()
    await setRole(fake, NET, 'abc123', 'master/ha', { confirm: false, timeoutMs: 5000 })
    assert.deepEqual(fake.puts, [{ bucket: NET, key: 'abc123-role', value: encodeValue('master/ha'), opts: { confirm: false, timeoutMs: 5000 } }])
    // What Kairos nodes then read (service.Client.Get).
    assert.equal(decodeString((await fake.get(NET, 'abc123-role'))!), 'master/ha')
    assert.equal(await fake.get(NET, 'abc123-role'), '"Im1hc3Rlci9oYSI="')
  })

  test('refuses UUIDs that cannot be a key', async () => {
    const fake = new FakeLedger()
    for (const bad of ['', 'a/b', 'a b', 'a?b', 'a#b', 'a%2f']) {
      await assert.rejects(setRole(fake, NET, bad, 'worker'), UsageError, JSON.stringify(bad))
    }
    assert.equal(fake.puts.length, 0)
  })
})
