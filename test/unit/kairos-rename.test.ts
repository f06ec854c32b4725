/**
 * renameContext on kubeconfigs that are not shaped exactly like k3s.yaml:
 * names that need quoting, flow mappings, comments, anchors and aliases.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parse } from 'yaml'
import { renameContext } from '../../src/kairos/kubeconfig.js'

const FLOW = `apiVersion: v1
clusters:
- cluster: {server: "https://10.1.0.3:6443"}
  name: default # the cluster
contexts:
- context: {cluster: default, user: "default"}
  name: 'default'
current-context: default
kind: Config
users:
- name: default
  user:
    token: x
`

interface Shape {
  'current-context': string
  clusters: { name: string }[]
  contexts: { name: string; context: { cluster: string; user: string } }[]
  users: { name: string }[]
}

function names(text: string): string[] {
  const d = parse(text) as Shape
  return [d['current-context'], d.clusters[0].name, d.contexts[0].name, d.contexts[0].context.cluster, d.contexts[0].context.user, d.users[0].name]
}

describe('renameContext: quoting and layout', () => {
  test('plain names stay plain; only the name scalars change, comments and flow style are kept', () => {
    const out = renameContext(FLOW, 'edge-1')
    assert.equal(
      out,
      FLOW.replace('name: default # the cluster', 'name: edge-1 # the cluster')
        .replace('{cluster: default, user: "default"}', '{cluster: edge-1, user: edge-1}')
        .replace("name: 'default'", 'name: edge-1')
        .replace('current-context: default', 'current-context: edge-1')
        .replace('- name: default', '- name: edge-1'),
    )
  })

  test('names YAML would misread are double-quoted, in block and flow context', () => {
    for (const name of ['a,b', 'a: b', 'true', 'null', '1.5', "it's", '#x', 'é', ' lead', 'x}']) {
      const out = renameContext(FLOW, name)
      assert.deepEqual(names(out), Array(6).fill(name), name)
      assert.ok(out.includes('# the cluster'), name)
    }
  })

  test('anchors and aliases: names resolve through them, and the document is written out again', () => {
    const aliased = `apiVersion: v1
clusters:
- cluster:
    server: https://10.1.0.3:6443
  name: &c default
contexts:
- context: {cluster: *c, user: default}
  name: default
current-context: default
kind: Config
users:
- name: default
  user:
    token: x
`
    const out = renameContext(aliased, 'edge')
    assert.deepEqual(names(out), Array(6).fill('edge'))
    assert.equal((parse(out) as { clusters: { cluster: { server: string } }[] }).clusters[0].cluster.server, 'https://10.1.0.3:6443')
  })
})
