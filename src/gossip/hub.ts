import { EventEmitter } from 'node:events'
import { gzipSync, gunzipSync } from 'node:zlib'
import type { PeerId } from '@libp2p/interface'
import { gossipTopic, sealKey } from '../crypto/derive.js'
import { seal, unseal } from '../crypto/seal.js'
import type { NetworkToken } from '../token/token.js'

/** The parts of a gossipsub service the hub needs (kept narrow so tests can inspect it). */
export interface PubSubLike {
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<{ recipients: PeerId[] }>
  getSubscribers(topic: string): PeerId[]
  addEventListener(type: 'message', listener: (evt: CustomEvent<GossipMessage>) => void): void
  removeEventListener(type: 'message', listener: (evt: CustomEvent<GossipMessage>) => void): void
}

export interface GossipMessage {
  type: 'signed' | 'unsigned'
  topic: string
  data: Uint8Array
  from?: PeerId
}

/** EdgeVPN's pubsub envelope; Go struct fields without tags, hence PascalCase. */
export interface Envelope {
  Message: string
  SenderID: string
  Annotations: Record<string, unknown> | null
}

export interface HubEvents {
  /** An unsealed, decompressed payload (the JSON of a ledger block) and the peer it came from. */
  payload: [payload: Uint8Array, from: string]
  /** The topic changed (first join included). */
  topic: [topic: string]
  /** A message that could not be opened; for debug logs only. */
  dropped: [reason: string, from: string]
}

/**
 * EdgeVPN's message hub: one gossip topic derived from the token and the
 * clock, recomputed every second; payloads gzip'd, sealed with the rotating
 * AES key and wrapped in EdgeVPN's JSON envelope. Like Go, there is one topic
 * at a time; unlike Go, a message sealed just before a key rotation is still
 * opened with the previous key.
 */
export class GossipHub extends EventEmitter<HubEvents> {
  private topic?: string
  private previousKey?: string
  private currentKey?: string
  private timer?: NodeJS.Timeout
  private readonly onMessage = (evt: CustomEvent<GossipMessage>): void => this.receive(evt.detail)

  constructor(
    private readonly pubsub: PubSubLike,
    private readonly token: NetworkToken,
    private readonly selfId: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    super()
  }

  start(): void {
    this.pubsub.addEventListener('message', this.onMessage)
    this.rotate()
    this.timer = setInterval(() => this.rotate(), 1000)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.pubsub.removeEventListener('message', this.onMessage)
    if (this.topic) this.pubsub.unsubscribe(this.topic)
    this.topic = undefined
  }

  get currentTopic(): string | undefined {
    return this.topic
  }

  /** Peers currently subscribed to the network's topic. */
  subscribers(): string[] {
    return this.topic ? this.pubsub.getSubscribers(this.topic).map(String) : []
  }

  /**
   * Seals and publishes a payload. Returns the number of peers it was sent to
   * (0 when nobody is subscribed yet; the caller re-announces later, as Go does).
   */
  async publish(payload: Uint8Array): Promise<number> {
    this.rotate()
    if (!this.topic) return 0
    const envelope: Envelope = { Message: seal(sealKey(this.token, this.now()), gzipSync(payload)), SenderID: '', Annotations: null }
    const data = new TextEncoder().encode(JSON.stringify(envelope))
    if (data.length > this.token.maxMessageSize) {
      throw new Error(`message of ${data.length} bytes exceeds the network's max_message_size (${this.token.maxMessageSize})`)
    }
    const { recipients } = await this.pubsub.publish(this.topic, data)
    return recipients.length
  }

  private rotate(): void {
    const now = this.now()
    const topic = gossipTopic(this.token, now)
    const key = sealKey(this.token, now)
    if (key !== this.currentKey) {
      this.previousKey = this.currentKey
      this.currentKey = key
    }
    if (topic === this.topic) return
    if (this.topic) this.pubsub.unsubscribe(this.topic)
    this.topic = topic
    this.pubsub.subscribe(topic)
    this.emit('topic', topic)
  }

  private receive(msg: GossipMessage): void {
    if (msg.topic !== this.topic) return
    const from = msg.from?.toString() ?? ''
    if (from === this.selfId) return
    let envelope: Envelope
    try {
      envelope = JSON.parse(new TextDecoder().decode(msg.data)) as Envelope
    } catch {
      this.emit('dropped', 'envelope is not JSON', from)
      return
    }
    if (typeof envelope?.Message !== 'string') {
      this.emit('dropped', 'envelope has no Message', from)
      return
    }
    const payload = this.open(envelope.Message)
    if (!payload) {
      this.emit('dropped', 'payload could not be unsealed with the current or previous key', from)
      return
    }
    try {
      this.emit('payload', gunzipSync(payload), from)
    } catch {
      this.emit('dropped', 'payload is not gzip data', from)
    }
  }

  private open(sealed: string): Uint8Array | undefined {
    for (const key of [this.currentKey, this.previousKey]) {
      if (!key) continue
      try {
        return unseal(key, sealed)
      } catch {
        // try the next key
      }
    }
    return undefined
  }
}
