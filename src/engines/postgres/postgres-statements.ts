import pg from 'pg'
import type { DesiredRole } from '../../plan.ts'

const { escapeIdentifier: id, escapeLiteral: literal } = pg

/** The attributes dbhook gives roles it creates: able to log in, nothing more. */
const loginOnly = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS'

/** CREATE ROLE with a password verifier (never the plaintext) when one is given. */
export function createRoleSql(role: DesiredRole, verifier?: string): string {
  const limit = role.connectionLimit === undefined ? '' : ` CONNECTION LIMIT ${role.connectionLimit}`
  const password = verifier === undefined ? '' : ` PASSWORD ${literal(verifier)}`
  return `CREATE ROLE ${id(role.name)} ${loginOnly}${limit}${password}`
}

export function setPasswordSql(role: string, verifier: string): string {
  return `ALTER ROLE ${id(role)} PASSWORD ${literal(verifier)}`
}

/** Without an owner the database belongs to the admin that creates it, for which CREATEDB suffices. */
export function createDatabaseSql(database: string, owner?: string): string {
  return owner === undefined ? `CREATE DATABASE ${id(database)}` : `CREATE DATABASE ${id(database)} OWNER ${id(owner)}`
}

export function alterOwnerSql(database: string, owner: string): string {
  return `ALTER DATABASE ${id(database)} OWNER TO ${id(owner)}`
}

/** A membership the admin grants itself inside one transaction; SET TRUE exists (and is needed) from PostgreSQL 16. */
export function grantMembershipSql(role: string, major: number): string {
  return major >= 16 ? `GRANT ${id(role)} TO CURRENT_USER WITH INHERIT FALSE, SET TRUE` : `GRANT ${id(role)} TO CURRENT_USER`
}

export function revokeMembershipSql(role: string): string {
  return `REVOKE ${id(role)} FROM CURRENT_USER`
}

/** Redacts the verifier from statements meant for logs: hashed, but still worth keeping out of log stores. */
export function loggableSql(sql: string): string {
  return sql.replace(/ PASSWORD '(?:[^']|'')*'/g, " PASSWORD '[redacted]'")
}

export { id as quoteIdentifier, literal as quoteLiteral }

/**
 * One statement, or a query whose rows (one text column) are the statements to run: apply runs the query and then
 * each row, psql runs it with `\gexec`. Either way the statements are decided on the server, at that moment.
 */
export type ItemStatement = string | { readonly generate: string }
