import { createReadStream } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import type { RowDataPacket } from 'mysql2/promise'
import { pipeline } from 'node:stream/promises'
import type { BackupEngine, BackupSession } from '../../backup/backup-engine.ts'
import type { Inventory, Manifest } from '../../backup/backup-manifest.ts'
import { MysqlDumpInventory } from './mysql-dump-inventory.ts'
import { findTool, runTool } from '../../backup/backup-process.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { RunContext } from '../engine.ts'
import { closeMysql, connectMysqlWithWait } from './mysql-connect.ts'
import { MysqlErrno } from './mysql-errno.ts'
import { serverErrno } from './mysql-errors.ts'
import { checkCharset, createDatabaseSql, grantOwnerSql, grantPattern, quoteAccount, quoteIdentifier } from './mysql-statements.ts'
import { readMysqlTlsMaterial } from './mysql-tls.ts'

/** Connection arguments for the MariaDB/MySQL command-line clients; the password goes in MYSQL_PWD, never here. */
function clientArguments(context: RunContext): string[] {
  const { config } = context
  const args = ['--no-defaults', '--protocol=TCP', `--host=${config.host}`, `--port=${config.port}`, `--user=${config.admin.user}`]
  switch (config.tls.mode) {
    case 'disable':
      args.push('--skip-ssl')
      break
    case 'require':
      args.push('--ssl')
      break
    case 'verify-ca':
    case 'verify-full':
      args.push('--ssl', '--ssl-verify-server-cert')
      break
    default:
      break
  }
  if (config.tls.rootCert && config.tls.rootCert !== 'system' && config.tls.mode !== 'disable') args.push(`--ssl-ca=${config.tls.rootCert}`)
  if (config.tls.cert && config.tls.key && config.tls.mode !== 'disable')
    args.push(`--ssl-cert=${config.tls.cert}`, `--ssl-key=${config.tls.key}`)
  return args
}

function clientEnvironment(context: RunContext): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  if (context.config.admin.password !== undefined) env.MYSQL_PWD = context.config.admin.password
  return env
}

/**
 * A dump mariadb-dump/mysqldump finished starts with its `-- MariaDB dump` (or `-- MySQL dump`) banner and ends
 * with `-- Dump completed on …`; a dump cut short lacks the last line. Reads the whole stream, keeping only its ends.
 */
export async function checkMysqlDump(input: Readable): Promise<void> {
  let head = Buffer.alloc(0)
  let tail = Buffer.alloc(0)
  for await (const chunk of input as AsyncIterable<Buffer>) {
    if (head.length < 256) head = Buffer.concat([head, chunk]).subarray(0, 256)
    tail = Buffer.concat([tail, chunk]).subarray(-512)
  }
  // MariaDB 10.11.8+ writes a `/*M!999999\- enable the sandbox mode */` line before the banner.
  const firstLines = head.toString('utf8').split('\n').slice(0, 2)
  if (!firstLines.some((line) => line.startsWith('-- MariaDB dump') || line.startsWith('-- MySQL dump'))) {
    throw new Error('it does not start with a mariadb-dump/mysqldump banner')
  }
  const lastLine = tail.toString('utf8').trimEnd().split('\n').at(-1) ?? ''
  if (!lastLine.startsWith('-- Dump completed')) throw new Error('it does not end with "-- Dump completed": the dump is incomplete')
}

