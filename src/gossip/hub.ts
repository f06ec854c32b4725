import { EventEmitter } from 'node:events'
import { gunzip, gzipSync } from 'node:zlib'
import type { PeerId } from '@libp2p/interface'
import { gossipTopic, sealKey } from '../crypto/derive.js'
import { seal, unseal } from '../crypto/seal.js'
import type { NetworkToken } from '../token/token.js'

/** The parts of a gossipsub service the hub needs (kept narrow so tests can inspect it). */
export interface PubSubLike {
  /** Run before a message is delivered or forwarded; anything but 'accept' drops it (gossipsub's topic validators). */
  readonly topicValidators: Map<string, TopicValidator>
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

export type ValidationResult = 'accept' | 'ignore' | 'reject'
export type TopicValidator = (from: PeerId, msg: GossipMessage) => Promise<ValidationResult>

/**
 * Room the gossipsub RPC around a message needs (author, sequence number,
 * topic, signature, key, and control messages piggybacked on it); a payload
 * is only published when the whole RPC stays within max_message_size, the
 * limit every Go node reads with.
 */
export const RPC_HEADROOM = 4096

/** Envelope JSON around the sealed hex: `{"Message":"…","SenderID":"","Annotations":null}`. */
const ENVELOPE_OVERHEAD = JSON.stringify({ Message: '', SenderID: '', Annotations: null }).length
/** Nonce and tag of a sealed payload. */
const SEAL_OVERHEAD = 12 + 16

/**
 * Inflations running at once, and the messages that may wait for one (in
 * count and in bytes of message data); messages beyond that are ignored (not
 * forwarded). The byte bound caps the memory a flood of large messages can
 * hold; a burst of ordinary ledger blocks (a few KiB each, one per node and
 * announcement round) fits many times over and is never dropped.
 */
const INFLATE_CONCURRENCY = 2
const INFLATE_QUEUE = 4096
const INFLATE_QUEUE_BYTES = 64 * 1024 * 1024

/** EdgeVPN's pubsub envelope; Go struct fields without tags, hence PascalCase. */
export interface Envelope {
  Message: string
  SenderID: string
  Annotations: Record<string, unknown> | null
}

export interface HubEvents {
  /** An unsealed, decompressed payload (the JSON of a ledger block) and the peer it came from. */
  payload: [payload: Uint8Array, from: string]
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
  /** Largest envelope we publish: max_message_size less the RPC around it. */
  readonly sendLimit: number
  /** Largest payload (block JSON) we inflate; bigger ones are dropped and not forwarded (docs/ledger.md). */
  readonly inflateLimit: number
  private topic?: string
  private previousKey?: string
  private currentKey?: string
  private timer?: NodeJS.Timeout
  /** Payloads opened by the validator, handed to the message listener. */
  private readonly opened = new WeakMap<GossipMessage, Uint8Array>()
  private inflating = 0
  private readonly waiting: (() => void)[] = []
  private waitingBytes = 0
  private readonly onMessage = (evt: CustomEvent<GossipMessage>): void => this.receive(evt.detail)
  private readonly validator: TopicValidator = (from, msg) => this.validate(from.toString(), msg)

  constructor(
    private readonly pubsub: PubSubLike,
    private readonly token: NetworkToken,
    private readonly selfId: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    super()
    this.sendLimit = token.maxMessageSize - RPC_HEADROOM
    this.inflateLimit = token.maxMessageSize
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
    if (this.topic) {
      this.pubsub.unsubscribe(this.topic)
      this.pubsub.topicValidators.delete(this.topic)
    }
    this.topic = undefined
  }

  get currentTopic(): string | undefined {
    return this.topic
  }

  /** Peers currently subscribed to the network's topic. */
  subscribers(): string[] {
    return this.topic ? this.pubsub.getSubscribers(this.topic).map(String) : []
  }

  /** Messages being opened by the topic validator or waiting for it (delivered shortly unless dropped). */
  get pending(): number {
    return this.inflating + this.waiting.length
  }

