import { existsSync } from 'node:fs'
import fs from 'node:fs'
import type { Tun, TunIo, TunOptions } from './index.js'
import { ip } from './ip.js'

/** What both I/O modes share: the fd, writes, iteration, an idempotent close. */
export abstract class TunBase implements Tun {
  readonly mtu: number
  address: string
  abstract readonly io: TunIo
  protected fdValue: number
  protected isClosed = false
  private closing?: Promise<void>

  constructor(
    readonly name: string,
    fd: number,
    options: TunOptions,
  ) {
    this.fdValue = fd
    this.mtu = options.mtu
    this.address = options.address ?? ''
  }

  get fd(): number {
    return this.fdValue
  }

  get closed(): boolean {
    return this.isClosed
  }

  abstract read(): Promise<Uint8Array | null>

  write(packet: Uint8Array): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error(`TUN device ${this.name} is closed`))
    try {
      // One write(2) per packet: a writev or a write of two packets would deliver only the first.
      fs.writeSync(this.fdValue, packet, 0, packet.length)
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async onPacket(handler: (packet: Uint8Array) => void | Promise<void>): Promise<void> {
    for (;;) {
      const packet = await this.read()
      if (packet === null) return
      await handler(packet)
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const packet = await this.read()
      if (packet === null) return
      yield packet
    }
  }

  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  protected abstract doClose(): Promise<void>

  /** Deletes the interface if something else still holds it (normally it vanishes with its last fd). */
  protected async deleteIfPresent(): Promise<void> {
    if (existsSync(`/sys/class/net/${this.name}`)) await ip(['link', 'delete', 'dev', this.name], 5_000).catch(() => {})
  }
}
