/**
 * `--ownership auto`: what moves the detector, and what never does.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { signerFromPrivateKey } from '../../src/ledger/entry.js'
import { Ledger } from '../../src/ledger/ledger.js'
import { OwnershipDetector } from '../../src/peer/ownership.js'

const self = signerFromPrivateKey(await generateKeyPair('Ed25519'))
const go = signerFromPrivateKey(await generateKeyPair('Ed25519'))

/** A block as v0.34 builds it: unsigned entries, v0.34 block hash. */
function v034Block(values: Record<string, string>): ReturnType<Ledger['lastBlock']> {
  const l = new Ledger({ mode: 'off' })
  l.addAll('kairos', values)
  return l.lastBlock()
}

/** A block as v0.35 builds it: signed by `signer`, or unsigned (ownership off), optionally with the author's healthcheck. */
function v035Block(values: Record<string, string>, signer?: typeof go, health?: string): ReturnType<Ledger['lastBlock']> {
  const l = new Ledger({ mode: signer ? 'enforce' : 'off', signer, checksumStyle: 'v0.35' })
  l.addAll('kairos', values)
  if (health) l.put('healthcheck', health, '2026-01-01T00:00:00Z')
  return l.lastBlock()
}

test('one legacy block from one peer next to an honest v0.35 node does not make the network legacy', () => {
  const d = new OwnershipDetector(self.id)
  d.observe('attacker', v034Block({ k: '"forged"' }))
  assert.equal(d.decide(['go', 'attacker']), 'unknown')
  assert.equal(d.decide(['go']), 'unknown', 'the attacker behind the Go node is not a neighbour')
  d.observe('go', v035Block({ k: '"real"' }, go))
  assert.equal(d.decide(['go', 'attacker']), 'signed')
})

test('a v0.35 node that holds only unsigned entries still rules legacy out', () => {
  const d = new OwnershipDetector(self.id)
  d.observe('attacker', v034Block({ k: '"forged"' }))
  d.observe('go', v035Block({ k: '"forged"' }))
  assert.equal(d.decide(['go', 'attacker']), 'unknown')
  // Even with the attacker as the only neighbour later on, or faking a v0.35 node with ownership off.
  assert.equal(d.decide(['attacker']), 'unknown')
  d.observe('attacker', v035Block({ k: '"forged"' }, undefined, 'attacker'))
  assert.equal(d.decide(['go', 'attacker']), 'unknown')
})

test('a v0.35 network with ownership off: legacy once every neighbour sent its own healthcheck unsigned', () => {
  const d = new OwnershipDetector(self.id)
  d.observe('n1', v035Block({ k: '"v"' }))
  assert.equal(d.decide(['n1']), 'unknown', 'no healthcheck of its own: could be a v0.35 node with ownership on that never wrote')
  d.observe('n1', v035Block({ k: '"v"' }, undefined, 'n1'))
  assert.equal(d.decide(['n1']), 'legacy')
  d.observe('n2', v035Block({ k: '"v"' }, go, 'n2'))
  assert.equal(d.decide(['n1', 'n2']), 'signed')
})

test('signed is final: later legacy blocks from every neighbour do not undo it', () => {
  const d = new OwnershipDetector(self.id)
  d.observe('go', v035Block({ k: '"v"' }, go))
  assert.equal(d.decide(['go']), 'signed')
  d.observe('a', v034Block({ k: '"x"' }))
  d.observe('b', v034Block({ k: '"y"' }))
  assert.equal(d.decide(['a', 'b']), 'signed')
})

test('our own signed entries echoed back, forged signatures and empty blocks are no evidence', () => {
  const d = new OwnershipDetector(self.id)
  d.observe('go', v035Block({ k: '"ours"' }, self))
  const forged = v035Block({ k: '"v"' }, go)
  const e = forged.storage.get('kairos')!.get('k')!
  forged.storage.get('kairos')!.set('k', { ...e, value: '"changed"' })
  d.observe('attacker', forged)
  d.observe('x', new Ledger({ mode: 'off' }).lastBlock())
  // Neither made it signed; the echo and the forged block are non-legacy blocks, which rule legacy out.
  assert.equal(d.decide(['go']), 'unknown')
})

test('a v0.34 network: legacy once every neighbour has sent a v0.34 block', () => {
  const d = new OwnershipDetector(self.id)
  d.observe('n1', v034Block({ k: '"v"' }))
  assert.equal(d.decide(['n1', 'n2']), 'unknown', 'n2 has not spoken yet')
  d.observe('n2', v034Block({ k: '"v"', j: '"w"' }))
  assert.equal(d.decide(['n1', 'n2']), 'legacy')
  assert.equal(d.decide(['n1', 'n2', 'n3']), 'legacy', 'a new neighbour that has not spoken does not undo it')
  d.observe('n3', v035Block({ k: '"v"' }))
  assert.equal(d.decide(['n1', 'n2', 'n3']), 'unknown', 'a block from signing code does')
})

test('a lone v0.34 node is a legacy network', () => {
  const d = new OwnershipDetector(self.id)
  assert.equal(d.decide([]), 'unknown')
  d.observe('n1', new Ledger({ mode: 'off' }).lastBlock())
  assert.equal(d.legacySeen(), false, 'an empty block shows nothing')
  d.observe('n1', v034Block({ k: '"v"' }))
  assert.equal(d.legacySeen(), true)
  assert.equal(d.decide([]), 'unknown', 'nobody next to us')
  assert.equal(d.decide(['n1']), 'legacy')
})