export async function mysqlBackupEngine(context: RunContext): Promise<BackupEngine> {
  const { config } = context
  checkCharset(config)
  const path = process.env.PATH ?? ''
  const dumpTool = await findTool(['mariadb-dump', 'mysqldump'], path)
  const client = await findTool(['mariadb', 'mysql'], path)
  if (!dumpTool || !client) {
    throw new DbhookError(
      'mariadb-dump (or mysqldump) and mariadb (or mysql) not found on PATH: backups need the MariaDB/MySQL client tools (the -pgtools image has them)',
      ExitCode.config,
    )
  }
  return {
    check: (input: Readable) => checkMysqlDump(input),
    async connect(): Promise<BackupSession> {
      const material = readMysqlTlsMaterial(config.tls)
      const connection = await connectMysqlWithWait(
        context,
        material,
        { user: config.admin.user, password: config.admin.password },
        'DBHOOK_ADMIN_PASSWORD',
      )
      const [versionRows] = await connection.query<RowDataPacket[]>('SELECT VERSION() AS v')
      const version = String(versionRows[0]?.v ?? '')
      const server = `${/mariadb/i.test(version) ? 'MariaDB' : 'MySQL'} ${version.split('-')[0]}`
      return {
        server,
        readyToDump: async () => undefined,
        async dump(database: string, output: Writable): Promise<Manifest> {
          // mariadb-dump's consistent snapshot starts after this moment: the backup holds at least what was
          // committed by then.
          const [clock] = await connection.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(NOW(6)) AS t')
          const snapshotAt = new Date(Number(clock[0]?.t) * 1000)
          const inventory = new MysqlDumpInventory()
          const written = pipeline(inventory, output)
          const dumped = runTool({
            command: dumpTool,
            // No --databases: the dump holds no CREATE DATABASE or USE, so it restores into a database of any name.
            args: [
              ...clientArguments(context),
              '--single-transaction',
              '--routines',
              '--triggers',
              '--hex-blob',
              '--default-character-set=utf8mb4',
              '--',
              database,
            ],
            env: clientEnvironment(context),
            output: inventory,
            signal: context.signal,
          })
          const results = await Promise.allSettled([dumped, written])
          const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
          if (failed) throw failed.reason
          return { database, server, snapshotAt, method: 'dump', inventory: inventory.inventory() }
        },
        restore: (file: string, database: string) =>
          runTool({
            command: client,
            args: [...clientArguments(context), '--default-character-set=utf8mb4', '--batch', `--database=${database}`],
            env: clientEnvironment(context),
            input: createReadStream(file),
            signal: context.signal,
          }),
        async databaseExists(name) {
          const [rows] = await connection.query<RowDataPacket[]>('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [name])
          return rows.length === 1
        },
        async createDatabase(name) {
          await connection.query(createDatabaseSql(name, config))
          if (config.owner.name !== config.admin.user)
            await connection.query(grantOwnerSql(name, { user: config.owner.name, host: config.mysql.userHost }))
        },
        async dropDatabase(name) {
          await connection.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`)
          // A grant outlives its database in MySQL and would hand the owner a database created later under this name.
          if (config.owner.name !== config.admin.user) {
            await connection
              .query(
                `REVOKE ALL PRIVILEGES ON ${quoteIdentifier(grantPattern(name))}.* FROM ${quoteAccount({ user: config.owner.name, host: config.mysql.userHost })}`,
              )
              .catch((error: unknown) => {
                if (serverErrno(error) !== MysqlErrno.nonexistingGrant) throw error
              })
          }
        },
        async otherSessions(name) {
          const [rows] = await connection.query<RowDataPacket[]>(
            'SELECT id, user, host FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID() ORDER BY id',
            [name],
          )
          return rows.map((r) => `id ${r.id} ${r.user}@${r.host}`)
        },
        async inventory(name): Promise<Inventory> {
          const [listed] = await connection.query<RowDataPacket[]>(
            'SELECT table_name AS t, table_type AS k FROM information_schema.tables WHERE table_schema = ? ORDER BY 1',
            [name],
          )
          const tables = new Map<string, number>()
          const objects = new Set<string>()
          for (const { t, k } of listed) {
            if (k === 'VIEW') objects.add(`view ${t}`)
            else if (k === 'SEQUENCE') objects.add(`sequence ${t}`)
            else if (k === 'BASE TABLE') {
              const [rows] = await connection.query<RowDataPacket[]>(
                `SELECT COUNT(*) AS n FROM ${quoteIdentifier(name)}.${quoteIdentifier(String(t))}`,
              )
              tables.set(String(t), Number(rows[0]?.n ?? 0))
            }
          }
          const [routines] = await connection.query<RowDataPacket[]>(
            'SELECT routine_type AS k, routine_name AS r FROM information_schema.routines WHERE routine_schema = ?',
            [name],
          )
          for (const { k, r } of routines) objects.add(`${String(k).toLowerCase()} ${r}`)
          const [triggers] = await connection.query<RowDataPacket[]>(
            'SELECT trigger_name AS t FROM information_schema.triggers WHERE trigger_schema = ?',
            [name],
          )
          for (const { t } of triggers) objects.add(`trigger ${t}`)
          return { tables, objects, sequences: new Map() }
        },
        async close() {
          await closeMysql(connection)
        },
      }
    },
  }
}
