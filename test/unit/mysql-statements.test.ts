import { describe, expect, test } from 'vitest'
import type { Config } from '../../src/config/config.ts'
import { classifyMysqlConnectError } from '../../src/engines/mysql/mysql-errors.ts'
import { mysqlPrivilegeProblems, parseAdminGrants } from '../../src/engines/mysql/mysql-privileges.ts'
import { mysqlScript } from '../../src/engines/mysql/mysql-script.ts'
import {
  checkCharset,
  createUserStatement,
  grantOwnerSql,
  grantPattern,
  nativePasswordHash,
  quoteIdentifier,
  setPasswordStatement,
  wildcardGrant,
} from '../../src/engines/mysql/mysql-statements.ts'
import type { DesiredDatabase, Step } from '../../src/plan.ts'

describe('statements', () => {
  test('the mysql_native_password hash is the one MySQL documents for "password"', () => {
    expect(nativePasswordHash('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19')
  })

  test('identifiers keep their dots and double their backticks', () => {
    expect(quoteIdentifier('a.b')).toBe('`a.b`')
    expect(quoteIdentifier('x`y')).toBe('`x``y`')
  })

  test('grant patterns escape _, % and \\ so that a grant covers exactly one database', () => {
    expect(grantPattern('openzro_flow')).toBe('openzro\\_flow')
    expect(grantPattern('a%b\\c')).toBe('a\\%b\\\\c')
    expect(grantOwnerSql('openzro_flow', { user: "o'x", host: '%' })).toBe("GRANT ALL PRIVILEGES ON `openzro\\_flow`.* TO 'o\\'x'@'%'")
  })

  test('a name too long to escape within 64 characters is granted as it is, and reported as a wildcard grant', () => {
    const name = `a_${'d'.repeat(62)}`
    expect(grantPattern(name)).toBe(name)
    expect(wildcardGrant(name)).toBe(true)
    expect(wildcardGrant('plain')).toBe(false)
  })

  test('passwords never appear in the loggable form, hash or plaintext', () => {
    const account = { user: 'owner', host: '%' }
    const hashed = createUserStatement(account, 'S3cret!', 'native-hash', true)
    expect(hashed.sql).toBe(`CREATE USER IF NOT EXISTS 'owner'@'%' IDENTIFIED BY PASSWORD '${nativePasswordHash('S3cret!')}' REQUIRE SSL`)
    expect(hashed.loggable).not.toContain(nativePasswordHash('S3cret!'))
    const plain = setPasswordStatement(account, "it's", 'plaintext')
    expect(plain.sql).toBe("ALTER USER 'owner'@'%' IDENTIFIED BY 'it\\'s'")
    expect(plain.loggable).not.toContain('it')
    expect(createUserStatement(account, undefined, 'plaintext', false).sql).toBe("CREATE USER IF NOT EXISTS 'owner'@'%' ACCOUNT LOCK")
  })

  test('a character set or collation that is not a plain name is a configuration error', () => {
    const config = (charset: string, collation?: string) => ({ mysql: { charset, collation, userHost: '%', requireSsl: false } }) as unknown as Config
    expect(() => checkCharset(config('utf8mb4', 'utf8mb4_bin'))).not.toThrow()
    expect(() => checkCharset(config('utf8mb4; DROP DATABASE x'))).toThrow(/DBHOOK_MYSQL_CHARSET/)
    expect(() => checkCharset(config('utf8mb4', 'x y'))).toThrow(/DBHOOK_MYSQL_COLLATION/)
  })
})

describe('the script for a DBA', () => {
  test('a database key with a line break cannot end its comment and inject a statement', () => {
    const config = {
      engine: 'mysql',
      admin: { user: 'root', database: 'postgres' },
      owner: { name: 'owner' },
      databases: [{ key: 'x\nDROP DATABASE mysql; --', name: 'x' }],
      mysql: { charset: 'utf8mb4', userHost: '%', requireSsl: false },
    } as unknown as Config
    const script = mysqlScript(config)
    expect(script.split('\n').filter((line) => line.startsWith('DROP'))).toEqual([])
    expect(script).toContain('-- "x\\nDROP DATABASE mysql; --"')
  })
})

describe('connect errors', () => {
  const who = { user: 'admin', variable: 'DBHOOK_ADMIN_PASSWORD' }
  const serverError = (errno: number) => ({ errno, sqlState: 'HY000', code: 'ER', message: `error ${errno}` })
  test.each([
    ['ECONNREFUSED', { code: 'ECONNREFUSED', errno: -111 }],
    ['ENOTFOUND', { code: 'ENOTFOUND' }],
    ['EAI_AGAIN', { code: 'EAI_AGAIN' }],
    ['ECONNRESET', { code: 'ECONNRESET' }],
    ['ETIMEDOUT', { code: 'ETIMEDOUT' }],
    ['PROTOCOL_CONNECTION_LOST', { code: 'PROTOCOL_CONNECTION_LOST' }],
    ['too many connections (1040)', serverError(1040)],
    ['server shutdown (1053)', serverError(1053)],
  ])('%s is retried', (_name, error) => {
    expect(classifyMysqlConnectError(error, who).retry).toBe(true)
  })

  test.each([
    [1045, 77],
    [1044, 77],
    [1227, 77],
    [1130, 77],
    [1049, 78],
  ])('server error %i ends the wait with exit %i', (errno, exitCode) => {
    const verdict = classifyMysqlConnectError(serverError(errno), who)
    expect(verdict.retry).toBe(false)
    if (!verdict.retry) expect(verdict.error.exitCode).toBe(exitCode)
  })
})

describe('privilege check from SHOW GRANTS', () => {
  const database: DesiredDatabase = { key: 'dex', name: 'dex', owner: 'openzro', items: [] }
  const steps: Step[] = [
    { action: 'create-role', role: { name: 'openzro', kind: 'owner', password: 'x' } },
    { action: 'create-database', database },
    { action: 'ensure', database, item: { id: 'owner-privileges', kind: 'owner-privileges', description: 'grant ALL PRIVILEGES to "openzro"', role: 'openzro' } },
  ]
  const admin = { user: 'provisioner', host: '%' }

  test.each([
    ['MariaDB root: ALL PRIVILEGES WITH GRANT OPTION', ["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED BY PASSWORD '*AB' WITH GRANT OPTION"], []],
    [
      'MySQL 8 root: every privilege listed one by one',
      [
        'GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, SHUTDOWN, PROCESS, FILE, REFERENCES, INDEX, ALTER, SHOW DATABASES, SUPER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, CREATE TABLESPACE, CREATE ROLE, DROP ROLE ON *.* TO `root`@`%` WITH GRANT OPTION',
        'GRANT APPLICATION_PASSWORD_ADMIN,AUDIT_ADMIN,BACKUP_ADMIN ON *.* TO `root`@`%` WITH GRANT OPTION',
        'GRANT PROXY ON ``@`` TO `root`@`%` WITH GRANT OPTION',
      ],
      [],
    ],
    ['a role whose privileges SHOW GRANTS does not list', ['GRANT USAGE ON *.* TO `provisioner`@`%`', 'GRANT `dba` TO `provisioner`@`%`'], []],
    ['database-level grants that may cover the database', ['GRANT USAGE ON *.* TO `provisioner`@`%`', 'GRANT ALL PRIVILEGES ON `d%`.* TO `provisioner`@`%` WITH GRANT OPTION'], []],
    [
      'CREATE only',
      ['GRANT CREATE ON *.* TO `provisioner`@`%`'],
      ['cannot create user "openzro": \'provisioner\'@\'%\' lacks CREATE USER', 'lacks SELECT, INSERT, UPDATE, DELETE, DROP'],
    ],
    ['ALL without GRANT OPTION', ['GRANT ALL PRIVILEGES ON *.* TO `provisioner`@`%`'], ['lacks GRANT OPTION']],
  ])('%s', (_name, lines, expected) => {
    const problems = mysqlPrivilegeProblems(steps, parseAdminGrants(lines), admin)
    if (expected.length === 0) expect(problems).toEqual([])
    for (const fragment of expected) expect(problems.join('\n')).toContain(fragment)
  })
})
