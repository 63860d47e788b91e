import { getContainerRuntimeClient, GenericContainer, Wait, type StartedTestContainer } from 'testcontainers'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf, type RunResult } from '../support/dbhook.ts'

interface Flavour {
  readonly name: string
  readonly image: string
  readonly environment: Record<string, string>
  /** The image serves TLS out of the box (MySQL 8.4 and MariaDB 11.4+ generate certificates at start). */
  readonly tls: boolean
  /** Its default authentication plugin is caching_sha2_password. */
  readonly cachingSha2: boolean
}

const rootPassword = 'Root-pw-1!'
const flavours: Flavour[] = [
  { name: 'MySQL 8.4', image: 'mysql:8.4', environment: { MYSQL_ROOT_PASSWORD: rootPassword }, tls: true, cachingSha2: true },
  { name: 'MariaDB 11', image: 'mariadb:11', environment: { MARIADB_ROOT_PASSWORD: rootPassword }, tls: true, cachingSha2: false },
]

/** Fails, with a message that says why, when there is no Docker or Podman to run containers with. */
async function requireContainerEngine(): Promise<void> {
  try {
    await getContainerRuntimeClient()
  } catch (error) {
    throw new Error(
      `no container engine is available (${(error as Error).message}): npm run test:containers needs Docker or a Podman socket (DOCKER_HOST). These tests fail rather than skip so that they are never counted as passing.`,
    )
  }
}

// Counted as a failed test, not only a failed suite, in every report format.
test('a container engine is available to run MySQL 8.4 and MariaDB 11', async () => {
  await requireContainerEngine()
})

function connectedLine(result: RunResult): Record<string, unknown> | undefined {
  return result.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('connected to'))
}

