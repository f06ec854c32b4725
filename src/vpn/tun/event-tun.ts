import fs from 'node:fs'
import net from 'node:net'
import { UserError } from '../../errors.js'
import type { TunOptions } from './index.js'
import { TunBase } from './base.js'
import { tunReadError } from './errors.js'

interface PipeHandle {
  open(fd: number): number
}
type PipeCtor = new (type: number) => PipeHandle
export type PipeWrap = { Pipe: PipeCtor; SOCKET: number }

/** libuv's pipe handle, which accepts any pollable fd; undefined where `process.binding` is unavailable. */
export function pipeWrap(): PipeWrap | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- saved only to be put back unchanged
    const saved = process.emitWarning
    // process.binding is a documentation-only deprecation (DEP0111); keep --pending-deprecation quiet about it.
    process.emitWarning = () => {}
    try {
      const binding = (process as unknown as { binding(name: string): { Pipe: PipeCtor; constants: { SOCKET: number } } }).binding('pipe_wrap')
      if (typeof binding?.Pipe !== 'function' || typeof binding.constants?.SOCKET !== 'number') return undefined
      return { Pipe: binding.Pipe, SOCKET: binding.constants.SOCKET }
    } finally {
      process.emitWarning = saved
    }
  } catch {
    return undefined
  }
}

interface Waiter {
  resolve(packet: Uint8Array | null): void
  reject(err: Error): void
}

/**
 * Event-driven: the non-blocking fd is a libuv stream; each read(2) is one
 * packet. Packets not yet taken by read() are queued; at `queueLimit` reading
 * pauses, and it resumes once the queue is down to half.
 */
export class EventTun extends TunBase {
  readonly io = 'event' as const
  private readonly socket: net.Socket
  private readonly queue: Uint8Array[] = []
  private readonly waiters: Waiter[] = []
  private failure?: Error
  private paused = false

  constructor(
    name: string,
    fd: number,
    options: TunOptions,
    pipe: PipeWrap,
    private readonly queueLimit: number,
  ) {
    super(name, fd, options)
    const handle = new pipe.Pipe(pipe.SOCKET)
    const rc = handle.open(fd)
    if (rc !== 0) {
      fs.closeSync(fd)
      throw new UserError(`TUN device ${name}: libuv refused the fd (${rc})`)
    }
    // 64 KiB: the largest IP packet; the kernel never returns more than one packet per read.
    const buffer = Buffer.alloc(65536)
    const SocketWithHandle = net.Socket as new (options: object) => net.Socket
    this.socket = new SocketWithHandle({
      handle,
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          const packet = new Uint8Array(buf.subarray(0, n))
          const waiter = this.waiters.shift()
          if (waiter) {
            waiter.resolve(packet)
            return true
          }
          this.queue.push(packet)
          if (this.queue.length >= this.queueLimit) {
            // Stop reading: the kernel's queue (txqueuelen) fills and then drops.
            this.paused = true
            return false
          }
          return true
        },
      },
    })
    this.socket.on('error', (err) => this.fail(err))
    this.socket.on('end', () => this.fail(new Error(`TUN device ${name} ended`)))
  }

  private fail(err: Error): void {
    if (this.isClosed) return
    this.failure = tunReadError(this.name, err)
    for (const w of this.waiters.splice(0)) w.reject(this.failure)
    void this.close()
  }

  read(): Promise<Uint8Array | null> {
    const packet = this.queue.shift()
    if (packet) {
      if (this.paused && this.queue.length <= this.queueLimit / 2 && !this.isClosed) {
        this.paused = false
        this.socket.resume()
      }
      return Promise.resolve(packet)
    }
    if (this.failure) return Promise.reject(this.failure)
    if (this.isClosed) return Promise.resolve(null)
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  protected async doClose(): Promise<void> {
    this.isClosed = true
    this.queue.length = 0
    for (const w of this.waiters.splice(0)) w.resolve(null)
    // uv_close() closes the fd synchronously; with the last fd gone the kernel deletes the interface.
    this.socket.destroy()
    this.fdValue = -1
    await this.deleteIfPresent()
  }
}
