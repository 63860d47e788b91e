import { execFile as execFileCallback, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './ports.ts'
import type { PostgresServer } from './postgres.ts'

const execFile = promisify(execFileCallback)

/** Debian's pgbouncer (1.18 on bookworm); .ci/setup.d/35-pgbouncer.sh installs it. */
const pgbouncerBinary = '/usr/sbin/pgbouncer'

export type PoolMode = 'session' | 'transaction' | 'statement'

export interface PgBouncer {
  readonly host: string
  readonly port: number
  readonly mode: PoolMode
  /** The log so far, for diagnosing a failure. */
  log(): Promise<string>
  stop(): Promise<void>
}

export interface PgBouncerOptions {
  readonly mode: PoolMode
  /** Roles that may log in through the pooler; their SCRAM verifiers are copied from pg_authid into auth_file. */
  readonly users: readonly string[]
  /** Server connections per database and user (default 20). */
  readonly poolSize?: number
}

const runAsRoot = process.getuid?.() === 0

/**
 * Starts a real PgBouncer in front of `server` on a free loopback port: every database (`* =`), SCRAM logins
 * checked against the verifiers the server holds (so PgBouncer logs in to the server with the client's own
 * proof, no plaintext anywhere). PgBouncer refuses to run as root: as root it runs as the postgres OS user.
 */
export async function startPgBouncer(server: PostgresServer, options: PgBouncerOptions): Promise<PgBouncer> {
  if (!existsSync(pgbouncerBinary))
    throw new Error(`${pgbouncerBinary} is missing: install Debian's pgbouncer (.ci/setup.d/35-pgbouncer.sh does)`)
  const dir = await mkdtemp(join(tmpdir(), 'dbhook-pgbouncer-'))
  const rows = await server.query<{ rolname: string; rolpassword: string | null }>(
    'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
    [options.users],
  )
  const quoted = (value: string) => `"${value.replace(/"/g, '""')}"`
  await writeFile(join(dir, 'userlist.txt'), rows.map((r) => `${quoted(r.rolname)} ${quoted(r.rolpassword ?? '')}\n`).join(''), {
    mode: 0o600,
  })
  const port = await freePort()
  const ini = [
    '[databases]',
    `* = host=127.0.0.1 port=${server.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    `pool_mode = ${options.mode}`,
    `default_pool_size = ${options.poolSize ?? 20}`,
    'max_client_conn = 1000',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n')
  await writeFile(join(dir, 'pgbouncer.ini'), ini, { mode: 0o600 })
  if (runAsRoot) {
    const { uid, gid } = postgresUser()
    for (const name of ['', 'userlist.txt', 'pgbouncer.ini']) await chown(join(dir, name), uid, gid)
  }
  const [command, args] = runAsRoot
    ? ['runuser', ['-u', 'postgres', '--', pgbouncerBinary, '-d', join(dir, 'pgbouncer.ini')]]
    : [pgbouncerBinary, ['-d', join(dir, 'pgbouncer.ini')]]
  await execFile(command, args as string[])
  const log = () => readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => '')
  await waitForPort(port, log)
  const pid = Number((await readFile(join(dir, 'pgbouncer.pid'), 'utf8')).trim())
  return {
    host: '127.0.0.1',
    port,
    mode: options.mode,
    log,
    async stop() {
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        // already gone
      }
      for (let waited = 0; waited < 5000 && alive(pid); waited += 50) await new Promise((r) => setTimeout(r, 50))
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitForPort(port: number, log: () => Promise<string>): Promise<void> {
  for (let waited = 0; ; waited += 50) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (waited > 10_000) throw new Error(`pgbouncer did not listen on ${port} within 10 s:\n${await log()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim())
  const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim())
  if (!Number.isInteger(uid) || uid === 0)
    throw new Error('tests run as root need an OS user named postgres (PgBouncer refuses to run as root)')
  return { uid, gid }
}
