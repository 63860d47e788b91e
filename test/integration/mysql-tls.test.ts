import { execFile as execFileCallback } from 'node:child_process'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, type RunResult } from '../support/dbhook.ts'
import { startMariadb, type MariadbServer } from '../support/mariadb.ts'

const execFile = promisify(execFileCallback)

let tlsServer: MariadbServer
let plainServer: MariadbServer

beforeAll(async () => {
  ;[tlsServer, plainServer] = await Promise.all([startMariadb({ tls: true }), startMariadb()])
})
afterAll(async () => {
  await Promise.all([tlsServer?.stop(), plainServer?.stop()])
})

type Ca = 'right' | 'other' | 'none'
type Outcome = 'plaintext' | 'encrypted' | 'verified' | 'refused'

/** The transport dbhook reported after connecting, or `refused` when it exited 77. */
function outcomeOf(result: RunResult): Outcome {
  if (result.code === 77) return 'refused'
  expect(result.code, result.stdout).toBe(0)
  const line = result.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('connected to'))
  if (!line?.encrypted) return 'plaintext'
  return line.serverVerified ? 'verified' : 'encrypted'
}

function caFile(ca: Ca): Record<string, string> {
  const certificates = tlsServer.certificates!
  if (ca === 'none') return {}
  return { DBHOOK_SSLROOTCERT: ca === 'right' ? certificates.caFile : certificates.otherCaFile }
}

async function dbhookWait(server: MariadbServer, word: string, host: string, ca: Ca): Promise<RunResult> {
  return runDbhook(['wait'], {
    ...server.env(server.admin, server.password),
    DBHOOK_HOST: host,
    DBHOOK_SSLMODE: word,
    DBHOOK_WAIT_TIMEOUT: '10s',
    ...caFile(ca),
  })
}

/** The mariadb client as the oracle: does it connect with these options, and is the session encrypted? */
async function mariadbClient(server: MariadbServer, host: string, options: string[]): Promise<'plaintext' | 'encrypted' | 'refused'> {
  try {
    const { stdout } = await execFile(
      'mariadb',
      [
        '--no-defaults',
        '-h',
        host,
        '-P',
        String(server.port),
        '-u',
        server.admin,
        '-N',
        '-B',
        ...options,
        '-e',
        "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
      ],
      {
        env: { ...process.env, MYSQL_PWD: server.password },
      },
    )
    return /Ssl_cipher\t\S+/.test(stdout) ? 'encrypted' : 'plaintext'
  } catch {
    return 'refused'
  }
}

interface ModeCase {
  readonly word: string
  readonly server: 'tls' | 'plain'
  readonly host: '127.0.0.1' | 'localhost'
  readonly ca: Ca
  readonly expected: Outcome
  /** The mariadb client options with the same meaning, where its semantics match. */
  readonly oracle?: readonly string[]
}

// The server certificate names localhost only, so 127.0.0.1 is a host name mismatch.
const cases: ModeCase[] = [
  { word: 'DISABLED', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'plaintext', oracle: ['--skip-ssl'] },
  { word: 'false', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'plaintext', oracle: ['--skip-ssl'] },
  { word: 'disable', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'plaintext', oracle: ['--skip-ssl'] },
  { word: 'PREFERRED', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'encrypted', oracle: ['--ssl'] },
  { word: 'preferred', server: 'plain', host: '127.0.0.1', ca: 'none', expected: 'plaintext', oracle: ['--ssl'] },
  { word: 'REQUIRED', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'encrypted', oracle: ['--ssl'] },
  { word: 'REQUIRED', server: 'tls', host: '127.0.0.1', ca: 'other', expected: 'encrypted' },
  { word: 'REQUIRED', server: 'plain', host: '127.0.0.1', ca: 'none', expected: 'refused' },
  { word: 'skip-verify', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'encrypted', oracle: ['--ssl'] },
  { word: 'skip-verify', server: 'plain', host: '127.0.0.1', ca: 'none', expected: 'refused' },
  { word: 'VERIFY_CA', server: 'tls', host: '127.0.0.1', ca: 'right', expected: 'verified' },
  { word: 'VERIFY_CA', server: 'tls', host: '127.0.0.1', ca: 'other', expected: 'refused' },
  {
    word: 'VERIFY_IDENTITY',
    server: 'tls',
    host: 'localhost',
    ca: 'right',
    expected: 'verified',
    oracle: ['--ssl-verify-server-cert', 'CA'],
  },
  {
    word: 'VERIFY_IDENTITY',
    server: 'tls',
    host: '127.0.0.1',
    ca: 'right',
    expected: 'refused',
    oracle: ['--ssl-verify-server-cert', 'CA'],
  },
  {
    word: 'VERIFY_IDENTITY',
    server: 'tls',
    host: 'localhost',
    ca: 'other',
    expected: 'refused',
    oracle: ['--ssl-verify-server-cert', 'CA'],
  },
  {
    word: 'VERIFY_IDENTITY',
    server: 'plain',
    host: 'localhost',
    ca: 'right',
    expected: 'refused',
    oracle: ['--ssl-verify-server-cert', 'CA'],
  },
  { word: 'true', server: 'tls', host: 'localhost', ca: 'right', expected: 'verified', oracle: ['--ssl-verify-server-cert', 'CA'] },
  { word: 'true', server: 'tls', host: '127.0.0.1', ca: 'right', expected: 'refused', oracle: ['--ssl-verify-server-cert', 'CA'] },
  // libpq's words keep libpq's meaning: a CA makes every TLS attempt verify, and prefer falls back after any failure.
  { word: 'prefer', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'encrypted' },
  { word: 'prefer', server: 'tls', host: '127.0.0.1', ca: 'other', expected: 'plaintext' },
  { word: 'prefer', server: 'plain', host: '127.0.0.1', ca: 'none', expected: 'plaintext' },
  { word: 'require', server: 'tls', host: '127.0.0.1', ca: 'right', expected: 'verified' },
  { word: 'require', server: 'tls', host: '127.0.0.1', ca: 'other', expected: 'refused' },
  { word: 'allow', server: 'tls', host: '127.0.0.1', ca: 'none', expected: 'plaintext' },
  { word: 'verify-full', server: 'tls', host: 'localhost', ca: 'right', expected: 'verified' },
  { word: 'verify-full', server: 'tls', host: '127.0.0.1', ca: 'right', expected: 'refused' },
]

