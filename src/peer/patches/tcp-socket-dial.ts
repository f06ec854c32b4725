import type { Socket } from 'node:net'
import type { Connection, Transport, Upgrader } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Upgrading a TCP socket that we connected ourselves.
 *
 * A hole punch (src/peer/nat/holepunch.ts) connects from our listen port with
 * system calls of its own (src/peer/nat/reuseport.ts); the socket must then go
 * through the same path as any TCP dial (multiaddr connection, Noise, Yamux,
 * the connection manager), with the role the hole punch protocol gives us.
 * No public hook takes a ready socket, so the TCP transport's `_connect`, which
 * makes the socket for `dial`, hands over the one we give when the dial
 * options carry it, and dials as usual otherwise.
 *
 * Written against @libp2p/tcp 11.0.28 and libp2p 3.3.11: `TCP.dial(ma,
 * options)` awaits `this._connect(ma, options)` for its socket, wraps it with
 * toMultiaddrConnection and calls `options.upgrader.upgradeOutbound(maConn,
 * options)`, which with `initiator: false` takes the listener's side of the
 * handshakes and makes the connection inbound. The multiaddr connection
 * itself stays outbound, though, and the stream muxer takes its role from
 * that: yamux would open odd stream ids as a client while the peer, the
 * security handshake's initiator, is the yamux client too, and the first
 * stream either side opens ends the connection ("Both endpoints are
 * clients"). So with `initiator: false` the multiaddr connection is made
 * inbound before the upgrade, as go-libp2p makes the connection inbound for
 * the simultaneous-connect side that is not the client.
 * tcpSocketDialStats counts patched transports and upgraded sockets;
 * test/integration/libp2p-patches.test.ts fails when they stay at zero.
 */
export const tcpSocketDialStats = { transports: 0, upgraded: 0 }

const SOCKET = Symbol.for('kairosctl.tcp-socket')
const patched = new WeakSet<object>()

type Connect = (ma: Multiaddr, options: Record<string | symbol, unknown>) => Promise<Socket>

/** The node's TCP transport, patched to take a socket of ours; undefined when its shape is not the one known. */
export function socketDialer(transports: Transport[]): Transport | undefined {
  const tcp = transports.find((t) => t[Symbol.toStringTag] === '@libp2p/tcp')
  if (!tcp) return undefined
  const inner = tcp as unknown as { _connect?: Connect }
  if (typeof inner._connect !== 'function') return undefined
  if (!patched.has(tcp)) {
    const original = inner._connect.bind(tcp)
    inner._connect = (ma, options) => {
      const socket = options[SOCKET] as Socket | undefined
      return socket ? Promise.resolve(socket) : original(ma, options)
    }
    patched.add(tcp)
    tcpSocketDialStats.transports++
  }
  return tcp
}

/** Runs a connected socket through the TCP transport's upgrade; `initiator: false` takes the listener's role. */
export async function upgradeSocket(transport: Transport, socket: Socket, remoteAddr: Multiaddr, options: { upgrader: Upgrader; signal: AbortSignal; initiator: boolean }): Promise<Connection> {
  socket.setNoDelay(true)
  const upgrader = options.initiator ? options.upgrader : responderUpgrader(options.upgrader)
  const dialOptions: Parameters<Transport['dial']>[1] & { [SOCKET]: Socket } = { ...options, upgrader, [SOCKET]: socket }
  const connection = await transport.dial(remoteAddr, dialOptions)
  tcpSocketDialStats.upgraded++
  return connection
}

/** The upgrader, with the multiaddr connection turned inbound before an outbound upgrade (the muxer's role follows it). */
function responderUpgrader(upgrader: Upgrader): Upgrader {
  const wrapped = Object.create(upgrader) as Upgrader
  wrapped.upgradeOutbound = (maConn, opts) => {
    maConn.direction = 'inbound'
    return upgrader.upgradeOutbound(maConn, opts)
  }
  return wrapped
}
