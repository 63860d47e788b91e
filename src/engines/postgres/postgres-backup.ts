import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PassThrough, Transform, Writable, type Readable } from 'node:stream'
import { promisify } from 'node:util'
import type pg from 'pg'
import type { BackupEngine, BackupSession } from '../../backup/backup-engine.ts'
import type { Manifest } from '../../backup/backup-manifest.ts'
import { findTool, runTool } from '../../backup/backup-process.ts'
import { countRows, readInventory, readObjects } from './postgres-inventory.ts'
import { dropAbandonedLendings, ownerAccess, type OwnerAccess } from './postgres-owner-access.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { HostPort } from '../../config/config.ts'
import type { RunContext } from '../engine.ts'
import { connectPostgres, connectWithWait } from './postgres-connect.ts'
import { inspectServer, type AdminFacts } from './postgres-inspect.ts'
import { grantMembershipSql, quoteIdentifier as ident, revokeMembershipSql } from './postgres-statements.ts'
import { readTlsMaterial, type TlsMaterial } from './postgres-tls.ts'

const run = promisify(execFile)

/**
 * The environment of pg_dump, pg_restore and psql: the host the admin session chose among DBHOOK_HOST (not the
 * list, which libpq would try from the top), the login that acts as the owner, and libpq's words for
 * DBHOOK_SSLMODE (the configuration already maps MySQL's and the Go driver's words to them).
 */
function libpqEnvironment(
  context: RunContext,
  endpoint: HostPort,
  database: string,
  login: { user: string; password?: string },
): Record<string, string> {
  const { config } = context
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: endpoint.host,
    PGPORT: String(endpoint.port),
    PGUSER: login.user,
    PGDATABASE: database,
    PGSSLMODE: config.tls.mode,
    PGAPPNAME: 'dbhook',
    PGCONNECT_TIMEOUT: String(Math.max(2, Math.ceil(config.connectTimeoutMs / 1000))),
  }
  if (login.password !== undefined) env.PGPASSWORD = login.password
  if (config.tls.rootCert) env.PGSSLROOTCERT = config.tls.rootCert
  if (config.tls.cert) env.PGSSLCERT = config.tls.cert
  if (config.tls.key) env.PGSSLKEY = config.tls.key
  return env
}

/** A conninfo naming only the database, so that a database name holding `=` is never read as a connection string. */
function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

interface PostgresTools {
  readonly pgDump: string
  readonly pgRestore: string
  /** psql beside pg_restore, needed only to restore into a server older than 17 with pg_restore 17 or newer. */
  readonly psql?: string
}

async function findPostgresTools(context: RunContext): Promise<PostgresTools> {
  const override = context.config.backup.pgDump
  const pgDump = await findTool(['pg_dump'], process.env.PATH ?? '', override)
  const pgRestore = pgDump ? await findTool(['pg_restore'], dirname(pgDump)) : undefined
  if (!pgDump || !pgRestore) {
    const where = override ? `DBHOOK_PG_DUMP ${JSON.stringify(override)} (and pg_restore beside it)` : 'pg_dump and pg_restore on PATH'
    throw new DbhookError(
      `${where} not found: backups need the PostgreSQL client tools, at least the server's major version (the -pgtools image has them)`,
      ExitCode.config,
    )
  }
  return { pgDump, pgRestore, psql: await findTool(['psql'], dirname(pgRestore)) }
}

/** The major version a PostgreSQL client tool reports (`pg_dump (PostgreSQL) 15.18 (Debian …)` is 15). */
export function toolMajor(versionOutput: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(versionOutput)
  if (!match) return undefined
  const major = Number(match[1])
  return major >= 10 ? major : Number(`${major}.${match[2] ?? 0}`)
}

async function versionOf(tool: string): Promise<{ major: number; text: string }> {
  const { stdout } = await run(tool, ['--version'], { env: { PATH: process.env.PATH ?? '' } })
  const major = toolMajor(stdout)
  if (major === undefined)
    throw new DbhookError(`${tool} --version said ${JSON.stringify(stdout.trim())}, not a PostgreSQL version`, ExitCode.config)
  return { major, text: stdout.trim() }
}

