/**
 * In-process pieces for VPN router tests: a TUN device in memory, hosts on
 * loopback, IPv4 test packets, and bounded waits.
 */
import '../../src/polyfill.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost, type PeerHost } from '../../src/peer/host.js'
import { VPN_PROTOCOL } from '../../src/vpn/router.js'

/** A TUN device in memory: `inject` is what the kernel would hand us, `written` what we gave it. */
export class MemoryTun {
  readonly name = 'mem0'
  readonly fd = -1
  readonly written: Uint8Array[] = []
  private readonly pending: Uint8Array[] = []
  private waiting?: (p: Uint8Array | null) => void
  private closed = false
  /** Packets injected and not yet read. */
  get pendingCount(): number {
    return this.pending.length
  }
  inject(packet: Uint8Array): void {
    if (this.waiting) {
      const w = this.waiting
      this.waiting = undefined
      w(packet)
    } else this.pending.push(packet)
  }
  read(): Promise<Uint8Array | null> {
    if (this.pending.length > 0) return Promise.resolve(this.pending.shift()!)
    if (this.closed) return Promise.resolve(null)
    return new Promise((resolve) => (this.waiting = resolve))
  }
  async write(packet: Uint8Array): Promise<void> {
    this.written.push(packet)
  }
  async close(): Promise<void> {
    this.closed = true
    this.waiting?.(null)
  }
}

export async function host(): Promise<PeerHost> {
  return createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, bootstrapPeers: [], maxMessageSize: 1 << 20 })
}

/** Waits (bounded) until `a` has learnt through identify that `b` speaks the VPN protocol: the connection is fully set up. */
export async function identified(a: PeerHost, b: PeerHost): Promise<void> {
  const end = Date.now() + 10_000
  for (;;) {
    const peer = await a.peerStore.get(b.peerId).catch(() => undefined)
    if (peer?.protocols.includes(VPN_PROTOCOL)) return
    if (Date.now() > end) throw new Error('timed out waiting for identify')
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const until = async (cond: () => boolean, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** An IPv4 packet of `size` bytes to `dst` (only what routing and framing read), carrying `seq` after the header. */
export function packet(seq: number, dst = '10.1.0.2', size = 1200): Uint8Array {
  const p = new Uint8Array(size)
  const view = new DataView(p.buffer)
  p[0] = 0x45
  view.setUint16(2, size)
  p[9] = 17
  p.set([10, 1, 0, 1], 12)
  p.set(dst.split('.').map(Number), 16)
  view.setUint32(20, seq)
  return p
}
export const seqOf = (p: Uint8Array): number => new DataView(p.buffer, p.byteOffset).getUint32(20)
