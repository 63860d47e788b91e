import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
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
    loadConfig(env, command, { rules: configRules })
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  return []
}

describe('loadConfig', () => {
  test('the openZro example reads into four databases owned by openzro with libpq defaults', () => {
    const config = loadConfig(base, 'apply', { rules: configRules })
    expect(config.databases).toEqual([
      { key: 'management', name: 'openzro' },
      { key: 'flow', name: 'openzro_flow' },
      { key: 'activity', name: 'openzro_activity' },
      { key: 'dex', name: 'dex' },
    ])
    expect(config).toMatchObject({
      engine: 'postgres',
      port: 5432,
      owner: { name: 'openzro' },
      tls: { mode: 'prefer' },
      waitTimeoutMs: 300_000,
      connectTimeoutMs: 10_000,
    })
    expect(config.admin).toEqual({ user: 'provisioner', password: 'admin-secret', database: 'postgres' })
  })

  test('a *_FILE secret wins over the plain variable and loses one trailing newline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbhook-config-'))
    await writeFile(join(dir, 'admin'), 'from-file\n')
    const config = loadConfig({ ...base, DBHOOK_ADMIN_PASSWORD_FILE: join(dir, 'admin') }, 'apply', { rules: configRules })
    expect(config.admin.password).toBe('from-file')
    expect(config.secrets).toContain('from-file')
  })

  test('an unreadable *_FILE names the variable and the path, never a value', () => {
    const problems = problemsOf({ ...base, DBHOOK_OWNER_PASSWORD_FILE: '/nonexistent/owner' })
    expect(problems).toEqual(['DBHOOK_OWNER_PASSWORD_FILE: cannot read "/nonexistent/owner" (ENOENT)'])
  })

  test('libpq variables are fallbacks for the DBHOOK_ ones', () => {
    const config = loadConfig(
      { PGHOST: 'pg', PGPORT: '6432', PGUSER: 'u', PGPASSWORD: 'p', PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '3', DBHOOK_DATABASES: 'a' },
      'apply',
      { rules: configRules },
    )
    expect(config).toMatchObject({
      host: 'pg',
      port: 6432,
      admin: { user: 'u', password: 'p' },
      tls: { mode: 'require' },
      connectTimeoutMs: 3000,
    })
    expect(
      loadConfig({ PGHOST: 'pg', DBHOOK_HOST: 'mine', PGUSER: 'u', DBHOOK_DATABASES: 'a' }, 'apply', { rules: configRules }).host,
    ).toBe('mine')
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
    const problems = problemsOf({
      DBHOOK_ADMIN_PASSWORD: secret,
      DBHOOK_OWNER_PASSWORD: secret,
      DBHOOK_APP_PASSWORD: secret,
      DBHOOK_PORT: '0',
    })
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
    expect(
      loadConfig({ ...base, DBHOOK_DATABASES: `${name},MixedCase` }, 'apply', { rules: configRules }).databases.map((d) => d.name),
    ).toEqual([name, 'MixedCase'])
  })

  test('JSON keeps names with commas, equals signs and surrounding spaces', () => {
    const config = loadConfig({ ...base, DBHOOK_DATABASES: '{"main":" a,b=c "}' }, 'apply', { rules: configRules })
    expect(config.databases).toEqual([{ key: 'main', name: ' a,b=c ' }])
  })

  test.each(['public', 'PUBLIC', 'pg_monitor', 'current_user', 'session_user', 'none'])(
    'the reserved role name %s is rejected as owner',
    (role) => {
      expect(problemsOf({ ...base, DBHOOK_OWNER: role })[0]).toMatch(/^DBHOOK_OWNER/)
    },
  )

  test('sql needs no server and wait needs no database list', () => {
    expect(problemsOf({ DBHOOK_OWNER: 'o', DBHOOK_DATABASES: 'a' }, 'sql')).toEqual([])
    expect(problemsOf({ DBHOOK_HOST: 'h', DBHOOK_ADMIN_USER: 'u' }, 'wait')).toEqual([])
  })

  test('verify needs the owner password when the owner is not the admin', () => {
    expect(problemsOf(base, 'verify')).toEqual([expect.stringMatching(/^DBHOOK_OWNER_PASSWORD/)])
    expect(problemsOf({ ...base, DBHOOK_OWNER: 'provisioner' }, 'verify')).toEqual([])
  })

  test('durations accept seconds and units', () => {
    const config = loadConfig({ ...base, DBHOOK_WAIT_TIMEOUT: '5m', DBHOOK_CONNECT_TIMEOUT: '1500ms' }, 'apply', { rules: configRules })
    expect([config.waitTimeoutMs, config.connectTimeoutMs]).toEqual([300_000, 1500])
    expect(loadConfig({ ...base, DBHOOK_WAIT_TIMEOUT: '90' }, 'apply', { rules: configRules }).waitTimeoutMs).toBe(90_000)
  })

  test('MySQL and Go-driver TLS words map to libpq meanings, and mariadb is mysql on port 3306', () => {
    const mode = (word: string) =>
      loadConfig({ ...base, DBHOOK_ENGINE: 'mariadb', DBHOOK_SSLMODE: word }, 'apply', { rules: configRules }).tls.mode
    expect(['false', 'preferred', 'skip-verify', 'true', 'VERIFY_CA', 'REQUIRED'].map(mode)).toEqual([
      'disable',
      'prefer',
      'require',
      'verify-full',
      'verify-ca',
      'require',
    ])
    expect(loadConfig({ ...base, DBHOOK_ENGINE: 'mariadb' }, 'apply', { rules: configRules })).toMatchObject({
      engine: 'mysql',
      port: 3306,
    })
  })

  test('verify-full without a root certificate is a configuration error on PostgreSQL', () => {
    expect(problemsOf({ ...base, DBHOOK_SSLMODE: 'verify-full' })).toEqual([expect.stringContaining('DBHOOK_SSLROOTCERT')])
  })

  test('an unknown DBHOOK_ variable is a warning, not an error', () => {
    const config = loadConfig({ ...base, DBHOOK_DATABSES: 'typo' }, 'apply', { rules: configRules })
    expect(config.warnings).toEqual(['DBHOOK_DATABSES is not a dbhook variable and is ignored'])
  })

  test('the app role must differ from the owner and needs its user variable', () => {
    expect(problemsOf({ ...base, DBHOOK_APP_USER: 'openzro' })).toEqual(['DBHOOK_APP_USER must differ from the owner role'])
    expect(problemsOf({ ...base, DBHOOK_APP_PASSWORD: 'x' })).toEqual(['DBHOOK_APP_PASSWORD is set but DBHOOK_APP_USER is not'])
  })
})

