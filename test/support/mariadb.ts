import { execFile as execFileCallback, spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:fs'
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'
import { freePort } from './ports.ts'

const execFile = promisify(execFileCallback)

/** Test certificates made with openssl: a CA, a server certificate for localhost only (so that 127.0.0.1 is a host name mismatch), and an unrelated CA. */
interface TestCertificates {
  readonly dir: string
  readonly caFile: string
  readonly serverCertFile: string
  readonly serverKeyFile: string
  /** A CA that did not sign the server certificate: verification against it must fail. */
  readonly otherCaFile: string
}

export interface MariadbServer {
  readonly host: string
  readonly port: number
  readonly socket: string
  /** An admin with every privilege and GRANT OPTION, reachable over TCP from 127.0.0.1. */
  readonly admin: string
  readonly password: string
  /** `MariaDB 10.11.x`, from the server. */
  readonly version: string
  readonly tls: boolean
  readonly certificates?: TestCertificates
  /** Runs SQL (placeholders filled by mysql2) as the admin, or as `user`, over TCP; returns the rows. */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: { user?: string; password?: string; database?: string },
  ): Promise<T[]>
  /** Environment for dbhook that reaches this server as `user`. */
  env(user: string, password: string, extra?: Record<string, string>): Record<string, string>
  /** The general query log so far (every statement the server received), when started with `generalLog`. */
  generalLog(): Promise<string>
  stop(): Promise<void>
}

export interface MariadbOptions {
  /** Serve TLS with certificates made for this server. */
  readonly tls?: boolean
  /** Log every statement to a file that `generalLog()` reads. */
  readonly generalLog?: boolean
  /** Addresses to listen on besides 127.0.0.1 (the Kubernetes tests' bridge address, for pods). */
  readonly extraBindAddresses?: readonly string[]
}

/** Makes a CA, a server certificate signed by it (SAN localhost only) and a second, unrelated CA. */
async function makeCertificates(dir: string): Promise<TestCertificates> {
  const file = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => execFile('openssl', args)
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=dbhook test CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  )
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=dbhook other CA',
    '-keyout',
    file('other-ca.key'),
    '-out',
    file('other-ca.pem'),
  )
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr'))
  await writeFile(file('server.ext'), 'subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\n')
  await openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.pem'),
  )
  return {
    dir,
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server.key'),
    otherCaFile: file('other-ca.pem'),
  }
}

/** The path of a MariaDB program: on PATH, or in /usr/sbin where Debian puts mariadbd. */
async function findTool(name: string): Promise<string> {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin']) {
    const path = join(dir, name)
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return path
  }
  throw new Error(
    `${name} is not installed: the MySQL/MariaDB tests need Debian's mariadb-server and mariadb-client (apt-get install mariadb-server mariadb-client; .ci/setup.d/30-mariadb.sh does so in CI)`,
  )
}

/**
 * Starts Debian's MariaDB on a free loopback port with a fresh data directory, and creates an admin that logs in
 * with a password over TCP. Runs mariadbd as root (--user=root), as CI does.
 */
export async function startMariadb(options: MariadbOptions = {}): Promise<MariadbServer> {
  const [mariadbd, installDb, client] = await Promise.all([findTool('mariadbd'), findTool('mariadb-install-db'), findTool('mariadb')])
  const root = await mkdtemp(join(tmpdir(), 'dbhook-mariadb-'))
  try {
    return await startIn(root, options, { mariadbd, installDb, client })
  } catch (error) {
    await rm(root, { recursive: true, force: true })
    throw error
  }
}

