/**
 * Headless Chromium (the Debian `chromium` package) driven through the
 * DevTools protocol over `--remote-debugging-pipe`: JSON messages ending in
 * a NUL byte on file descriptors 3 (to the browser) and 4 (from it). No
 * WebSocket client is needed.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import type { TestNetwork } from './netns.js'
import { withTimeout } from './wait.js'

interface SkippableContext {
  skip(message?: string): void
}

/** The chromium binary: $CHROMIUM when that file exists, else `chromium` on PATH; undefined when there is none. */
export function chromiumBinary(): string | undefined {
  if (process.env.CHROMIUM) return existsSync(process.env.CHROMIUM) ? process.env.CHROMIUM : undefined
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/** The binary, or skips `t` with a message saying how to install it. */
export function requireChromium(t: SkippableContext): string | undefined {
  const bin = chromiumBinary()
  if (!bin) t.skip('chromium is not installed (Debian: apt-get install chromium), or set CHROMIUM')
  return bin
}

export interface Browser {
  /** Loads a URL in the page and waits for its load event. */
  navigate(url: string): Promise<void>
  /** Evaluates an expression in the page; its value, returned by value. */
  evaluate<T = unknown>(expression: string): Promise<T>
  /** A PNG of the whole page, written to `path`. */
  screenshot(path: string): Promise<void>
  close(): Promise<void>
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }

/**
 * Starts headless Chromium in a test namespace (where it reaches only what the
 * namespace reaches) with a fresh profile, and attaches to its page.
 */
export async function launchChromium(opts: { net: TestNetwork; ns: string; binary: string; width?: number; height?: number }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'kctl-chromium-'))
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--remote-debugging-pipe',
    `--user-data-dir=${profile}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--hide-scrollbars',
    '--mute-audio',
    `--window-size=${opts.width ?? 1280},${opts.height ?? 1000}`,
    'about:blank',
  ]
  const child: ChildProcess = opts.net.spawn(opts.ns, opts.binary, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
  const toBrowser = child.stdio[3] as Writable
  const fromBrowser = child.stdio[4] as Readable
  const pending = new Map<number, Pending>()
  const events: ((msg: Record<string, unknown>) => void)[] = []
  let nextId = 1
  let buffer = Buffer.alloc(0)
  const failAll = (why: string): void => {
    for (const p of pending.values()) p.reject(new Error(`${why}; chromium said: ${stderr.slice(-1000)}`))
    pending.clear()
  }
  child.once('exit', (code, signal) => failAll(`chromium exited (${code ?? signal})`))
  fromBrowser.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk])
    for (let end = buffer.indexOf(0); end >= 0; end = buffer.indexOf(0)) {
      const msg = JSON.parse(buffer.subarray(0, end).toString('utf8')) as Record<string, unknown>
      buffer = buffer.subarray(end + 1)
      const p = typeof msg.id === 'number' ? pending.get(msg.id) : undefined
      if (p) {
        pending.delete(msg.id as number)
        if (msg.error) p.reject(new Error(`DevTools: ${JSON.stringify(msg.error)}`))
        else p.resolve((msg.result ?? {}) as Record<string, unknown>)
      } else for (const listener of events) listener(msg)
    }
  })
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 15_000): Promise<Record<string, unknown>> => {
    const id = nextId++
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => pending.set(id, { resolve, reject }))
    toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0')
    return withTimeout(reply, timeoutMs, `DevTools ${method}`)
  }

  const close = async (): Promise<void> => {
    await send('Browser.close', {}, undefined, 5000).catch(() => {})
    if (child.exitCode === null && child.signalCode === null) {
      await withTimeout(new Promise((resolve) => child.once('exit', resolve)), 5000, 'chromium to exit').catch(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch {
          /* gone */
        }
      })
    }
    rmSync(profile, { recursive: true, force: true })
  }

  try {
    const { targetInfos } = (await send('Target.getTargets')) as { targetInfos: { targetId: string; type: string }[] }
    const page = targetInfos.find((t) => t.type === 'page')
    if (!page) throw new Error('chromium has no page target')
    const { sessionId } = (await send('Target.attachToTarget', { targetId: page.targetId, flatten: true })) as { sessionId: string }
    await send('Page.enable', {}, sessionId)
    return {
      async navigate(url) {
        const loaded = new Promise<void>((resolve) => events.push((m) => m.method === 'Page.loadEventFired' && m.sessionId === sessionId && resolve()))
        const r = (await send('Page.navigate', { url }, sessionId)) as { errorText?: string }
        if (r.errorText) throw new Error(`chromium could not load ${url}: ${r.errorText}`)
        await withTimeout(loaded, 15_000, `${url} to load`)
      },
      async evaluate<T>(expression: string) {
        const r = (await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId)) as { result: { value?: T }; exceptionDetails?: unknown }
        if (r.exceptionDetails) throw new Error(`page script failed: ${JSON.stringify(r.exceptionDetails)}`)
        return r.result.value as T
      },
      async screenshot(path) {
        const { data } = (await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId)) as { data: string }
        writeFileSync(path, Buffer.from(data, 'base64'))
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
