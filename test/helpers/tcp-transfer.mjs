// A bounded TCP transfer with checksums, run inside network namespaces by e2e tests.
//   node tcp-transfer.mjs serve HOST PORT          accepts one connection; prints {"bytes","sha256"} when it ends
//   node tcp-transfer.mjs send HOST PORT BYTES     sends BYTES of AES-CTR keystream; prints {"bytes","sha256"}
// Output is one JSON line on stdout ("listening" first for serve). Exit 1 on any error.
import { createCipheriv, createHash } from 'node:crypto'
import net from 'node:net'

const [mode, host, portText, bytesText] = process.argv.slice(2)
const port = Number(portText)
const fail = (err) => {
  process.stderr.write(`${err.message}\n`)
  process.exit(1)
}

if (mode === 'serve') {
  const server = net.createServer((socket) => {
    server.close()
    const hash = createHash('sha256')
    let bytes = 0
    socket.on('data', (chunk) => {
      bytes += chunk.length
      hash.update(chunk)
    })
    socket.on('end', () => {
      process.stdout.write(JSON.stringify({ bytes, sha256: hash.digest('hex') }) + '\n')
      socket.end()
    })
    socket.on('error', fail)
  })
  server.on('error', fail)
  server.listen(port, host, () => process.stdout.write('listening\n'))
} else if (mode === 'send') {
  const total = Number(bytesText)
  const keystream = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 1))
  const zeros = Buffer.alloc(64 * 1024)
  const hash = createHash('sha256')
  let sent = 0
  const socket = net.connect({ host, port }, () => {
    const pump = () => {
      while (sent < total) {
        const chunk = keystream.update(zeros.subarray(0, Math.min(zeros.length, total - sent)))
        hash.update(chunk)
        sent += chunk.length
        if (!socket.write(chunk)) return socket.once('drain', pump)
      }
      socket.end()
    }
    pump()
  })
  socket.on('close', () => process.stdout.write(JSON.stringify({ bytes: sent, sha256: hash.digest('hex') }) + '\n'))
  socket.on('error', fail)
} else {
  fail(new Error('usage: tcp-transfer.mjs serve HOST PORT | send HOST PORT BYTES'))
}