describe.each(flavours)('$name in a container', (flavour) => {
  let container: StartedTestContainer
  let host: string
  let port: number

  beforeAll(async () => {
    await requireContainerEngine()
    container = await new GenericContainer(flavour.image)
      .withEnvironment(flavour.environment)
      .withExposedPorts(3306)
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(300_000)
      .start()
    host = container.getHost() === 'localhost' ? '127.0.0.1' : container.getHost()
    port = container.getMappedPort(3306)
    const ready = await runDbhook(['wait'], env({ DBHOOK_WAIT_TIMEOUT: '120s' }))
    expect(ready.code, ready.stdout).toBe(0)
  })
  afterAll(async () => {
    await container?.stop()
  })

  function env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      DBHOOK_ENGINE: 'mysql',
      DBHOOK_HOST: host,
      DBHOOK_PORT: String(port),
      DBHOOK_ADMIN_USER: 'root',
      DBHOOK_ADMIN_PASSWORD: rootPassword,
      DBHOOK_SSLMODE: flavour.tls ? 'REQUIRED' : 'DISABLED',
      DBHOOK_WAIT_TIMEOUT: '30s',
      ...extra,
    }
  }

  async function asUser(user: string, password: string, database: string, sql: string, params: unknown[] = []) {
    const connection = await mysql.createConnection({
      host,
      port,
      user,
      password,
      database,
      ssl: flavour.tls ? { rejectUnauthorized: false } : undefined,
    })
    try {
      const [rows] = await connection.query(sql, params)
      return rows
    } finally {
      await connection.end()
    }
  }

  test('apply provisions the openZro four with owner and app grants; plan turns from 2 to 0; a second apply executes nothing', async () => {
    const provision = env({
      DBHOOK_OWNER: 'openzro',
      DBHOOK_OWNER_PASSWORD: 'Owner pw: \'"\\;--`',
      DBHOOK_APP_USER: 'openzro_app',
      DBHOOK_APP_PASSWORD: 'App pw: \'"\\;--`',
      DBHOOK_DATABASES: 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex',
    })
    expect((await runDbhook(['plan'], provision)).code).toBe(2)
    const first = await runDbhook(['apply'], provision)
    expect(first.code, first.stdout).toBe(0)
    expect(summaryOf(first)?.databases.map((d) => d.result)).toEqual(['created', 'created', 'created', 'created'])
    const plan = await runDbhook(['plan'], provision)
    expect(plan.code, plan.stdout).toBe(0)
    const second = await runDbhook(['apply'], provision)
    expect(summaryOf(second), second.stdout).toMatchObject({ statements: 0 })
    const verify = await runDbhook(['verify'], provision)
    expect(verify.code, verify.stdout).toBe(0)

    await asUser('openzro', 'Owner pw: \'"\\;--`', 'dex', 'CREATE TABLE clients (id integer PRIMARY KEY, name text)')
    await asUser('openzro_app', 'App pw: \'"\\;--`', 'dex', 'INSERT INTO clients VALUES (1, ?)', ['dex'])
    expect(await asUser('openzro_app', 'App pw: \'"\\;--`', 'dex', 'SELECT name FROM clients')).toEqual([{ name: 'dex' }])
  })

  test('a password that no longer works is updated with ALTER USER', async () => {
    const base = env({ DBHOOK_OWNER: 'rotating', DBHOOK_OWNER_PASSWORD: 'first-pw-1', DBHOOK_DATABASES: 'rotating_db' })
    expect((await runDbhook(['apply'], base)).code).toBe(0)
    const rotated = { ...base, DBHOOK_OWNER_PASSWORD: 'second-pw-2' }
    const apply = await runDbhook(['apply'], rotated)
    expect(apply.code, apply.stdout).toBe(0)
    expect(summaryOf(apply)).toMatchObject({ statements: 1 })
    expect(await asUser('rotating', 'second-pw-2', 'rotating_db', 'SELECT 1 AS one')).toEqual([{ one: 1 }])
  })

  test('TLS modes: REQUIRED is encrypted, DISABLED is not, VERIFY_CA without the server CA is refused', async () => {
    const required = await runDbhook(['wait'], env({ DBHOOK_SSLMODE: 'REQUIRED' }))
    expect(required.code, required.stdout).toBe(0)
    expect(connectedLine(required)?.encrypted).toBe(flavour.tls)
    const disabled = await runDbhook(['wait'], env({ DBHOOK_SSLMODE: 'DISABLED' }))
    expect(disabled.code, disabled.stdout).toBe(0)
    expect(connectedLine(disabled)?.encrypted).toBe(false)
    // The image's certificate is self-signed by a CA nobody trusts: verification must fail, at once, with 77.
    const verifyCa = await runDbhook(['wait'], env({ DBHOOK_SSLMODE: 'VERIFY_CA' }))
    expect(verifyCa.code, verifyCa.stdout).toBe(77)
  })

  test.runIf(flavour.cachingSha2)('caching_sha2_password over plaintext logs in by fetching the RSA key and warns about it', async () => {
    // FLUSH PRIVILEGES empties the server's cache of caching_sha2_password logins, so the next one needs the full
    // exchange, which over plaintext means RSA-encrypting the password with the key the server sends.
    const setup = env({ DBHOOK_OWNER: 'sha2_owner', DBHOOK_OWNER_PASSWORD: 'sha2-pw-1', DBHOOK_DATABASES: 'sha2_db' })
    expect((await runDbhook(['apply'], setup)).code).toBe(0)
    await mysql
      .createConnection({ host, port, user: 'root', password: rootPassword, ssl: { rejectUnauthorized: false } })
      .then(async (c) => {
        await c.query('FLUSH PRIVILEGES')
        await c.end()
      })
    const verify = await runDbhook(['verify'], { ...setup, DBHOOK_SSLMODE: 'DISABLED' })
    expect(verify.code, verify.stdout).toBe(0)
    expect(verify.logs.some((l) => l.level === 'warn' && String(l.msg).includes('man in the middle'))).toBe(true)
  })
})
