import { createHash } from 'node:crypto'
import mysql from 'mysql2'
import type { Config } from '../../config/config.ts'
import { DbhookError, ExitCode } from '../../errors.ts'

/** A statement and the form of it that may be logged: no password and no password hash. */
export interface Statement {
  readonly sql: string
  readonly loggable: string
}

/** A MySQL account: a user name and the host part it is created for. */
export interface Account {
  readonly user: string
  readonly host: string
}

/** `db`.`name` quoting that never splits on dots. */
export function quoteIdentifier(name: string): string {
  return mysql.escapeId(name, true)
}

export function quoteString(value: string): string {
  return mysql.escape(value)
}

export function quoteAccount(account: Account): string {
  return `${quoteString(account.user)}@${quoteString(account.host)}`
}

/**
 * The database name as a GRANT pattern: `_` and `%` are wildcards in database-level grants and `\` escapes them,
 * so each is escaped to grant on exactly this database and no look-alike. The pattern is limited to 64 characters
 * like the name (error 1102); a name too long to escape is granted as it is, which `wildcardGrant` reports.
 */
export function grantPattern(name: string): string {
  const escaped = name.replace(/[\\_%]/g, (c) => `\\${c}`)
  return [...escaped].length <= maxPatternChars ? escaped : name
}

const maxPatternChars = 64

/** True when the grant on `name` also matches other databases, because its wildcards could not be escaped. */
export function wildcardGrant(name: string): boolean {
  return grantPattern(name) === name && /[_%]/.test(name)
}

/** The form the server stores for `'user'@'host'` in information_schema (no escaping of quotes inside). */
export function grantee(account: Account): string {
  return `'${account.user}'@'${account.host}'`
}

/** mysql_native_password's stored form: `*` and the upper-case hex of SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest()
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`
}

/**
 * How a password reaches the server. MariaDB logs `IDENTIFIED BY '…'` verbatim in its general log, so it gets the
 * mysql_native_password hash computed here; MySQL 8 rewrites passwords out of its logs itself and, from 8.4, no
 * longer enables mysql_native_password, so it gets the password for its default plugin.
 */
export type PasswordForm = 'native-hash' | 'plaintext'

function identifiedBy(password: string, form: PasswordForm): { sql: string; loggable: string } {
  if (form === 'native-hash')
    return { sql: `IDENTIFIED BY PASSWORD ${quoteString(nativePasswordHash(password))}`, loggable: `IDENTIFIED BY PASSWORD '[redacted]'` }
  return { sql: `IDENTIFIED BY ${quoteString(password)}`, loggable: `IDENTIFIED BY '[redacted]'` }
}

/** Only names of character sets and collations (letters, digits, _) are ever put into SQL unquoted. */
const charsetName = /^[A-Za-z0-9_]{1,64}$/

/** Checks DBHOOK_MYSQL_CHARSET and DBHOOK_MYSQL_COLLATION before anything connects (exit 78). */
export function checkCharset(config: Config): void {
  const { charset, collation } = config.mysql
  if (!charsetName.test(charset)) {
    throw new DbhookError(
      `DBHOOK_MYSQL_CHARSET must be a character set name such as utf8mb4, got ${JSON.stringify(charset.slice(0, 80))}`,
      ExitCode.config,
    )
  }
  if (collation !== undefined && !charsetName.test(collation)) {
    throw new DbhookError(
      `DBHOOK_MYSQL_COLLATION must be a collation name such as utf8mb4_unicode_ci, got ${JSON.stringify(collation.slice(0, 80))}`,
      ExitCode.config,
    )
  }
}

export function createDatabaseSql(name: string, config: Config): string {
  const { charset, collation } = config.mysql
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(name)} CHARACTER SET ${charset}${collation ? ` COLLATE ${collation}` : ''}`
}

/** CREATE USER IF NOT EXISTS; without a password the account is created locked (the script's form). */
export function createUserStatement(account: Account, password: string | undefined, form: PasswordForm, requireSsl: boolean): Statement {
  const head = `CREATE USER IF NOT EXISTS ${quoteAccount(account)}`
  const tail = requireSsl ? ' REQUIRE SSL' : ''
  if (password === undefined) {
    const sql = `${head}${tail} ACCOUNT LOCK`
    return { sql, loggable: sql }
  }
  const identified = identifiedBy(password, form)
  return { sql: `${head} ${identified.sql}${tail}`, loggable: `${head} ${identified.loggable}${tail}` }
}

export function setPasswordStatement(account: Account, password: string, form: PasswordForm): Statement {
  const head = `ALTER USER ${quoteAccount(account)}`
  const identified = identifiedBy(password, form)
  return { sql: `${head} ${identified.sql}`, loggable: `${head} ${identified.loggable}` }
}

const ownerPrivileges = 'ALL PRIVILEGES'

/**
 * What a database-level ALL PRIVILEGES holds on every MySQL and MariaDB version dbhook supports; newer servers add
 * more (DELETE HISTORY, SHOW CREATE ROUTINE), which are not required to count the owner's grant as present.
 */
export const ownerPrivilegeSet: readonly string[] = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EVENT',
  'TRIGGER',
]
export const appPrivileges = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const

export function grantOwnerSql(database: string, account: Account): string {
  return `GRANT ${ownerPrivileges} ON ${quoteIdentifier(grantPattern(database))}.* TO ${quoteAccount(account)}`
}

export function grantAppSql(database: string, account: Account): string {
  return `GRANT ${appPrivileges.join(', ')} ON ${quoteIdentifier(grantPattern(database))}.* TO ${quoteAccount(account)}`
}

/**
 * mysql2's escape() escapes quotes with backslashes; under NO_BACKSLASH_ESCAPES a backslash is an ordinary
 * character and such a literal would end early. Every dbhook session turns the mode off first.
 */
export const sessionSqlMode = "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')"
