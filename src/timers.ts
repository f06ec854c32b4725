/**
 * Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay fires
 * after 1 ms with a TimeoutOverflowWarning. Timers whose delay comes from the
 * operator (--timeout) go through setLongTimeout, which re-arms in steps.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

export interface LongTimeout {
  clear(): void
}

/** Calls `fn` once after `ms` (never before the next turn of the event loop; Infinity never fires). */
export function setLongTimeout(fn: () => void, ms: number): LongTimeout {
  if (Number.isNaN(ms)) throw new RangeError('the timeout is not a number')
  if (ms === Infinity) return { clear: () => {} }
  const due = Date.now() + Math.max(0, ms)
  let timer: NodeJS.Timeout
  const arm = (left: number): void => {
    timer = setTimeout(
      () => {
        const rest = due - Date.now()
        if (rest > 0) arm(rest)
        else fn()
      },
      Math.min(left, MAX_TIMER_MS),
    )
  }
  arm(due - Date.now())
  return { clear: () => clearTimeout(timer) }
}
