import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { ConfigError } from '../../src/errors.ts'

const base = {
  DBHOOK_HOST: 'db.example',
  DBHOOK_ADMIN_USER: 'provisioner',
  DBHOOK_ADMIN_PASSWORD: 'admin-secret',
  DBHOOK_OWNER: 'openzro',
  DBHOOK_DATABASES: 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex',
}

function problemsOf(env: Record<string, string>, command: Parameters<typeof loadConfig>[1] = 'apply'): string[] {
  try {
    loadConfig(env, command)
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  return []
}

describe('loadConfig', () => {
  test('the openZro example reads into four databases owned by openzro with libpq defaults', () => {
    const config = loadConfig(base, 'apply')
    expect(config.databases).toEqual([
      { key: 'management', name: 'openzro' },
      { key: 'flow', name: 'openzro_flow' },
      { key: 'activity', name: 'openzro_activity' },
      { key: 'dex', name: 'dex' },
    ])
    expect(config).toMatchObject({ engine: 'postgres', port: 5432, owner: { name: 'openzro' }, tls: { mode: 'prefer' }, waitTimeoutMs: 300_000, connectTimeoutMs: 10_000 })
    expect(config.admin).toEqual({ user: 'provisioner', password: 'admin-secret', database: 'postgres' })
  })

  test('a *_FILE secret wins over the plain variable and loses one trailing newline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbhook-config-'))
    await writeFile(join(dir, 'admin'), 'from-file\n')
    const config = loadConfig({ ...base, DBHOOK_ADMIN_PASSWORD_FILE: join(dir, 'admin') }, 'apply')
    expect(config.admin.password).toBe('from-file')
    expect(config.secrets).toContain('from-file')
  })

  test('an unreadable *_FILE names the variable and the path, never a value', () => {
    const problems = problemsOf({ ...base, DBHOOK_OWNER_PASSWORD_FILE: '/nonexistent/owner' })
    expect(problems).toEqual(['DBHOOK_OWNER_PASSWORD_FILE: cannot read "/nonexistent/owner" (ENOENT)'])
  })

  test('libpq variables are fallbacks for the DBHOOK_ ones', () => {
    const config = loadConfig({ PGHOST: 'pg', PGPORT: '6432', PGUSER: 'u', PGPASSWORD: 'p', PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '3', DBHOOK_DATABASES: 'a' }, 'apply')
    expect(config).toMatchObject({ host: 'pg', port: 6432, admin: { user: 'u', password: 'p' }, tls: { mode: 'require' }, connectTimeoutMs: 3000 })
    expect(loadConfig({ PGHOST: 'pg', DBHOOK_HOST: 'mine', PGUSER: 'u', DBHOOK_DATABASES: 'a' }, 'apply').host).toBe('mine')
  })

  test('every invalid or missing variable is named in one error', () => {
    const problems = problemsOf({ DBHOOK_PORT: 'abc', DBHOOK_SSLMODE: 'sometimes', DBHOOK_WAIT_TIMEOUT: 'soon', DBHOOK_LOG_LEVEL: 'loud' })
    expect(problems).toEqual(
      expect.arrayContaining([
        'DBHOOK_PORT must be a port number (1-65535), got "abc"',
        expect.stringMatching(/^DBHOOK_SSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full/),
        expect.stringMatching(/^DBHOOK_WAIT_TIMEOUT must be a positive duration/),
        expect.stringMatching(/^DBHOOK_LOG_LEVEL must be/),
        'DBHOOK_HOST (or PGHOST) is required',
        'DBHOOK_ADMIN_USER (or PGUSER) is required',
        expect.stringMatching(/^DBHOOK_DATABASES is required/),
      ]),
    )
  })

  test('no message ever holds a secret value', () => {
    const secret = 'p@ss"word'
    const problems = problemsOf({ DBHOOK_ADMIN_PASSWORD: secret, DBHOOK_OWNER_PASSWORD: secret, DBHOOK_APP_PASSWORD: secret, DBHOOK_PORT: '0' })
    expect(problems.length).toBeGreaterThan(0)
    expect(problems.join('\n')).not.toContain(secret)
  })

  test.each([
    ['an empty name', '[""]', 'is empty'],
    ['a name over 63 bytes', 'x'.repeat(64), 'is 64 bytes long'],
    ['a multi-byte name over 63 bytes', 'ü'.repeat(32), 'is 64 bytes long'],
    ['a NUL', '["a\\u0000b"]', 'NUL'],
    ['template1', 'template1', 'system database'],
    ['postgres', 'app=postgres', 'system database'],
    ['the same name twice', 'a=x,b=x', 'twice'],
    ['an empty item', 'a,,b', 'empty item'],
    ['broken JSON', '["a",', 'does not parse'],
  ])('DBHOOK_DATABASES with %s is rejected', (_case, value, message) => {
    const problems = problemsOf({ ...base, DBHOOK_DATABASES: value })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain('DBHOOK_DATABASES')
    expect(problems[0]).toContain(message)
  })

  test('63-byte names are accepted and case is kept exactly', () => {
    const name = 'A'.repeat(63)
    expect(loadConfig({ ...base, DBHOOK_DATABASES: `${name},MixedCase` }, 'apply').databases.map((d) => d.name)).toEqual([name, 'MixedCase'])
  })

  test('JSON keeps names with commas, equals signs and surrounding spaces', () => {
    const config = loadConfig({ ...base, DBHOOK_DATABASES: '{"main":" a,b=c "}' }, 'apply')
    expect(config.databases).toEqual([{ key: 'main', name: ' a,b=c ' }])
  })

  test.each(['public', 'PUBLIC', 'pg_monitor', 'current_user', 'session_user', 'none'])('the reserved role name %s is rejected as owner', (role) => {
    expect(problemsOf({ ...base, DBHOOK_OWNER: role })[0]).toMatch(/^DBHOOK_OWNER/)
  })

  test('sql needs no server and wait needs no database list', () => {
    expect(problemsOf({ DBHOOK_OWNER: 'o', DBHOOK_DATABASES: 'a' }, 'sql')).toEqual([])
    expect(problemsOf({ DBHOOK_HOST: 'h', DBHOOK_ADMIN_USER: 'u' }, 'wait')).toEqual([])
  })

  test('verify needs the owner password when the owner is not the admin', () => {
    expect(problemsOf(base, 'verify')).toEqual([expect.stringMatching(/^DBHOOK_OWNER_PASSWORD/)])
    expect(problemsOf({ ...base, DBHOOK_OWNER: 'provisioner' }, 'verify')).toEqual([])
  })

  test('durations accept seconds and units', () => {
    const config = loadConfig({ ...base, DBHOOK_WAIT_TIMEOUT: '5m', DBHOOK_CONNECT_TIMEOUT: '1500ms' }, 'apply')
    expect([config.waitTimeoutMs, config.connectTimeoutMs]).toEqual([300_000, 1500])
    expect(loadConfig({ ...base, DBHOOK_WAIT_TIMEOUT: '90' }, 'apply').waitTimeoutMs).toBe(90_000)
  })

  test('MySQL and Go-driver TLS words map to libpq meanings, and mariadb is mysql on port 3306', () => {
    const mode = (word: string) => loadConfig({ ...base, DBHOOK_ENGINE: 'mariadb', DBHOOK_SSLMODE: word }, 'apply').tls.mode
    expect(['false', 'preferred', 'skip-verify', 'true', 'VERIFY_CA', 'REQUIRED'].map(mode)).toEqual(['disable', 'prefer', 'require', 'verify-full', 'verify-ca', 'require'])
    expect(loadConfig({ ...base, DBHOOK_ENGINE: 'mariadb' }, 'apply')).toMatchObject({ engine: 'mysql', port: 3306 })
  })

  test('verify-full without a root certificate is a configuration error on PostgreSQL', () => {
    expect(problemsOf({ ...base, DBHOOK_SSLMODE: 'verify-full' })).toEqual([expect.stringContaining('DBHOOK_SSLROOTCERT')])
  })

  test('an unknown DBHOOK_ variable is a warning, not an error', () => {
    const config = loadConfig({ ...base, DBHOOK_DATABSES: 'typo' }, 'apply')
    expect(config.warnings).toEqual(['DBHOOK_DATABSES is not a dbhook variable and is ignored'])
  })

  test('the app role must differ from the owner and needs its user variable', () => {
    expect(problemsOf({ ...base, DBHOOK_APP_USER: 'openzro' })).toEqual(['DBHOOK_APP_USER must differ from the owner role'])
    expect(problemsOf({ ...base, DBHOOK_APP_PASSWORD: 'x' })).toEqual(['DBHOOK_APP_PASSWORD is set but DBHOOK_APP_USER is not'])
  })
})