export async function postgresBackupEngine(context: RunContext): Promise<BackupEngine> {
  const tools = await findPostgresTools(context)
  return {
    // Turning the whole archive into a script (thrown away) reads and decompresses every data block, so a dump
    // cut short fails here rather than at restore time; `pg_restore --list` would read only the table of contents.
    check: (input: Readable) =>
      runTool({
        command: tools.pgRestore,
        args: ['--file=-'],
        env: { PATH: process.env.PATH ?? '' },
        input,
        output: devNull(),
        signal: context.signal,
      }),
    connect: () => connectSession(context, tools),
  }
}

async function connectSession(context: RunContext, tools: PostgresTools): Promise<BackupSession> {
  const { config, log } = context
  const tls: TlsMaterial = readTlsMaterial(config.tls, log)
  const adminLogin = { user: config.admin.user, password: config.admin.password }
  const { client, endpoint } = await connectWithWait(
    context,
    tls,
    { ...adminLogin, database: config.admin.database },
    'DBHOOK_ADMIN_PASSWORD',
  )
  const connectTo = (database: string, login: { user: string; password?: string }) =>
    connectPostgres(config, tls, { ...login, database }, endpoint, config.connectTimeoutMs, log)
  let access: OwnerAccess | undefined
  try {
    // The same facts apply reads: the server's version (read once, here) and what the admin may do for the owner.
    // Lendings of killed runs go first: the facts must not count on them.
    await dropAbandonedLendings(client, context)
    const { facts } = await inspectServer(
      client,
      { roles: [{ name: config.owner.name, kind: 'owner' }], databases: [] },
      Promise.resolve(new Map()),
      [],
    )
    access = await ownerAccess({ client, facts, context, connectAdmin: () => connectTo(config.admin.database, adminLogin) })
    log.debug({ mode: access.mode, owner: access.owner }, 'acting as the owner')
    return new PostgresBackupSession(context, tools, client, endpoint, facts, access, connectTo)
  } catch (error) {
    await access?.release()
    await client.end().catch(() => undefined)
    throw error
  }
}

class PostgresBackupSession implements BackupSession {
  readonly server: string
  private restoreMajor: number | undefined

  constructor(
    private readonly context: RunContext,
    private readonly tools: PostgresTools,
    private readonly client: pg.Client,
    /** The host the admin session chose: the tools go there too. */
    private readonly endpoint: HostPort,
    private readonly facts: AdminFacts,
    private readonly access: OwnerAccess,
    private readonly connectTo: (database: string, login: { user: string; password?: string }) => Promise<pg.Client>,
  ) {
    this.server = `PostgreSQL ${facts.major}`
  }

  /** pg_dump refuses (or worse, misreads) a server of a newer major: say so before anything is written. */
  async readyToDump(): Promise<void> {
    const { major, text } = await versionOf(this.tools.pgDump)
    if (major < this.facts.major) {
      throw new DbhookError(
        `${this.tools.pgDump} is pg_dump ${major} (${text}), older than the server, PostgreSQL ${this.facts.major}: pg_dump dumps servers up to its own major version; ` +
          `use pg_dump ${this.facts.major} or newer (DBHOOK_PG_DUMP, or the -pgtools image)`,
        ExitCode.config,
      )
    }
  }

  /** A session in `database` that acts as the owner (reads the owner's tables). */
  private async asOwner(database: string): Promise<pg.Client> {
    const client = await this.connectTo(database, this.access.login)
    try {
      if (this.access.setRole) await client.query(this.access.setRole)
    } catch (error) {
      await client.end().catch(() => undefined)
      throw error
    }
    return client
  }

