/**
 * Bounded waiting utilities for tests.
 *
 * Every wait in the test suite has an upper bound: a test that waits for a
 * condition that never comes must fail with a message saying what it waited
 * for, never hang until the runner's global timeout.
 */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export interface WaitOptions {
  /** Upper bound for the whole wait, in milliseconds (default 10 000). */
  timeoutMs?: number
  /** Delay between attempts, in milliseconds (default 100). */
  intervalMs?: number
  /** Words describing the awaited condition, used in the timeout error. */
  what?: string
  /** Aborts the wait early. */
  signal?: AbortSignal
}

export class WaitTimeoutError extends Error {
  constructor(
    message: string,
    readonly lastError?: unknown,
    readonly lastValue?: unknown,
  ) {
    super(message)
    this.name = 'WaitTimeoutError'
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message
  try {
    const text = JSON.stringify(value)
    return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}…` : text
  } catch {
    return String(value)
  }
}

/**
 * Thrown from a probe to end the wait at once (e.g. the awaited process died):
 * {@link waitFor} rethrows it instead of retrying.
 */
export class StopWaiting extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StopWaiting'
  }
}

/**
 * Polls `probe` until it returns a value other than `undefined`, `null` or
 * `false`, and returns that value. A probe that throws counts as "not yet";
 * the last error is reported if the time runs out. Throw {@link StopWaiting}
 * to give up early.
 */
export async function waitFor<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 100
  const what = options.what ?? 'condition'
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  let lastValue: unknown
  let attempts = 0
  for (;;) {
    if (options.signal?.aborted) {
      throw new Error(`wait for ${what} aborted`, { cause: options.signal.reason })
    }
    attempts++
    try {
      const value = await probe()
      if (value !== undefined && value !== null && value !== false) return value
      lastValue = value
      lastError = undefined
    } catch (err) {
      if (err instanceof StopWaiting) throw err
      lastError = err
    }
    const remaining = deadline - Date.now()
    if (remaining <= 0) {
      const detail = lastError !== undefined ? `; last error: ${describe(lastError)}` : `; last value: ${describe(lastValue)}`
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${what}${detail}`, lastError, lastValue)
    }
    await sleep(Math.min(intervalMs, remaining))
  }
}

/** Like {@link waitFor} for a boolean predicate. */
export async function waitUntil(predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  await waitFor(async () => ((await predicate()) ? true : undefined), options)
}

/** Rejects if `promise` does not settle within `ms` milliseconds. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(`${what} did not finish within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Measures how long `fn` takes, in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now()
  const value = await fn()
  return { value, ms: Math.round(performance.now() - start) }
}
