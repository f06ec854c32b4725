import fs from 'node:fs'
import { TunBase } from './base.js'
import { tunReadError } from './errors.js'
import { ip } from './ip.js'

/**
 * Blocking fd, `fs.read` on the threadpool: one thread per pending read().
 * close() deletes the interface first, which makes a blocked read(2) fail
 * (EFAULT), then closes the fd.
 */
export class ThreadpoolTun extends TunBase {
  readonly io = 'threadpool' as const
  private pending = new Set<Promise<unknown>>()
  private readonly buffers: Buffer[] = []

  read(): Promise<Uint8Array | null> {
    if (this.isClosed) return Promise.resolve(null)
    const buffer = this.buffers.pop() ?? Buffer.alloc(65536)
    const result = new Promise<Uint8Array | null>((resolve, reject) => {
      fs.read(this.fdValue, buffer, 0, buffer.length, null, (err, n) => {
        const packet = err ? null : new Uint8Array(buffer.subarray(0, n))
        this.buffers.push(buffer)
        if (this.isClosed) return resolve(null)
        if (err) return reject(tunReadError(this.name, err))
        resolve(packet)
      })
    })
    const tracked = result.then(
      () => {},
      () => {},
    )
    this.pending.add(tracked)
    void tracked.then(() => this.pending.delete(tracked))
    return result
  }

  protected async doClose(): Promise<void> {
    this.isClosed = true
    // Closing an fd under a blocked read(2) does not wake it; deleting the interface does.
    if (this.pending.size > 0) await ip(['link', 'delete', 'dev', this.name], 5_000).catch(() => {})
    const settled = Promise.all([...this.pending])
    let timer: NodeJS.Timeout | undefined
    const bounded = await Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 5_000)
      }),
    ])
    clearTimeout(timer)
    // A read still blocked would make a reused fd number dangerous: then leave the fd to process exit.
    if (bounded) fs.closeSync(this.fdValue)
    this.fdValue = -1
    await this.deleteIfPresent()
  }
}
