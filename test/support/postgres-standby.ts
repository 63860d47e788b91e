import { execFile as execFileCallback, spawnSync } from 'node:child_process'
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from './ports.ts'
import { postgresBinaries, startPostgres, type PostgresServer } from './postgres.ts'

const execFile = promisify(execFileCallback)
const runAsRoot = process.getuid?.() === 0

/** A PostgreSQL whose process can be stopped and started again on the same data directory and port. */
export interface ControlledServer extends PostgresServer {
  /** pg_ctl stop -m fast, keeping the data directory. */
  halt(): Promise<void>
  /** pg_ctl start on the same data directory and port. */
  resume(): Promise<void>
  /** pg_ctl promote, waiting until the server accepts writes. */
  promote(): Promise<void>
  isInRecovery(): Promise<boolean>
}

export interface ReplicatedPair {
  readonly primary: ControlledServer
  readonly standby: ControlledServer
  stop(): Promise<void>
}

async function pgCtl(major: number, args: string[]): Promise<void> {
  const pgCtlPath = join(await postgresBinaries(major), 'pg_ctl')
  const [command, argv] = runAsRoot ? ['runuser', ['-u', 'postgres', '--', pgCtlPath, ...args]] : [pgCtlPath, args]
  await execFile(command, argv as string[], { maxBuffer: 16 * 1024 * 1024 })
}

async function asPostgres(command: string, args: string[]): Promise<void> {
  const [cmd, argv] = runAsRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
  await execFile(cmd, argv as string[])
}

function controlled(server: PostgresServer): ControlledServer {
  const logFile = join(dirname(server.dataDir), 'server.log')
  return {
    ...server,
    halt: () => pgCtl(server.major, ['stop', '-m', 'fast', '-w', '-t', '60', '-D', server.dataDir]),
    resume: () => pgCtl(server.major, ['start', '-w', '-t', '60', '-D', server.dataDir, '-l', logFile]),
    async promote() {
      await pgCtl(server.major, ['promote', '-w', '-t', '60', '-D', server.dataDir])
    },
    async isInRecovery() {
      return (await server.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r
    },
  }
}

/**
 * A primary and a streaming hot standby of `major`, both on loopback. The embedded PostgreSQL packages carry no
 * pg_basebackup, and Debian's (15) refuses newer servers, so the standby starts from a cold copy of the cleanly
 * stopped primary (PostgreSQL's file-system-level backup), with standby.signal and a primary_conninfo.
 */
export async function startReplicatedPair(major: number): Promise<ReplicatedPair> {
  const primaryServer = await startPostgres(major, {
    conf: ['wal_level = replica', 'max_wal_senders = 5', 'wal_keep_size = 64MB', 'hot_standby = on'],
  })
  const primary = controlled(primaryServer)
  await primary.halt()
  const root = await mkdtemp(join(tmpdir(), `dbhook-pg${major}-standby-`))
  const dataDir = join(root, 'data')
  if (runAsRoot) await chown(root, postgresUid(), postgresGid())
  await asPostgres('cp', ['-a', primary.dataDir, dataDir])
  await primary.resume()

  const port = await freePort()
  const conninfo = `host=127.0.0.1 port=${primary.port} user=${primary.superuser} password=${primary.password} application_name=standby`
  const conf = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${root}'`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'max_connections = 300',
    'shared_buffers = 32MB',
    'hot_standby = on',
    `primary_conninfo = '${conninfo.replace(/'/g, "''")}'`,
  ]
  await writeFile(join(dataDir, 'postgresql.auto.conf'), `${conf.join('\n')}\n`)
  await writeFile(join(dataDir, 'standby.signal'), '')
  if (runAsRoot) {
    for (const name of ['postgresql.auto.conf', 'standby.signal']) await chown(join(dataDir, name), postgresUid(), postgresGid())
  }
  const logFile = join(root, 'server.log')
  await pgCtl(major, ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile])

  const query: PostgresServer['query'] = async (sql, params = [], opts = {}) => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: opts.user ?? 'postgres',
      password: opts.password ?? primary.password,
      database: opts.database ?? 'postgres',
    })
    await client.connect()
    try {
      return (await client.query(sql, params)).rows
    } finally {
      await client.end()
    }
  }
  const standby = controlled({
    major,
    host: '127.0.0.1',
    port,
    superuser: primary.superuser,
    password: primary.password,
    dataDir,
    query,
    env: (user, password, extra = {}) => ({ ...primary.env(user, password), DBHOOK_PORT: String(port), ...extra }),
    async stop() {
      await pgCtl(major, ['stop', '-m', 'immediate', '-D', dataDir]).catch(() => undefined)
      await rm(root, { recursive: true, force: true })
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
  })
  await waitUntilStreaming(primary)
  return {
    primary,
    standby,
    async stop() {
      await standby.stop()
      await primary.stop()
    },
  }
}

/** Waits until the primary sees its standby streaming. */
async function waitUntilStreaming(primary: PostgresServer): Promise<void> {
  for (let waited = 0; ; waited += 100) {
    const rows = await primary.query<{ state: string }>("SELECT state FROM pg_stat_replication WHERE application_name = 'standby'")
    if (rows[0]?.state === 'streaming') return
    if (waited > 60_000) throw new Error(`the standby did not start streaming within 60 s:\n${(await primary.log()).slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Waits until the standby has replayed everything the primary has written so far. */
export async function waitForReplay(pair: ReplicatedPair): Promise<void> {
  const lsn = (await pair.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn
  for (let waited = 0; ; waited += 50) {
    const rows = await pair.standby.query<{ caught: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught', [lsn])
    if (rows[0]?.caught) return
    if (waited > 60_000) throw new Error('the standby did not replay the primary within 60 s')
    await new Promise((r) => setTimeout(r, 50))
  }
}

const postgresUid = () => Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim())
const postgresGid = () => Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim())
