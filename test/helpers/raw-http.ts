/**
 * Raw HTTP exchanges with an API (http://HOST:PORT or unix:///path), for
 * requests no HTTP client sends: announced bodies that never come, malformed
 * request lines, oversized targets.
 */
import { connect } from 'node:net'
import { withTimeout } from './wait.js'

/**
 * Writes `head` and `body` (nothing more: the request need not be complete)
 * and resolves with what the server sent once it closes the connection, or
 * once the answer matches `until`; rejects after `timeoutMs`.
 */
export function rawExchange(address: string, head: string, body = '', { until, timeoutMs = 5000 }: { until?: RegExp; timeoutMs?: number } = {}): Promise<string> {
  const socket = address.startsWith('unix://') ? connect(address.slice('unix://'.length)) : connect(Number(new URL(address).port), new URL(address).hostname)
  let answer = ''
  const done = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1')
      if (until?.test(answer)) resolve(answer)
    })
    socket.on('error', () => resolve(answer))
    socket.on('close', () => resolve(answer))
  })
  socket.write(head)
  if (body) socket.write(body)
  return withTimeout(done, timeoutMs, `an answer to ${head.split('\r\n')[0].slice(0, 80)}`).finally(() => socket.destroy())
}

/** EdgeVPN's (echo's) answer to a body over the limit. */
export const TOO_LARGE = /^HTTP\/1\.1 413 Request Entity Too Large\r\n[\s\S]*\r\n\r\n\{"message":"Request Entity Too Large"\}\n$/
