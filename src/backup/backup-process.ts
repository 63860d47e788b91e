import { spawn } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export interface ToolRun {
  /** Program path and its arguments: never a password. */
  readonly command: string
  readonly args: readonly string[]
  /** The child's whole environment; passwords go here (PGPASSWORD, MYSQL_PWD), seen by the child only. */
  readonly env: Readonly<Record<string, string>>
  /** Fed to the child's stdin. */
  readonly input?: Readable
  /** Receives the child's stdout. */
  readonly output?: Writable
  readonly signal?: AbortSignal
}

class ToolError extends Error {}

/**
 * Runs one client tool (pg_dump, pg_restore, mariadb-dump, mariadb) and resolves once it exited 0 and its
 * streams are done; otherwise rejects with a ToolError holding the end of what the tool said on stderr.
 */
export async function runTool(run: ToolRun): Promise<void> {
  const child = spawn(run.command, [...run.args], {
    env: { ...run.env },
    stdio: [run.input ? 'pipe' : 'ignore', run.output ? 'pipe' : 'ignore', 'pipe'],
    signal: run.signal,
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<number | string>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  const streams: Promise<void>[] = []
  // A tool that exits early closes its stdin: EPIPE there says less than its exit status and stderr.
  if (run.input)
    streams.push(
      pipeline(run.input, child.stdin!).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error
      }),
    )
  if (run.output) streams.push(pipeline(child.stdout!, run.output))
  const [streamsResult, status] = await Promise.all([
    Promise.allSettled(streams),
    exited.catch((error: Error) => `could not start: ${error.message}`),
  ])
  const name = run.command.split('/').at(-1)
  if (status !== 0) {
    const said = stderr.trim().split('\n').slice(-3).join(' / ')
    throw new ToolError(`${name} ${typeof status === 'number' ? `exited with status ${status}` : status}${said ? `: ${said}` : ''}`)
  }
  const failed = streamsResult.find((r) => r.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
}

/** The first executable among `names`, looked up on `path` (a PATH value); `override` (a path) wins. */
export async function findTool(names: readonly string[], path: string, override?: string): Promise<string | undefined> {
  const candidates = override
    ? [override]
    : names.flatMap((name) =>
        path
          .split(':')
          .filter(Boolean)
          .map((dir) => `${dir}/${name}`),
      )
  for (const candidate of candidates) {
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate
  }
  return undefined
}
