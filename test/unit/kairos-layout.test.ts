import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { LedgerData } from '../../src/ledger-access/types.js'
import { encodeKubeconfig, extractKubeconfig, getKubeconfigOutput, KubeconfigError, rewriteKubeconfig } from '../../src/kairos/kubeconfig.js'
import {
  advertisementValue,
  decodeString,
  decodeValue,
  DEFAULT_NETWORK_ID,
  encodeDataText,
  encodePaddedUrlBase64,
  encodeValue,
  goTimeText,
  keys,
  LayoutError,
  parseGoTime,
  serviceKey,
} from '../../src/kairos/layout.js'
import { noVectors, vectors } from '../helpers/vectors.js'

interface KairosVectorEntry {
  key: string
  go_value: unknown
  put_path: string
  ledger_data_text: string
  legacy_wire_entry: string
  api_get_body: string
}
interface KairosVectors {
  bucket: string
  entries: KairosVectorEntry[]
  kubeconfig_plain: string
  get_kubeconfig_output: string
}

describe('kairos vectors', { skip: noVectors }, () => {
  const v = vectors?.kairos as KairosVectors
  const byKey = (k: string): KairosVectorEntry => v.entries.find((e) => e.key === k)!

  test('the bucket is the default network id', () => {
    assert.equal(v.bucket, DEFAULT_NETWORK_ID)
  })

  test('every entry: PUT path, ledger Data text, legacy wire entry and API GET body from the Go value', () => {
    assert.ok(v.entries.length >= 5)
    for (const e of v.entries) {
      const segment = encodeValue(e.go_value)
      assert.equal(`/api/ledger/${v.bucket}/${e.key}/${segment}`, e.put_path, e.key)
      assert.equal(encodeDataText(e.go_value), e.ledger_data_text, e.key)
      // LedgerAccess.put stores the segment as a JSON string: the same Data text.
      assert.equal(JSON.stringify(segment), e.ledger_data_text, e.key)
      assert.equal(JSON.stringify(e.ledger_data_text), e.legacy_wire_entry, e.key)
      assert.equal(JSON.stringify(e.ledger_data_text), e.api_get_body, e.key)
    }
  })

  test('every entry decodes back to the Go value (from Data text, wire entry and API body)', () => {
    for (const e of v.entries) {
      assert.deepEqual(decodeValue(e.ledger_data_text), e.go_value, e.key)
      assert.deepEqual(decodeValue(JSON.parse(e.legacy_wire_entry)), e.go_value, e.key)
      assert.deepEqual(decodeValue(JSON.parse(e.api_get_body)), e.go_value, e.key)
    }
  })

  test('the vector keys follow the service client scheme', () => {
    assert.equal(byKey(keys.role('UUID1')).go_value, 'master')
    assert.equal(byKey(keys.ip('UUID1')).go_value, '10.1.0.3')
    assert.ok(byKey(keys.advertisement('UUID1')))
    assert.equal(byKey(keys.masterIp).go_value, '10.1.0.3')
    assert.ok(byKey(keys.kubeconfig))
    assert.equal(serviceKey('role', 'UUID1'), 'UUID1-role')
    assert.equal(serviceKey('ip', 'master'), 'master-ip')
    assert.equal(serviceKey('master', 'ip'), keys.masterIp)
    assert.equal(serviceKey('kubeconfig', 'master'), keys.kubeconfig)
    assert.equal(serviceKey('auto', 'leader'), keys.autoLeader)
    assert.equal(serviceKey('nodetoken', 'token'), keys.nodeToken)
  })

  test('the advertisement value is what Go marshals for the vector time', () => {
    const e = byKey(keys.advertisement('UUID1'))
    const time = (e.go_value as { Time: string }).Time
    assert.equal(parseGoTime(time), 1786000000123456789n)
    assert.equal(goTimeText(new Date(1786000000123), 456789), time)
  })

  test('the kubeconfig value is RawURL base64 (no padding) of the k3s yaml', () => {
    const stored = byKey(keys.kubeconfig).go_value as string
    assert.equal(encodeKubeconfig(v.kubeconfig_plain), stored)
    assert.ok(!stored.includes('='))
    assert.equal(Buffer.from(stored, 'base64url').toString('utf8'), v.kubeconfig_plain)
  })

  test('get-kubeconfig output byte for byte (every 127.0.0.1 replaced, fmt.Println newline)', () => {
    const ip = decodeString(byKey(keys.masterIp).ledger_data_text)
    const stored = decodeString(byKey(keys.kubeconfig).ledger_data_text)
    assert.equal(getKubeconfigOutput(rewriteKubeconfig(stored, ip)), v.get_kubeconfig_output)
    assert.ok(v.get_kubeconfig_output.endsWith('\n\n'))
  })

  test('extractKubeconfig refuses the vector document: it is a fragment, not a usable kubeconfig', () => {
    const data: LedgerData = { [v.bucket]: Object.fromEntries(v.entries.map((e) => [e.key, e.ledger_data_text])) }
    assert.throws(
      () => extractKubeconfig(data, v.bucket),
      (err: unknown) => {
        assert.ok(err instanceof KubeconfigError)
        assert.equal(err.problem, 'invalid')
        assert.equal(err.message, 'the published kubeconfig is not a valid kubeconfig: it has no contexts, no users')
        return true
      },
    )
  })
})