describe('several hosts and DBHOOK_TARGET_SESSION_ATTRS, as libpq reads them', () => {
  const hostsOf = (env: Record<string, string>) => loadConfig({ ...base, ...env }, 'apply', { rules: configRules }).hosts

  test('a comma list of hosts takes one port for all, one per host, or the default', () => {
    expect(hostsOf({ DBHOOK_HOST: 'db-0.db, db-1.db ,10.0.0.7' })).toEqual([
      { host: 'db-0.db', port: 5432 },
      { host: 'db-1.db', port: 5432 },
      { host: '10.0.0.7', port: 5432 },
    ])
    expect(hostsOf({ DBHOOK_HOST: 'a,b', DBHOOK_PORT: '6432' })).toEqual([
      { host: 'a', port: 6432 },
      { host: 'b', port: 6432 },
    ])
    expect(hostsOf({ DBHOOK_HOST: 'a,b', DBHOOK_PORT: '5433, 5434' })).toEqual([
      { host: 'a', port: 5433 },
      { host: 'b', port: 5434 },
    ])
    expect(hostsOf({ DBHOOK_HOST: '::1,127.0.0.1', DBHOOK_PORT: '1,2' })).toEqual([
      { host: '::1', port: 1 },
      { host: '127.0.0.1', port: 2 },
    ])
    const config = loadConfig({ ...base, DBHOOK_HOST: 'a,b', DBHOOK_PORT: '5433,5434' }, 'apply', { rules: configRules })
    expect({ host: config.host, port: config.port }).toEqual({ host: 'a', port: 5433 })
  })

  test('PGHOST and PGPORT lists are fallbacks too, and PGTARGETSESSIONATTRS for the attributes', () => {
    const config = loadConfig(
      { PGHOST: 'p1,p2', PGPORT: '1,2', PGUSER: 'u', PGTARGETSESSIONATTRS: 'primary', DBHOOK_DATABASES: 'a' },
      'apply',
      { rules: configRules },
    )
    expect(config.hosts).toEqual([
      { host: 'p1', port: 1 },
      { host: 'p2', port: 2 },
    ])
    expect(config.targetSessionAttrs).toBe('primary')
    expect(
      loadConfig({ ...base, PGTARGETSESSIONATTRS: 'any', DBHOOK_TARGET_SESSION_ATTRS: 'read-write' }, 'apply', { rules: configRules })
        .targetSessionAttrs,
    ).toBe('read-write')
  })

  test.each([
    [
      'a port count that matches neither one nor the hosts',
      { DBHOOK_HOST: 'a,b', DBHOOK_PORT: '1,2,3' },
      'DBHOOK_PORT lists 3 ports for 2 hosts in DBHOOK_HOST: give one port for all hosts, or one per host',
    ],
    [
      'two ports for one host',
      { DBHOOK_HOST: 'a', DBHOOK_PORT: '1,2' },
      'DBHOOK_PORT lists 2 ports for 1 host in DBHOOK_HOST: give one port for all hosts, or one per host',
    ],
    ['an empty host entry', { DBHOOK_HOST: 'a,,b' }, 'DBHOOK_HOST "a,,b" has an empty entry: list host names separated by commas'],
    ['a trailing comma', { DBHOOK_HOST: 'a,' }, 'DBHOOK_HOST "a," has an empty entry: list host names separated by commas'],
    [
      'an empty port entry',
      { DBHOOK_HOST: 'a,b', DBHOOK_PORT: '1,' },
      'DBHOOK_PORT "1," has an empty entry: give one port for all hosts, or one per host',
    ],
    [
      'a bad port in a list',
      { DBHOOK_HOST: 'a,b', DBHOOK_PORT: '1,70000' },
      'DBHOOK_PORT must be port numbers (1-65535) separated by commas, got "70000" in "1,70000"',
    ],
    [
      'a socket directory among TCP hosts',
      { DBHOOK_HOST: '/var/run/postgresql,db' },
      'DBHOOK_HOST "/var/run/postgresql,db" mixes a Unix socket directory with TCP hosts: list either TCP hosts or one socket directory',
    ],
    [
      'several hosts for MySQL',
      { DBHOOK_ENGINE: 'mysql', DBHOOK_HOST: 'a,b' },
      'DBHOOK_HOST lists 2 hosts: a list of hosts is supported for PostgreSQL only; give MySQL/MariaDB one host',
    ],
    [
      'an unknown attribute',
      { DBHOOK_TARGET_SESSION_ATTRS: 'master' },
      'DBHOOK_TARGET_SESSION_ATTRS must be one of any, read-write, read-only, primary, standby, prefer-standby, got "master"',
    ],
  ])('%s is a configuration error naming the variable', (_name, env, message) => {
    expect(problemsOf({ ...base, ...env })).toEqual([message])
  })

  test('unset, every command looks for a read-write session; commands that write refuse the read-only attributes', () => {
    for (const command of ['apply', 'plan', 'wait', 'verify', 'backup'] as const) {
      expect(
        loadConfig({ ...base, DBHOOK_OWNER_PASSWORD: 'o', DBHOOK_BACKUP_DIR: '/tmp' }, command, { rules: configRules }).targetSessionAttrs,
      ).toBe('read-write')
    }
    for (const attrs of ['read-only', 'standby', 'prefer-standby']) {
      for (const command of ['apply', 'verify', 'restore', 'drill'] as const) {
        expect(
          problemsOf({ ...base, DBHOOK_OWNER_PASSWORD: 'o', DBHOOK_BACKUP_DIR: '/tmp', DBHOOK_TARGET_SESSION_ATTRS: attrs }, command),
        ).toEqual([
          `DBHOOK_TARGET_SESSION_ATTRS=${attrs} cannot be used with ${command}, which writes: use read-write (the default), primary or any`,
        ])
      }
      for (const command of ['plan', 'wait', 'backup'] as const) {
        expect(
          loadConfig({ ...base, DBHOOK_BACKUP_DIR: '/tmp', DBHOOK_TARGET_SESSION_ATTRS: attrs }, command, { rules: configRules })
            .targetSessionAttrs,
        ).toBe(attrs)
      }
    }
    for (const attrs of ['any', 'primary', 'read-write'])
      expect(loadConfig({ ...base, DBHOOK_TARGET_SESSION_ATTRS: attrs }, 'apply', { rules: configRules }).targetSessionAttrs).toBe(attrs)
  })

  test('MySQL ignores DBHOOK_TARGET_SESSION_ATTRS with a warning', () => {
    expect(
      loadConfig({ ...base, DBHOOK_ENGINE: 'mysql', DBHOOK_TARGET_SESSION_ATTRS: 'primary' }, 'apply', { rules: configRules }).warnings,
    ).toEqual(['DBHOOK_TARGET_SESSION_ATTRS is for PostgreSQL only and is ignored'])
  })
})

