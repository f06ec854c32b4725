import { ExitCode } from '../errors.js'

/** How long cleanup may take after a signal before the process exits anyway. */
const FORCED_EXIT_MS = 10_000

export interface SignalStop {
  /** Aborts (with the signal's name as reason) on the first SIGINT or SIGTERM. */
  signal: AbortSignal
  /** Resolves once the signal aborts. */
  stopped(): Promise<void>
  /** Cleanup finished: cancels the forced exit. */
  done(): void
}

/**
 * Stops a long-running command on SIGINT or SIGTERM: `onFirst` runs for the
 * first one, then the signal aborts. Never hangs on shutdown: when cleanup has
 * not called done() within 10 s, the process exits with an error.
 */
export function untilSignal(onFirst: (sig: NodeJS.Signals) => void): SignalStop {
  const stop = new AbortController()
  let force: NodeJS.Timeout | undefined
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) return
    onFirst(sig)
    force = setTimeout(() => {
      process.stderr.write(`error: cleanup did not finish within ${FORCED_EXIT_MS / 1000}s; exiting\n`)
      process.exit(ExitCode.Failure)
    }, FORCED_EXIT_MS)
    force.unref()
    stop.abort(sig)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  return {
    signal: stop.signal,
    stopped: async () => {
      if (!stop.signal.aborted) await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }))
    },
    done: () => clearTimeout(force),
  }
}