describe('encodeValue', () => {
  test('json.Marshal then padded URL base64', () => {
    assert.equal(encodeValue('master'), 'Im1hc3RlciI=')
    assert.equal(encodeValue('10.1.0.3'), 'IjEwLjEuMC4zIg==')
    assert.equal(encodeValue(''), 'IiI=')
    assert.equal(encodeValue({ Time: '2026-08-06T07:06:40Z' }), 'eyJUaW1lIjoiMjAyNi0wOC0wNlQwNzowNjo0MFoifQ==')
  })

  test('uses the URL alphabet, never + or /', () => {
    // 0xfb 0xff in JSON text: "\u00fb\u00ff" is UTF-8 c3 bb c3 bf, giving '-' and '_' in base64url.
    const s = encodeValue('ûÿ>?')
    assert.match(s, /^[A-Za-z0-9_-]+=*$/)
    assert.equal(Buffer.from(s, 'base64url').toString('utf8'), '"ûÿ\\u003e?"')
    assert.equal(encodePaddedUrlBase64(Buffer.from([0xfb, 0xff])), '-_8=')
  })

  test('escapes <, >, &, U+2028 and U+2029 like Go', () => {
    const json = Buffer.from(encodeValue('a<b>&c\u2028\u2029'), 'base64url').toString('utf8')
    assert.equal(json, '"a\\u003cb\\u003e\\u0026c\\u2028\\u2029"')
    assert.equal(decodeValue(encodeDataText('a<b>&c\u2028\u2029')), 'a<b>&c\u2028\u2029')
  })

  test('padding for every length class', () => {
    for (const s of ['', 'a', 'ab', 'abc', 'abcd']) {
      const b64 = encodeValue(s)
      assert.equal(b64.length % 4, 0)
      assert.equal(decodeValue(JSON.stringify(b64)), s)
    }
  })

  test('advertisementValue is {Time} with Go RFC3339Nano trimming', () => {
    assert.deepEqual(advertisementValue(new Date(Date.UTC(2026, 7, 6, 7, 6, 40, 120))), { Time: '2026-08-06T07:06:40.12Z' })
    assert.deepEqual(advertisementValue(new Date(Date.UTC(2026, 7, 6, 7, 6, 40, 0))), { Time: '2026-08-06T07:06:40Z' })
    assert.equal(goTimeText(new Date(Date.UTC(2026, 7, 6, 7, 6, 40, 0)), 500), '2026-08-06T07:06:40.0000005Z')
  })
})

describe('decodeValue failures name the layer', () => {
  const layer = (text: string, expected: LayoutError['layer'], message: RegExp) =>
    assert.throws(
      () => decodeValue(text),
      (err: unknown) => {
        assert.ok(err instanceof LayoutError, String(err))
        assert.equal(err.layer, expected)
        assert.match(err.message, message)
        return true
      },
    )

  test('ledger text: not JSON, or not a string', () => {
    layer('Im1hc3RlciI=', 'ledger text', /^the stored text is not JSON/)
    layer('', 'ledger text', /^the stored text is not JSON/)
    layer('{"Time":"x"}', 'ledger text', /^the stored value is an object, not the base64 string a Kairos client stores$/)
    layer('42', 'ledger text', /is a number/)
    layer('null', 'ledger text', /is null/)
  })

  test('base64: unpadded, standard alphabet, bad length', () => {
    layer('"Im1hc3RlciI"', 'base64', /^"Im1hc3RlciI" is not padded URL-alphabet base64$/)
    layer('"Im1+c3RlciI="', 'base64', /not padded URL-alphabet base64/)
    layer('"Im1/c3RlciI="', 'base64', /not padded URL-alphabet base64/)
    layer('"abc"', 'base64', /not padded URL-alphabet base64/)
    layer('"ab=c"', 'base64', /not padded URL-alphabet base64/)
    layer('"master"', 'base64', /not padded URL-alphabet base64/)
  })

  test('value JSON: not JSON, not UTF-8', () => {
    layer(JSON.stringify(encodePaddedUrlBase64('master')), 'value JSON', /^the decoded text "master" is not JSON/)
    layer(JSON.stringify(encodePaddedUrlBase64(Buffer.from([0xff, 0xfe]))), 'value JSON', /not UTF-8/)
  })

  test('decodeString wants a string value', () => {
    assert.equal(decodeString('"Im1hc3RlciI="'), 'master')
    assert.throws(
      () => decodeString(encodeDataText({ Time: 'x' })),
      (err: unknown) => err instanceof LayoutError && err.layer === 'value JSON' && /an object, not a string/.test(err.message),
    )
  })

  test('empty string value decodes (an explicitly empty role)', () => {
    assert.equal(decodeValue('"IiI="'), '')
  })
})

describe('parseGoTime', () => {
  test('RFC3339 with and without fractions, with offsets', () => {
    assert.equal(parseGoTime('1970-01-01T00:00:00Z'), 0n)
    assert.equal(parseGoTime('1970-01-01T00:00:00.000000001Z'), 1n)
    assert.equal(parseGoTime('1970-01-01T00:00:01.5Z'), 1_500_000_000n)
    assert.equal(parseGoTime('1970-01-01T01:00:00+01:00'), 0n)
    assert.equal(parseGoTime('1969-12-31T23:00:00-01:00'), 0n)
    assert.equal(parseGoTime('1970-01-01T00:00:00.1234567891Z'), 123456789n)
  })

  test('what Go rejects', () => {
    for (const bad of [
      '',
      'now',
      '2026-02-30T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-08-06T24:00:00Z',
      '2026-08-06 07:06:40Z',
      '2026-08-06t07:06:40z',
      '2026-08-06T07:06:40',
      '2026-08-06T07:06:60Z',
    ]) {
      assert.equal(parseGoTime(bad), undefined, bad)
    }
  })
})