describe('DBHOOK_SSLMODE against MariaDB with and without TLS', () => {
  test.each(cases)('$word to the $server server at $host with CA $ca: $expected', async (mode) => {
    const server = mode.server === 'tls' ? tlsServer : plainServer
    const result = await dbhookWait(server, mode.word, mode.host, mode.ca)
    const outcome = outcomeOf(result)
    expect(outcome, result.stdout).toBe(mode.expected)
    if (mode.expected === 'refused') expect(result.durationMs, 'a TLS failure is not retried').toBeLessThan(5_000)
    if (mode.oracle) {
      const ca =
        mode.ca === 'none' ? [] : [`--ssl-ca=${mode.ca === 'right' ? tlsServer.certificates!.caFile : tlsServer.certificates!.otherCaFile}`]
      const options = mode.oracle.flatMap((option) => (option === 'CA' ? ca : [option]))
      const oracle = await mariadbClient(server, mode.host, options)
      expect(oracle === 'encrypted' ? ['encrypted', 'verified'] : [oracle], `mariadb ${options.join(' ')}`).toContain(outcome)
    }
  })

  test('a fallback to plaintext is logged as a warning', async () => {
    const result = await dbhookWait(plainServer, 'PREFERRED', '127.0.0.1', 'none')
    expect(result.code, result.stdout).toBe(0)
    expect(result.logs.some((l) => l.level === 'warn' && String(l.msg).includes('not encrypted'))).toBe(true)
  })

  test('REQUIRED with a CA warns that the CA is not used, as the mysql client does', async () => {
    const result = await dbhookWait(tlsServer, 'REQUIRED', '127.0.0.1', 'other')
    expect(result.logs.some((l) => l.level === 'warn' && String(l.msg).includes('DBHOOK_SSLROOTCERT is not used'))).toBe(true)
  })

  test('DBHOOK_MYSQL_REQUIRE_SSL creates users that may only log in over TLS, and allow reaches them by trying TLS', async () => {
    const owner = 'tls_only_owner'
    const env = tlsServer.env(tlsServer.admin, tlsServer.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'tls-owner-pw',
      DBHOOK_DATABASES: 'tls_only_db',
      DBHOOK_MYSQL_REQUIRE_SSL: 'true',
      DBHOOK_SSLMODE: 'VERIFY_IDENTITY',
      DBHOOK_HOST: 'localhost',
      DBHOOK_SSLROOTCERT: tlsServer.certificates!.caFile,
    })
    const apply = await runDbhook(['apply'], env)
    expect(apply.code, apply.stdout).toBe(0)
    const login = (ssl: boolean) =>
      mysql.createConnection({
        host: '127.0.0.1',
        port: tlsServer.port,
        user: owner,
        password: 'tls-owner-pw',
        ssl: ssl ? { rejectUnauthorized: false } : undefined,
      })
    await expect(login(false)).rejects.toMatchObject({ errno: 1045 })
    await (await login(true)).end()

    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(0)
    const verify = await runDbhook(['verify'], { ...env, DBHOOK_SSLMODE: 'allow', DBHOOK_SSLROOTCERT: '', DBHOOK_HOST: '127.0.0.1' })
    expect(verify.code, verify.stdout).toBe(0)
    expect(outcomeOf(verify)).toBe('encrypted')
  })
})
