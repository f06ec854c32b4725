import { Args, Flags } from '@oclif/core'
import { DEFAULT_KEY_LENGTH, DEFAULT_MAX_MESSAGE_SIZE, generateToken, type NetworkToken } from '../token/token.js'
import { parseInterval } from './flags.js'

/** Flags shared by generate-token and create-config. */
export const tokenShapeFlags = {
  'key-length': Flags.integer({
    description: 'Length of each random key (room, rendezvous, mdns, the two OTP keys)',
    default: DEFAULT_KEY_LENGTH,
    min: 1,
    max: 4096,
  }),
  'max-message-size': Flags.integer({
    description: 'Largest gossip message the network accepts, in bytes',
    default: DEFAULT_MAX_MESSAGE_SIZE,
    min: 1,
    max: 2 ** 31 - 1,
  }),
}

export const intervalArg = Args.string({
  name: 'INTERVAL',
  description: 'OTP rotation interval in seconds (default: never rotates, like the Go kairosctl)',
  required: false,
})

/** A fresh token from the parsed flags and INTERVAL argument. */
export function tokenFromInput(interval: string | undefined, keyLength: number, maxMessageSize: number): NetworkToken {
  return generateToken({ interval: parseInterval(interval), keyLength, maxMessageSize })
}
