import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cellValue } from '../../src/cli/ledger-values.js'
import { decodeGoValue, prettyJson, readValue, showValue } from '../../src/ledger/readable.js'
import { encodeDataText, encodePaddedUrlBase64 } from '../../src/kairos/layout.js'

/** The Data text a JSON string of `s` is stored as. */
const str = (s: string): string => JSON.stringify(s)

describe('decodeGoValue: what counts as base64 of JSON', () => {
  test('values written by the Go client Put are decoded', () => {
    // Reference: Go base64.URLEncoding.EncodeToString(json.Marshal(v)).
    assert.deepEqual(decodeGoValue(str('IjEwLjEuMC4xIg==')), { value: '10.1.0.1' })
    assert.deepEqual(decodeGoValue(str('eyJUaW1lIjoiMjAyNi0xMi0wMVQyMTo0MjozMS4yMzVaIn0=')), { value: { Time: '2026-12-01T21:42:31.235Z' } })
    assert.deepEqual(decodeGoValue(encodeDataText(['a', 1, null])), { value: ['a', 1, null] })
    assert.deepEqual(decodeGoValue(encodeDataText('é <b> & ü')), { value: 'é <b> & ü' })
    assert.deepEqual(decodeGoValue(encodeDataText('')), { value: '' })
    // URL alphabet: json.Marshal("??>") has "/" and "+" in standard base64 but "_" and "-" here.
    assert.deepEqual(decodeGoValue(str('Ij8_PiI=')), { value: '??>' })
  })

  test('64-bit integers inside are kept exactly', () => {
    const v = decodeGoValue(str(encodePaddedUrlBase64('{"V":1786000000123456789}')))
    assert.deepEqual(v, { value: { V: 1786000000123456789n } })
  })

  test('not decoded: plain strings, non-strings, other base64 flavours, non-JSON payloads', () => {
    for (const [label, data] of [
      ['plain word (valid base64 of non-UTF-8 bytes)', str('test')],
      ['plain word of 8 letters', str('password')],
      ['empty string', str('')],
      ['IP address', str('10.1.0.1')],
      ['JSON object', '{"PeerID":"12D3KooW","Address":"10.1.0.1"}'],
      ['JSON number', '123'],
      ['not JSON at all', 'IjEwLjEuMC4xIg=='],
      ['unpadded (RawURLEncoding, as master-kubeconfig inside)', str('IjEwLjEuMC4xIg')],
      ['standard alphabet', str('Ij8/PiI=')],
      ['non-canonical trailing bits', str('IjEwLjEuMC4xIh==')],
      ['base64 of text that is not JSON', str(Buffer.from('apiVersion: v1').toString('base64url'))],
      ['base64 of JSON with surrounding spaces', str(Buffer.from(' "x" ').toString('base64url') + '==')],
      ['base64 of non-UTF-8 bytes', str(Buffer.from([0x22, 0xff, 0x22]).toString('base64url') + '=')],
    ]) {
      assert.equal(decodeGoValue(data), undefined, label)
    }
  })

  test('the ambiguous case: a plain string that happens to be base64 of JSON is decoded (marked; --raw shows it)', () => {
    assert.deepEqual(decodeGoValue(str('MTIz')), { value: 123 })
    assert.deepEqual(decodeGoValue(str('dHJ1ZQ==')), { value: true })
  })
})

describe('readValue and rendering', () => {
  test('decoded, plain and raw readings', () => {
    assert.deepEqual(readValue(str('IjEwLjEuMC4xIg==')), { value: '10.1.0.1', raw: '"IjEwLjEuMC4xIg=="', decoded: true })
    assert.deepEqual(readValue(str('IjEwLjEuMC4xIg=='), true), { value: 'IjEwLjEuMC4xIg==', raw: '"IjEwLjEuMC4xIg=="', decoded: false })
    assert.deepEqual(readValue('{"a":1}'), { value: { a: 1 }, raw: '{"a":1}', decoded: false })
    assert.deepEqual(readValue('not json'), { value: 'not json', raw: 'not json', decoded: false })
  })

  test('showValue: a string as its content, anything else indented', () => {
    assert.equal(showValue(readValue(encodeDataText('line 1\nline 2'))), 'line 1\nline 2')
    assert.equal(showValue(readValue(encodeDataText({ Time: 'x' }))), '{\n  "Time": "x"\n}')
    assert.equal(showValue(readValue('{"V":18446744073709551615}')), '{\n  "V": 18446744073709551615\n}')
  })

  test('cellValue: one line, decoded values as JSON and marked, cut only when asked', () => {
    assert.equal(cellValue(readValue(str('IjEwLjEuMC4xIg=='))), '"10.1.0.1" (decoded)')
    assert.equal(cellValue(readValue(str('a\n b'))), 'a b')
    assert.equal(cellValue(readValue('{"a": [1, 2]}')), '{"a":[1,2]}')
    const long = 'x'.repeat(100)
    assert.equal(cellValue(readValue(str(long))), long)
    assert.equal(cellValue(readValue(str(long)), 10), 'xxxxxxxxx…')
    assert.equal(cellValue(readValue(encodeDataText(long)), 10), '"xxxxxxxx… (decoded)')
  })

  test('prettyJson writes bigints as numbers, and leaves strings that look like the placeholder alone', () => {
    assert.equal(prettyJson({ a: 1n, b: '\u00000', c: [2n] }, 0), '{"a":1,"b":"\\u00000","c":[2]}')
  })
})
