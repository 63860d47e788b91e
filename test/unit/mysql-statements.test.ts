import { describe, expect, test } from 'vitest'
import type { Config } from '../../src/config/config.ts'
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
    const config = (charset: string, collation?: string) =>
      ({ mysql: { charset, collation, userHost: '%', requireSsl: false } }) as unknown as Config
    expect(() => checkCharset(config('utf8mb4', 'utf8mb4_bin'))).not.toThrow()
    expect(() => checkCharset(config('utf8mb4; DROP DATABASE x'))).toThrow(/DBHOOK_MYSQL_CHARSET/)
    expect(() => checkCharset(config('utf8mb4', 'x y'))).toThrow(/DBHOOK_MYSQL_COLLATION/)
  })
})
