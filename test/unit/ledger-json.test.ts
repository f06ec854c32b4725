import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { goCompare, goFieldKey, goFields, goJsonString, goJsonStringify, JsonError, parseJson, parseJsonMembers } from '../../src/ledger/json.js'

describe('parseJson', () => {
  test('keeps integers outside the safe range exactly, as bigint', () => {
    const v = parseJson('{"Version":1786000000123456789,"Max":18446744073709551615,"Min":-9223372036854775808,"Safe":9007199254740991,"F":1.5,"E":1e3,"Z":-0}')
    assert.deepEqual(v, { Version: 1786000000123456789n, Max: 18446744073709551615n, Min: -9223372036854775808n, Safe: 9007199254740991, F: 1.5, E: 1000, Z: -0 })
    assert.equal(parseJson('9007199254740992'), 9007199254740992n)
  })

  test('strings: escapes, surrogate pairs, lone surrogates become U+FFFD', () => {
    assert.equal(parseJson('"a\\u003cb\\/\\b\\f\\n\\r\\t\\"\\\\"'), 'a<b/\b\f\n\r\t"\\')
    assert.equal(parseJson('"\\ud83d\\ude00"'), '\u{1f600}')
    assert.equal(parseJson('"\\ud83dx"'), '\ufffdx')
    assert.equal(parseJson('"\\ude00"'), '\ufffd')
    assert.equal(parseJson('"\\ud83d\\u0041"'), '\ufffdA')
    assert.equal(parseJson('"é\u{1f600}"'), 'é\u{1f600}')
  })

  test('objects: last duplicate wins; "__proto__" is an ordinary key', () => {
    const v = parseJson('{"a":1,"a":2,"__proto__":{"x":1}}') as Record<string, unknown>
    assert.equal(v.a, 2)
    assert.equal(Object.getPrototypeOf(v), Object.prototype)
    assert.deepEqual(Object.keys(v), ['a', '__proto__'])
    assert.deepEqual(parseJson(' [ 1 , [ ] , { } , null , true , false ] '), [1, [], {}, null, true, false])
  })

  test('allIntegersAsBigInt and top-level members in document order', () => {
    assert.deepEqual(parseJson('[1,1.0,1e0]', { allIntegersAsBigInt: true }), [1n, 1, 1])
    assert.deepEqual(parseJsonMembers('{"a":1,"b":{"a":2},"a":3}'), [
      ['a', 1],
      ['b', { a: 2 }],
      ['a', 3],
    ])
    assert.equal(parseJsonMembers('"x"'), undefined)
    assert.throws(() => parseJsonMembers('{"a":'), JsonError)
  })

  test('rejects what Go rejects', () => {
    for (const bad of [
      '',
      ' ',
      '{"a":1',
      '{"a":1,}',
      '[1,]',
      '01',
      '1.',
      '.5',
      '-',
      '1e',
      '+1',
      'NaN',
      'Infinity',
      "'a'",
      '"a',
      '"\u0001"',
      '"\\x"',
      '"\\u12"',
      '{a:1}',
      '{"a" 1}',
      'nul',
      'true false',
      '{"a":1}x',
      '\ufeff{}',
    ]) {
      assert.throws(() => parseJson(bad), JsonError, JSON.stringify(bad))
    }
  })

  test('refuses absurd nesting instead of overflowing the stack', () => {
    assert.throws(() => parseJson('['.repeat(5000) + ']'.repeat(5000)), JsonError)
    assert.doesNotThrow(() => parseJson('['.repeat(500) + ']'.repeat(500)))
  })
})

describe('Go field matching', () => {
  test('case-insensitive with Unicode simple folding', () => {
    assert.equal(goFieldKey('UpdatedAt'), 'updatedat')
    assert.equal(goFieldKey('VER\u017fION'), 'version')
    assert.equal(goFieldKey('\u212aey'), 'key')
    assert.equal(goFieldKey('ÜBung'), 'Übung')
    assert.deepEqual(
      [...goFields({ Value: 'a', value: 'b', OWNER: 'o' })],
      [
        ['value', 'b'],
        ['owner', 'o'],
      ],
    )
  })
})

describe('goJsonString / goJsonStringify', () => {
  test('escapes exactly like Go encoding/json (Go 1.22+)', () => {
    // Reference output of Go's json.Marshal for the same string.
    assert.equal(goJsonString('<a&b>\u2028\u2029\b\f\u0001\u007f"\\é'), '"\\u003ca\\u0026b\\u003e\\u2028\\u2029\\b\\f\\u0001\u007f\\"\\\\é"')
    assert.equal(goJsonString('\n\r\t\u001f'), '"\\n\\r\\t\\u001f"')
    assert.equal(goJsonString('\u{1f600}'), '"\u{1f600}"')
    assert.equal(goJsonString('a\ud800b'), '"a\\ufffdb"')
    assert.equal(goJsonString('\udc00'), '"\\ufffd"')
  })

  test('values: struct order by default, sorted maps, bigints, bytes, dates', () => {
    assert.equal(
      goJsonStringify({ PeerID: 'x', Hostname: 'h<', N: 9223372036854775807n, F: 1.5, Neg: -0, B: true, Nil: null }),
      '{"PeerID":"x","Hostname":"h\\u003c","N":9223372036854775807,"F":1.5,"Neg":0,"B":true,"Nil":null}',
    )
    assert.equal(goJsonStringify({ b: 1, a: { d: 1, c: 2 } }, { sortKeys: true }), '{"a":{"c":2,"d":1},"b":1}')
    assert.equal(
      goJsonStringify(
        new Map([
          ['é', 1],
          ['z', 2],
          ['a', 3],
        ]),
      ),
      '{"a":3,"z":2,"é":1}',
    )
    assert.equal(goJsonStringify({ a: undefined, b: [undefined, 1] }), '{"b":[null,1]}')
    assert.equal(goJsonStringify(new Uint8Array([1, 2, 3])), '"AQID"')
    assert.equal(goJsonStringify(new Date('2026-08-06T07:06:40.120Z')), '"2026-08-06T07:06:40.12Z"')
    assert.equal(goJsonStringify(new Date('2026-08-06T07:06:40Z')), '"2026-08-06T07:06:40Z"')
    assert.equal(goJsonStringify('x'), '"x"')
    assert.equal(goJsonStringify(1e21), '1e+21')
    assert.equal(goJsonStringify(1e-7), '1e-7')
    assert.throws(() => goJsonStringify(Number.NaN), JsonError)
    assert.throws(() => goJsonStringify(() => 1), JsonError)
  })

  test('round trip keeps 64-bit numbers', () => {
    const text = '{"Value":"x","Version":18446744073709551615,"UpdatedAt":-9223372036854775808}'
    assert.equal(goJsonStringify(parseJson(text)), text)
  })
})

test('goCompare orders by UTF-8 bytes like Go', () => {
  assert.ok(goCompare('a', 'b') < 0)
  assert.equal(goCompare('x', 'x'), 0)
  // UTF-16 puts U+10000 (a surrogate pair) before U+FFFF; UTF-8 does not.
  assert.ok('\u{10000}' < '\uffff')
  assert.ok(goCompare('\uffff', '\u{10000}') < 0)
})
