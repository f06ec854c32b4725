import { statSync } from 'node:fs'
import { dirname } from 'node:path'

function kind(path: string): 'missing' | 'directory' | 'socket' | 'other' {
  try {
    const st = statSync(path)
    return st.isDirectory() ? 'directory' : st.isSocket() ? 'socket' : 'other'
  } catch {
    return 'missing'
  }
}

/**
 * Why a unix socket cannot be created at `path` for a reason other than
 * privileges: Node reports a missing directory as "permission denied".
 */
export function listenSocketProblem(path: string): string | undefined {
  const dir = dirname(path)
  const k = kind(dir)
  if (k === 'missing') return `the directory ${dir} does not exist`
  if (k !== 'directory') return `${dir} is not a directory`
  return undefined
}

/**
 * Why the unix socket `path` cannot be connected to when the path itself is
 * wrong (a missing directory, a file that is not a socket); undefined when the
 * directory exists and the socket is merely missing or not listening.
 */
export function connectSocketProblem(path: string): string | undefined {
  const problem = listenSocketProblem(path)
  if (problem) return problem
  const k = kind(path)
  return k === 'directory' || k === 'other' ? `${path} is not a socket` : undefined
}