// dbhook keeps its own validators where envalid's accept another set (envalid's bool is case-sensitive and takes
// t/f; its num is parseFloat and takes "4abc"): these pin the documented sets, so that a swap would show.
describe('the values each validated variable accepts, and the message naming it otherwise', () => {
  const read = (env: Record<string, string>) => loadConfig({ ...base, ...env }, 'apply', { rules: configRules })

  test.each([
    ['true', true],
    ['TRUE', true],
    [' yes ', true],
    ['on', true],
    ['1', true],
    ['false', false],
    ['No', false],
    ['off', false],
    ['0', false],
  ])('DBHOOK_MYSQL_REQUIRE_SSL=%j reads as %s', (value, expected) => {
    expect(read({ DBHOOK_MYSQL_REQUIRE_SSL: value }).mysql.requireSsl).toBe(expected)
  })

  test.each([
    ['DBHOOK_PARALLEL', '1', 1],
    ['DBHOOK_PARALLEL', ' 32 ', 32],
    ['DBHOOK_BACKUP_KEEP_DAYS', '3650', 3650],
    ['DBHOOK_CONNECTION_LIMIT', '-1', -1],
    ['DBHOOK_CONNECTION_LIMIT', '0', 0],
    ['DBHOOK_CONNECTION_LIMIT', '1000000', 1_000_000],
  ])('%s=%j reads as %d', (name, value, expected) => {
    const config = read({ [name]: value })
    expect(
      {
        DBHOOK_PARALLEL: config.parallel,
        DBHOOK_BACKUP_KEEP_DAYS: config.backup.keepDays,
        DBHOOK_CONNECTION_LIMIT: config.connectionLimit,
      }[name],
    ).toBe(expected)
  })

  test.each([
    ['DBHOOK_MYSQL_REQUIRE_SSL', 't', 'must be true or false, got "t"'],
    ['DBHOOK_MYSQL_REQUIRE_SSL', 'f', 'must be true or false, got "f"'],
    ['DBHOOK_MYSQL_REQUIRE_SSL', 'maybe', 'must be true or false, got "maybe"'],
    ['DBHOOK_PARALLEL', '0', 'must be a whole number from 1 to 32, got "0"'],
    ['DBHOOK_PARALLEL', '33', 'must be a whole number from 1 to 32, got "33"'],
    ['DBHOOK_PARALLEL', '4abc', 'must be a whole number from 1 to 32, got "4abc"'],
    ['DBHOOK_PARALLEL', '4.5', 'must be a whole number from 1 to 32, got "4.5"'],
    ['DBHOOK_PARALLEL', '1e1', 'must be a whole number from 1 to 32, got "1e1"'],
    ['DBHOOK_BACKUP_KEEP_DAYS', '3651', 'must be a whole number from 1 to 3650, got "3651"'],
    ['DBHOOK_CONNECTION_LIMIT', '-2', 'must be a whole number, -1 for no limit, got "-2"'],
    ['DBHOOK_CONNECTION_LIMIT', '1000001', 'must be a whole number, -1 for no limit, got "1000001"'],
    ['DBHOOK_CONNECTION_LIMIT', '5x', 'must be a whole number, -1 for no limit, got "5x"'],
    ['DBHOOK_CONNECT_TIMEOUT', '0', 'must be a positive duration such as 30, 90s or 5m, got "0"'],
    ['DBHOOK_EVENT_TRIGGER', 'sometimes', 'must be auto, on or off, got "sometimes"'],
    ['DBHOOK_LOG_FORMAT', 'xml', 'must be json or pretty, got "xml"'],
    ['DBHOOK_ENGINE', 'oracle', 'must be postgres, mysql (alias mariadb) or spanner, got "oracle"'],
  ])('%s=%j is refused by name', (name, value, message) => {
    expect(problemsOf({ ...base, [name]: value })).toEqual([`${name} ${message}`])
  })

  test('a long refused value is cut at 80 characters in the message', () => {
    expect(problemsOf({ ...base, DBHOOK_LOG_FORMAT: 'x'.repeat(200) })).toEqual([
      `DBHOOK_LOG_FORMAT must be json or pretty, got "${'x'.repeat(77)}..."`,
    ])
  })
})