  /** Size of the envelope that carries a payload of `gzipped` compressed bytes. */
  static envelopeSize(gzipped: number): number {
    return ENVELOPE_OVERHEAD + 2 * (SEAL_OVERHEAD + gzipped)
  }

  /**
   * Seals and publishes a payload (its gzip'd form may be given when the
   * caller has it). Returns the number of peers it was sent to (0 when nobody
   * is subscribed yet; the caller re-announces later, as Go does). Throws
   * when the envelope would not fit in max_message_size.
   */
  async publish(payload: Uint8Array, gzipped: Uint8Array = gzipSync(payload)): Promise<number> {
    this.rotate()
    if (!this.topic) return 0
    const size = GossipHub.envelopeSize(gzipped.length)
    if (size > this.sendLimit) throw new TooLargeError(size, this.token.maxMessageSize)
    const envelope: Envelope = { Message: seal(sealKey(this.token, this.now()), gzipped), SenderID: '', Annotations: null }
    const { recipients } = await this.pubsub.publish(this.topic, new TextEncoder().encode(JSON.stringify(envelope)))
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
    if (this.topic) {
      this.pubsub.unsubscribe(this.topic)
      this.pubsub.topicValidators.delete(this.topic)
    }
    this.topic = topic
    this.pubsub.topicValidators.set(topic, this.validator)
    this.pubsub.subscribe(topic)
  }

  private receive(msg: GossipMessage): void {
    if (msg.topic !== this.topic) return
    const from = msg.from?.toString() ?? ''
    if (from === this.selfId) return
    const payload = this.opened.get(msg)
    if (payload) this.emit('payload', payload, from)
    else this.emit('dropped', 'message was not validated', from)
  }

  /**
   * The topic validator: opens the envelope, unseals and inflates (bounded,
   * off the event loop). Only messages that open are delivered and forwarded;
   * a payload that inflates past the limit is rejected.
   */
  private async validate(from: string, msg: GossipMessage): Promise<ValidationResult> {
    const drop = (result: ValidationResult, reason: string): ValidationResult => {
      this.emit('dropped', reason, from)
      return result
    }
    let envelope: Envelope
    try {
      envelope = JSON.parse(new TextDecoder().decode(msg.data)) as Envelope
    } catch {
      return drop('ignore', 'envelope is not JSON')
    }
    if (typeof envelope?.Message !== 'string') return drop('ignore', 'envelope has no Message')
    const size = msg.data.length
    if (this.waiting.length >= INFLATE_QUEUE || this.waitingBytes + size > INFLATE_QUEUE_BYTES) return drop('ignore', 'too many payloads waiting to be inflated')
    const sealed = this.open(envelope.Message)
    if (!sealed) return drop('ignore', 'payload could not be unsealed with the current or previous key')
    if (this.inflating >= INFLATE_CONCURRENCY) {
      this.waitingBytes += size
      await new Promise<void>((resolve) => this.waiting.push(resolve))
      this.waitingBytes -= size
    }
    this.inflating++
    try {
      this.opened.set(msg, await inflate(sealed, this.inflateLimit))
      return 'accept'
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return drop('reject', `payload inflates to more than ${this.inflateLimit} bytes (the network's max_message_size)`)
      }
      return drop('ignore', 'payload is not gzip data')
    } finally {
      this.inflating--
      this.waiting.shift()?.()
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

/** Gunzip in the thread pool (concatenated members included, as Go reads them), stopping once `limit` bytes came out. */
function inflate(data: Uint8Array, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(data, { maxOutputLength: limit, chunkSize: 64 * 1024 }, (err, out) => (err ? reject(err) : resolve(out)))
  })
}

export class TooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly maxMessageSize: number,
  ) {
    super(`the sealed ledger would be a ${size}-byte message, over the network's max_message_size (${maxMessageSize}) less ${RPC_HEADROOM} bytes of gossip framing`)
    this.name = 'TooLargeError'
  }
}
