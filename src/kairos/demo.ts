import { randomBytes, randomUUID } from 'node:crypto'
import { healthcheckTime } from '../ledger/go-time.js'
import { EdgePeer } from '../peer/peer.js'
import { generateToken, type NetworkToken } from '../token/token.js'
import { encodeKubeconfig } from './kubeconfig.js'
import { advertisementValue, encodeValue, keys } from './layout.js'

/**
 * A self-contained Kairos-shaped network on loopback, for `kairosctl demo`:
 * in-process peers that play a small cluster (one master, workers), each
 * advertising itself, with the master's IP and a kubeconfig published the way
 * Kairos nodes publish them. No root, no cluster, no traffic off loopback.
 */
export interface DemoNode {
  uuid: string
  role: string
  ip: string
  peer: EdgePeer
}

export interface DemoNetwork {
  token: NetworkToken
  networkId: string
  /** Multiaddr of the first node, for --bootstrap-peer. */
  bootstrap: string
  nodes: DemoNode[]
  /** The kubeconfig the master published (server still at 127.0.0.1). */
  kubeconfig: string
  stop(): Promise<void>
}

/** A k3s-shaped kubeconfig. The certificates are placeholders: there is no API server behind it. */
export function demoKubeconfig(): string {
  const pem = (what: string) => Buffer.from(`-----BEGIN ${what}-----\n${randomBytes(48).toString('base64')}\n-----END ${what}-----\n`).toString('base64')
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${pem('CERTIFICATE')}`,
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
    `    client-certificate-data: ${pem('CERTIFICATE')}`,
    `    client-key-data: ${pem('EC PRIVATE KEY')}`,
    '',
  ].join('\n')
}

export async function startDemoNetwork(opts: { nodes?: number; networkId?: string } = {}): Promise<DemoNetwork> {
  const count = Math.max(2, opts.nodes ?? 3)
  const networkId = opts.networkId ?? 'kairos'
  const token = generateToken()
  const started: EdgePeer[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.stop().catch(() => {})))
  }
  try {
    const base = { token, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ownership: 'enforce' as const, syncIntervalMs: 2000 }
    const first = await EdgePeer.start(base)
    started.push(first)
    const bootstrap = String(first.host.getMultiaddrs()[0])
    for (let i = 1; i < count; i++) started.push(await EdgePeer.start({ ...base, bootstrapPeers: [bootstrap] }))

    const kubeconfig = demoKubeconfig()
    const nodes: DemoNode[] = started.map((peer, i) => ({
      uuid: randomUUID().replace(/-/g, '').slice(0, 24),
      role: i === 0 ? 'master' : 'worker',
      ip: `10.1.0.${i + 1}`,
      peer,
    }))
    // Each node writes what a Kairos node writes about itself; the master also publishes the cluster access.
    for (const n of nodes) {
      const put = (key: string, value: unknown) => n.peer.ledger.put(networkId, key, encodeValue(value))
      put(keys.advertisement(n.uuid), advertisementValue(new Date()))
      put(keys.role(n.uuid), n.role)
      put(keys.ip(n.uuid), n.ip)
      n.peer.ledger.put('healthcheck', n.peer.id, healthcheckTime())
      if (n.role === 'master') {
        put(keys.masterIp, n.ip)
        put(keys.kubeconfig, encodeKubeconfig(kubeconfig))
      }
    }
    // Gossip until every node holds every other node's entries.
    const expected = nodes.length * 3 + 2
    const deadline = Date.now() + 30_000
    for (;;) {
      await Promise.all(started.map((p) => p.announce()))
      const converged = started.every((p) => Object.keys(p.ledger.currentData()[networkId] ?? {}).length >= expected)
      if (converged) break
      if (Date.now() > deadline) throw new Error('the demo network did not converge within 30s')
      await new Promise((r) => setTimeout(r, 300))
    }
    return { token, networkId, bootstrap, nodes, kubeconfig, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
