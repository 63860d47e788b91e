import { execFile as execFileCallback } from 'node:child_process'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { postgresBinaries, testedMajors, type PostgresServer } from '../support/postgres.ts'

const execFile = promisify(execFileCallback)

/** The newest PostgreSQL in the tested matrix: cases that are not about versions run there only. */
export function newestMajor(): number {
  return Math.max(...testedMajors())
}

/**
 * The least-privilege majors: 13 (membership rules) and 18 (SET ROLE rules) as far as the matrix holds them, else
 * the newest tested major, so that narrowing PG_MAJORS never leaves these cases out.
 */
export function leastPrivilegeMajors(): number[] {
  const wanted = testedMajors().filter((major) => major === 13 || major === 18)
  return wanted.length > 0 ? wanted : [newestMajor()]
}

/** Restarts the server in place (pg_ctl restart -m fast), as an operator or a failover would. */
export async function restartPostgres(server: PostgresServer): Promise<void> {
  const bin = await postgresBinaries(server.major)
  const args = ['restart', '-m', 'fast', '-w', '-t', '60', '-D', server.dataDir, '-l', join(dirname(server.dataDir), 'server.log')]
  const [command, argv] =
    process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args]] : [join(bin, 'pg_ctl'), args]
  await execFile(command, argv as string[])
}

/** Sessions dbhook has open on the server (it connects with application_name 'dbhook'). */
export async function dbhookSessions(server: PostgresServer): Promise<number> {
  const rows = await server.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'dbhook'")
  return rows[0]?.n ?? -1
}

/**
 * Waits until dbhook has no session on the server; returns how long that took after dbhook exited. A backend
 * leaves pg_stat_activity a moment after its client closed the socket, so a little patience is fair; a leaked
 * connection never goes.
 */
export async function waitForNoDbhookSessions(server: PostgresServer, limitMs = 2000): Promise<number> {
  const started = Date.now()
  for (;;) {
    const open = await dbhookSessions(server)
    if (open === 0) return Date.now() - started
    if (Date.now() - started > limitMs)
      throw new Error(`${open} dbhook session(s) still open on the server ${limitMs} ms after dbhook exited`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export async function databaseNames(server: PostgresServer): Promise<string[]> {
  return (await server.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY datname')).map((r) => r.datname)
}

export async function roleNames(server: PostgresServer): Promise<string[]> {
  return (await server.query<{ rolname: string }>('SELECT rolname FROM pg_roles ORDER BY rolname')).map((r) => r.rolname)
}