  /**
   * One REPEATABLE READ transaction exports its snapshot; pg_dump --snapshot dumps exactly what that transaction
   * sees while it stays open, and the manifest is read in it meanwhile. Sequences are read before pg_dump starts:
   * they are not transactional, so pg_dump, which reads them later, can only find them further on.
   */
  async dump(database: string, output: Writable): Promise<Manifest> {
    const client = await this.connectTo(database, this.access.login)
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY')
      if (this.access.setRole) await client.query(this.access.setRole.replace(/^SET /, 'SET LOCAL '))
      const { snapshot, at } = (await client.query<{ snapshot: string; at: Date }>('SELECT pg_export_snapshot() AS snapshot, now() AS at'))
        .rows[0]!
      const { objects, sequences, tables } = await readObjects(client)
      const dumping = runTool({
        command: this.tools.pgDump,
        args: ['--format=custom', '--no-password', `--snapshot=${snapshot}`, ...this.access.toolArgs],
        env: libpqEnvironment(this.context, this.endpoint, database, this.access.login),
        output,
        signal: this.context.signal,
      })
      const [dumped, counted] = await Promise.allSettled([dumping, countRows(client, tables)])
      if (dumped.status === 'rejected') throw dumped.reason
      if (counted.status === 'rejected')
        throw new Error(`counting the rows in the dump's snapshot failed: ${(counted.reason as Error).message}`)
      await client.query('COMMIT')
      return {
        database,
        server: this.server,
        snapshotAt: new Date(at),
        method: 'snapshot',
        inventory: { tables: counted.value, objects, sequences },
      }
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  /**
   * pg_restore into `database`, acting as the owner: objects come out owned by it (`--no-owner`; a superuser
   * keeps the dump's owners). Without superuser, entries only a superuser may restore are left out: comments on
   * extensions (a CREATE EXTENSION already gives the extension its comment) and event triggers (with a warning).
   */
  async restore(file: string, database: string): Promise<void> {
    const { log } = this.context
    const superuser = this.facts.superuser
    const scratch = await mkdtemp(join(tmpdir(), 'dbhook-restore-list-'))
    try {
      const args = ['--no-password', ...(superuser ? [] : ['--no-owner']), ...this.access.toolArgs]
      if (!superuser) {
        const { kept, left } = filterList(await this.list(file))
        for (const entry of left.filter((e) => e.includes('EVENT TRIGGER')))
          log.warn(`restore leaves out ${entry.replace(/^\S+ \S+ \S+ /, '')}: only a superuser may create event triggers`)
        const listFile = join(scratch, 'restore.list')
        await writeFile(listFile, `${kept.join('\n')}\n`, { mode: 0o600 })
        args.push(`--use-list=${listFile}`)
      }
      const env = libpqEnvironment(this.context, this.endpoint, database, this.access.login)
      // pg_restore 17+ sends `SET transaction_timeout`, which older servers reject; a script through psql lets
      // dbhook leave that one line out.
      this.restoreMajor ??= (await versionOf(this.tools.pgRestore)).major
      if (this.restoreMajor >= 17 && this.facts.major < 17) return await this.restoreThroughPsql(file, database, args, env)
      await runTool({
        command: this.tools.pgRestore,
        args: [...args, '--exit-on-error', '--single-transaction', `--dbname=${dbnameConninfo(database)}`, file],
        env,
        signal: this.context.signal,
      })
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }

  private async list(file: string): Promise<string[]> {
    const lines = new PassThrough()
    const chunks: Buffer[] = []
    lines.on('data', (chunk: Buffer) => chunks.push(chunk))
    await runTool({
      command: this.tools.pgRestore,
      args: ['--list', file],
      env: { PATH: process.env.PATH ?? '' },
      output: lines,
      signal: this.context.signal,
    })
    return Buffer.concat(chunks).toString('utf8').split('\n')
  }

  private async restoreThroughPsql(file: string, database: string, args: string[], env: Record<string, string>): Promise<void> {
    if (!this.tools.psql) {
      throw new DbhookError(
        `${this.tools.pgRestore} is newer than 16 and the server is PostgreSQL ${this.facts.major}: restoring needs psql beside pg_restore, which is missing`,
        ExitCode.config,
      )
    }
    const script = withoutTransactionTimeout()
    const results = await Promise.allSettled([
      runTool({
        command: this.tools.pgRestore,
        args: [...args, '--file=-', file],
        env: { PATH: env.PATH! },
        output: script,
        signal: this.context.signal,
      }),
      runTool({
        command: this.tools.psql,
        args: ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', '--single-transaction', `--dbname=${dbnameConninfo(database)}`],
        env,
        input: script,
        signal: this.context.signal,
      }),
    ])
    // psql's error says what failed; pg_restore's would only be the broken pipe.
    const failed = [results[1], results[0]].find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
  }

  async databaseExists(name: string): Promise<boolean> {
    return (await this.client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
  }

  /**
   * A new database owned by the owner. An admin that may act as the owner names it in CREATE DATABASE; one that
   * may not creates it and hands it over in a transaction that lends and takes back the membership (CREATE
   * DATABASE itself cannot run in one).
   */
  async createDatabase(name: string): Promise<void> {
    const owner = this.access.owner
    if (this.access.adminActsAsOwner) {
      await this.client.query(`CREATE DATABASE ${ident(name)} OWNER ${ident(owner)}`)
      return
    }
    await this.client.query(`CREATE DATABASE ${ident(name)}`)
    try {
      await this.inLentTransaction(`ALTER DATABASE ${ident(name)} OWNER TO ${ident(owner)}`)
    } catch (error) {
      await this.client.query(`DROP DATABASE IF EXISTS ${ident(name)}`).catch(() => undefined)
      throw new DbhookError(
        `could not hand the new database ${JSON.stringify(name)} to the owner ${JSON.stringify(owner)}: ${(error as Error).message}`,
        ExitCode.noPermission,
        { cause: error },
      )
    }
  }

  async dropDatabase(name: string): Promise<void> {
    // DROP DATABASE needs the owner's privileges, and cannot run in a transaction. An admin that may SET ROLE to
    // the owner (without inheriting its privileges) drops it as the owner; one that may not takes the database
    // back first, in a transaction that lends and takes back the membership.
    if (this.access.setRole) {
      await this.client.query(this.access.setRole)
      try {
        await this.client.query(`DROP DATABASE IF EXISTS ${ident(name)}`)
      } finally {
        await this.client.query('RESET ROLE')
      }
      return
    }
    if (!this.access.adminActsAsOwner && (await this.databaseExists(name))) {
      await this.inLentTransaction(`ALTER DATABASE ${ident(name)} OWNER TO CURRENT_USER`)
    }
    await this.client.query(`DROP DATABASE IF EXISTS ${ident(name)}`)
  }

  /** Runs `sql` with the owner's membership granted and revoked in the same transaction: a kill rolls both back. */
  private async inLentTransaction(sql: string): Promise<void> {
    const owner = this.access.owner
    try {
      await this.client.query('BEGIN')
      // ALTER DATABASE … OWNER needs the owner's privileges (PostgreSQL 16+: an inheriting grant), for this
      // transaction only.
      await this.client.query(
        this.facts.major >= 16
          ? `GRANT ${ident(owner)} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE`
          : grantMembershipSql(owner, this.facts.major),
      )
      await this.client.query(sql)
      await this.client.query(revokeMembershipSql(owner))
      await this.client.query('COMMIT')
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined)
      throw error
    }
  }

  async otherSessions(name: string): Promise<string[]> {
    const { rows } = await this.client.query<{ pid: number; usename: string | null; application_name: string; client_addr: string | null }>(
      'SELECT pid, usename, application_name, client_addr::text FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid',
      [name],
    )
    return rows.map(
      (r) => `pid ${r.pid} ${r.usename ?? '?'}@${r.client_addr ?? 'local'}${r.application_name ? ` (${r.application_name})` : ''}`,
    )
  }

  async inventory(name: string) {
    const client = await this.asOwner(name)
    try {
      return await readInventory(client)
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    await this.access.release()
    await this.client.end().catch(() => undefined)
  }
}

/** pg_restore's table of contents without the entries only a superuser may restore. */
export function filterList(lines: readonly string[]): { kept: string[]; left: string[] } {
  const superuserOnly = /^\d+; \d+ \d+ (?:COMMENT - EXTENSION |EVENT TRIGGER |COMMENT - EVENT TRIGGER )/
  return { kept: lines.filter((l) => !superuserOnly.test(l)), left: lines.filter((l) => superuserOnly.test(l)) }
}

/**
 * Passes a pg_restore script through, less the `SET transaction_timeout = 0;` of its preamble (only there: the
 * same text further on may be data).
 */
export function withoutTransactionTimeout(): Transform {
  const preambleEnd = /\n--\n-- (?:Name|TOC entry|Data for Name): /
  let head: Buffer | undefined = Buffer.alloc(0)
  const release = (stream: Transform) => {
    const text = head!.toString('latin1')
    head = undefined
    stream.push(Buffer.from(text.replace(/^SET transaction_timeout = 0;\n/m, ''), 'latin1'))
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (head === undefined) return callback(null, chunk)
      head = Buffer.concat([head, chunk])
      if (head.length > 65_536 || preambleEnd.test(head.toString('latin1'))) release(this)
      callback()
    },
    flush(callback) {
      if (head !== undefined) release(this)
      callback()
    },
  })
}

function devNull(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() })
}
