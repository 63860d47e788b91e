import { dirname } from 'node:path'
import { Writable, type Readable } from 'node:stream'
import type { BackupEngine, BackupSession } from '../../backup/backup-engine.ts'
import { findTool, runTool } from '../../backup/backup-process.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { HostPort } from '../../config/config.ts'
import type { RunContext } from '../engine.ts'
import { connectPostgres, connectWithWait } from './postgres-connect.ts'
import { readTlsMaterial, type TlsMaterial } from './postgres-tls.ts'

/**
 * The environment of pg_dump and pg_restore: the host the admin session chose among DBHOOK_HOST (not the list,
 * which libpq would try from the top), and libpq's words for DBHOOK_SSLMODE (the configuration already maps
 * MySQL's and the Go driver's words to them).
 */
function libpqEnvironment(context: RunContext, endpoint: HostPort, database: string): Record<string, string> {
  const { config } = context
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: endpoint.host,
    PGPORT: String(endpoint.port),
    PGUSER: config.admin.user,
    PGDATABASE: database,
    PGSSLMODE: config.tls.mode,
    PGAPPNAME: 'dbhook',
    PGCONNECT_TIMEOUT: String(Math.max(2, Math.ceil(config.connectTimeoutMs / 1000))),
  }
  if (config.admin.password !== undefined) env.PGPASSWORD = config.admin.password
  if (config.tls.rootCert) env.PGSSLROOTCERT = config.tls.rootCert
  if (config.tls.cert) env.PGSSLCERT = config.tls.cert
  if (config.tls.key) env.PGSSLKEY = config.tls.key
  return env
}

/** A conninfo naming only the database, so that a database name holding `=` is never read as a connection string. */
function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

async function findPostgresTools(context: RunContext): Promise<{ pgDump: string; pgRestore: string }> {
  const override = context.config.backup.pgDump
  const pgDump = await findTool(['pg_dump'], process.env.PATH ?? '', override)
  const pgRestore = pgDump ? await findTool(['pg_restore'], dirname(pgDump)) : undefined
  if (!pgDump || !pgRestore) {
    const where = override ? `DBHOOK_PG_DUMP ${JSON.stringify(override)} (and pg_restore beside it)` : 'pg_dump and pg_restore on PATH'
    throw new DbhookError(`${where} not found: backups need the PostgreSQL client tools, at least the server's major version (the -pgtools image has them)`, ExitCode.config)
  }
  return { pgDump, pgRestore }
}

export async function postgresBackupEngine(context: RunContext): Promise<BackupEngine> {
  const { config, log } = context
  const { pgDump, pgRestore } = await findPostgresTools(context)
  const adminDatabase = config.admin.database
  let tls: TlsMaterial | undefined
  const material = () => (tls ??= readTlsMaterial(config.tls, log))
  // Set by connect(), which every command calls before the tools run.
  let chosen: HostPort | undefined
  const endpoint = (): HostPort => {
    if (!chosen) throw new Error('the backup engine ran a tool before connect() chose a host')
    return chosen
  }
  return {
    dump: (database: string, output: Writable) =>
      runTool({ command: pgDump, args: ['--format=custom', '--no-password'], env: libpqEnvironment(context, endpoint(), database), output, signal: context.signal }),
    // `pg_restore --list` reads only the table of contents; turning the whole archive into a script (thrown away)
    // also reads and decompresses every data block, so a dump cut short fails here rather than at restore time.
    check: (input: Readable) => runTool({ command: pgRestore, args: ['--file=-'], env: { PATH: process.env.PATH ?? '' }, input, output: devNull(), signal: context.signal }),
    restore: (file: string, database: string) =>
      runTool({
        command: pgRestore,
        args: ['--no-password', '--exit-on-error', '--single-transaction', `--dbname=${dbnameConninfo(database)}`, file],
        env: libpqEnvironment(context, endpoint(), database),
        signal: context.signal,
      }),
    async connect(): Promise<BackupSession> {
      const admin = { user: config.admin.user, password: config.admin.password, database: adminDatabase }
      const session = await connectWithWait(context, material(), admin, 'DBHOOK_ADMIN_PASSWORD')
      const client = session.client
      chosen = session.endpoint
      const major = Number((await client.query<{ v: string }>('SHOW server_version_num')).rows[0]?.v ?? 0) / 10000
      const ident = (name: string) => client.escapeIdentifier(name)
      return {
        server: `PostgreSQL ${Math.floor(major)}`,
        async databaseExists(name) {
          return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
        },
        async createDatabase(name) {
          await client.query(`CREATE DATABASE ${ident(name)} OWNER ${ident(config.owner.name)}`)
        },
        async dropDatabase(name) {
          await client.query(`DROP DATABASE IF EXISTS ${ident(name)}`)
        },
        async otherSessions(name) {
          const { rows } = await client.query<{ pid: number; usename: string | null; application_name: string; client_addr: string | null }>(
            'SELECT pid, usename, application_name, client_addr::text FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid',
            [name],
          )
          return rows.map((r) => `pid ${r.pid} ${r.usename ?? '?'}@${r.client_addr ?? 'local'}${r.application_name ? ` (${r.application_name})` : ''}`)
        },
        async rowCounts(name) {
          const inDatabase = await connectPostgres(config, material(), { ...admin, database: name }, session.endpoint, config.connectTimeoutMs, log)
          try {
            const { rows: tables } = await inDatabase.query<{ schema: string; table: string }>(
              `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
               ORDER BY 1, 2`,
            )
            const counts = new Map<string, number>()
            for (const { schema, table } of tables) {
              const { rows } = await inDatabase.query<{ n: string }>(`SELECT count(*) AS n FROM ${ident(schema)}.${ident(table)}`)
              counts.set(`${schema}.${table}`, Number(rows[0]?.n ?? 0))
            }
            return counts
          } finally {
            await inDatabase.end().catch(() => undefined)
          }
        },
        async close() {
          await client.end().catch(() => undefined)
        },
      }
    },
  }
}

function devNull(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() })
}
