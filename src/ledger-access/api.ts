import { ApiClient } from '../api/client.js'
import type { LedgerAccess, LedgerData } from './types.js'

/** Ledger access through a running EdgeVPN-compatible API. */
export class ApiLedgerAccess implements LedgerAccess {
  private readonly client: ApiClient

  constructor(
    address: string,
    private readonly pollMs = 1000,
  ) {
    this.client = new ApiClient(address)
  }

  describe(): string {
    return `API ${this.client.address}`
  }

  data(): Promise<LedgerData> {
    return this.client.ledger()
  }

  get(bucket: string, key: string): Promise<string | undefined> {
    return this.client.ledgerKey(bucket, key)
  }

  put(bucket: string, key: string, value: string): Promise<void> {
    return this.client.ledgerPut(bucket, key, value)
  }

  delete(bucket: string, key?: string): Promise<void> {
    return this.client.ledgerDelete(bucket, key)
  }

  async watch(onChange: (data: LedgerData) => void, signal: AbortSignal): Promise<void> {
    let last = ''
    while (!signal.aborted) {
      const data = await this.data()
      const text = JSON.stringify(data)
      if (text !== last) {
        last = text
        onChange(data)
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.pollMs)
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t)
            resolve()
          },
          { once: true },
        )
      })
    }
  }

  async close(): Promise<void> {}
}