async function startIn(
  root: string,
  options: MariadbOptions,
  tools: { mariadbd: string; installDb: string; client: string },
): Promise<MariadbServer> {
  const { mariadbd, installDb, client } = tools
  const dataDir = join(root, 'data')
  const socket = join(root, 'mysqld.sock')
  const logFile = join(root, 'server.log')
  const generalLogFile = join(root, 'general.log')
  // A private tmpdir: servers bootstrapping at the same time must not touch each other's temporary tables.
  const tmp = join(root, 'tmp')
  await mkdir(tmp)
  await execFile(
    installDb,
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${dataDir}`,
      `--tmpdir=${tmp}`,
      '--skip-test-db',
      '--skip-name-resolve',
      '--auth-root-authentication-method=socket',
    ],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  )
  const certificates = options.tls ? await makeCertificates(root) : undefined
  const port = await freePort()
  const args = [
    '--no-defaults',
    '--user=root',
    `--datadir=${dataDir}`,
    `--tmpdir=${tmp}`,
    `--port=${port}`,
    `--socket=${socket}`,
    `--bind-address=${['127.0.0.1', ...(options.extraBindAddresses ?? [])].join(',')}`,
    `--pid-file=${join(root, 'mysqld.pid')}`,
    `--log-error=${logFile}`,
    '--skip-name-resolve',
    '--skip-log-bin',
    '--innodb-buffer-pool-size=32M',
    '--innodb-log-file-size=16M',
    '--innodb-flush-log-at-trx-commit=0',
    '--max-connections=300',
    ...(options.generalLog ? ['--general-log=1', `--general-log-file=${generalLogFile}`] : []),
    ...(certificates
      ? [`--ssl-ca=${certificates.caFile}`, `--ssl-cert=${certificates.serverCertFile}`, `--ssl-key=${certificates.serverKeyFile}`]
      : ['--skip-ssl']),
  ]
  const child: ChildProcess = spawn(mariadbd, args, { stdio: 'ignore', detached: false })
  let exited: string | undefined
  child.on('exit', (code, signal) => (exited = `mariadbd exited (${code ?? signal})`))

  const password = `Adm-${Math.random().toString(36).slice(2)}`
  const admin = 'dbhook_admin'
  const started = Date.now()
  for (;;) {
    if (exited) throw new Error(`${exited}; log:\n${await readFile(logFile, 'utf8').catch(() => '')}`)
    try {
      await execFile(client, ['--no-defaults', `--socket=${socket}`, '-u', 'root', '-e', 'SELECT 1'])
      break
    } catch {
      if (Date.now() - started > 60_000) {
        child.kill('SIGKILL')
        throw new Error(`MariaDB did not accept connections within 60 s; log:\n${await readFile(logFile, 'utf8').catch(() => '')}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const escapedPassword = mysql.escape(password)
  await execFile(client, [
    '--no-defaults',
    `--socket=${socket}`,
    '-u',
    'root',
    '-e',
    `CREATE USER '${admin}'@'127.0.0.1' IDENTIFIED BY ${escapedPassword}; GRANT ALL PRIVILEGES ON *.* TO '${admin}'@'127.0.0.1' WITH GRANT OPTION; CREATE USER '${admin}'@'localhost' IDENTIFIED BY ${escapedPassword}; GRANT ALL PRIVILEGES ON *.* TO '${admin}'@'localhost' WITH GRANT OPTION;`,
  ])
  const { stdout: version } = await execFile(client, [
    '--no-defaults',
    `--socket=${socket}`,
    '-u',
    'root',
    '-N',
    '-B',
    '-e',
    'SELECT VERSION()',
  ])

  const server: MariadbServer = {
    host: '127.0.0.1',
    port,
    socket,
    admin,
    password,
    version: `MariaDB ${version.trim()}`,
    tls: Boolean(certificates),
    certificates,
    async query<T>(sql: string, params: unknown[] = [], opts: { user?: string; password?: string; database?: string } = {}) {
      const connection = await mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: opts.user ?? admin,
        password: opts.password ?? password,
        database: opts.database,
        ssl: certificates ? { rejectUnauthorized: false } : undefined,
      })
      try {
        const [rows] = await connection.query(sql, params)
        return rows as T[]
      } finally {
        await connection.end()
      }
    },
    env(user, userPassword, extra = {}) {
      return {
        DBHOOK_ENGINE: 'mariadb',
        DBHOOK_HOST: '127.0.0.1',
        DBHOOK_PORT: String(port),
        DBHOOK_ADMIN_USER: user,
        DBHOOK_ADMIN_PASSWORD: userPassword,
        DBHOOK_SSLMODE: certificates ? 'required' : 'disabled',
        DBHOOK_WAIT_TIMEOUT: '20s',
        DBHOOK_CONNECT_TIMEOUT: '5s',
        ...extra,
      }
    },
    async generalLog() {
      return readFile(generalLogFile, 'utf8').catch(() => '')
    },
    async stop() {
      if (!exited) {
        const gone = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await gone
        clearTimeout(timer)
      }
      await rm(root, { recursive: true, force: true })
    },
  }
  return server
}
