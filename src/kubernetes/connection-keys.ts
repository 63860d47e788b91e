import { isIPv6 } from 'node:net'
import type { Engine, SslMode } from '../config/config.ts'
import type { DatabaseSpec } from '../config/databases.ts'

/** What a generated Secret describes: one role's login to every listed database. */
export interface ConnectionFacts {
  readonly engine: Engine
  readonly host: string
  readonly port: number
  readonly sslMode: SslMode
  readonly username: string
  readonly password: string
  readonly databases: readonly DatabaseSpec[]
}

/** MySQL's own ssl-mode word (mysql(1), MySQL Shell URIs) for each libpq meaning DBHOOK_SSLMODE reads as. */
const mysqlSslModes: Record<SslMode, string> = {
  disable: 'DISABLED',
  allow: 'PREFERRED',
  prefer: 'PREFERRED',
  require: 'REQUIRED',
  'verify-ca': 'VERIFY_CA',
  'verify-full': 'VERIFY_IDENTITY',
}

/** The word the `sslmode` key holds: libpq's for PostgreSQL, MySQL's ssl-mode for MySQL/MariaDB. */
export function sslModeWord(engine: Engine, mode: SslMode): string {
  return engine === 'postgres' ? mode : mysqlSslModes[mode]
}

/**
 * Characters a URI path segment may hold as they are (RFC 3986 pchar: sub-delims, ":" and "@"), which
 * encodeURIComponent escapes anyway. node-postgres decodes the path with decodeURI, which leaves exactly these
 * escaped, so they must stay literal; libpq and Go's net/url (pgx) read them either way.
 */
const literalInPath: Record<string, string> = {
  '%3B': ';',
  '%3A': ':',
  '%40': '@',
  '%26': '&',
  '%3D': '=',
  '%2B': '+',
  '%24': '$',
  '%2C': ',',
}

function encodePathSegment(name: string): string {
  return encodeURIComponent(name).replace(/%(3B|3A|40|26|3D|2B|24|2C)/g, (escaped) => literalInPath[escaped]!)
}

function hostPart(host: string): string {
  return isIPv6(host) ? `[${host}]` : host
}

/**
 * The URI of one database: `postgresql://user:password@host:port/db?sslmode=mode`, which libpq, pgx and
 * node-postgres read as they are, or `mysql://user:password@host:port/db?ssl-mode=MODE`. User, password and
 * database are percent-encoded.
 */
export function connectionUri(facts: ConnectionFacts, database: string): string {
  const scheme = facts.engine === 'postgres' ? 'postgresql' : 'mysql'
  const query = facts.engine === 'postgres' ? `sslmode=${facts.sslMode}` : `ssl-mode=${mysqlSslModes[facts.sslMode]}`
  const credentials = `${encodeURIComponent(facts.username)}:${encodeURIComponent(facts.password)}`
  return `${scheme}://${credentials}@${hostPart(facts.host)}:${facts.port}/${encodePathSegment(database)}?${query}`
}

/**
 * Database names node-postgres cannot read back from a URI path: it decodes the path with decodeURI, which keeps
 * %2F, %3F and %23 as they are. libpq and pgx read them; the `uri-<key>` is written all the same.
 */
export function namesNodePostgresMisreads(databases: readonly DatabaseSpec[]): DatabaseSpec[] {
  return databases.filter((db) => /[/?#]/.test(db.name))
}

/** The key of a database's URI; a Secret key may hold letters, digits, `-`, `_` and `.` only. */
function uriKey(databaseKey: string): string {
  return `uri-${databaseKey}`
}

const secretKeyPattern = /^[-._a-zA-Z0-9]+$/

/** Database keys that cannot name a Secret key (uri-<key>); those databases get no URI key. */
export function unusableUriKeys(databases: readonly DatabaseSpec[]): string[] {
  return databases.map((db) => db.key).filter((key) => uriKey(key).length > 253 || !secretKeyPattern.test(uriKey(key)))
}

/** Every key the Secret should hold, in the order a person reads them: username, password, host, port, sslmode, uri-*. */
export function connectionKeys(facts: ConnectionFacts): Record<string, string> {
  const keys: Record<string, string> = {
    username: facts.username,
    password: facts.password,
    host: facts.host,
    port: String(facts.port),
    sslmode: sslModeWord(facts.engine, facts.sslMode),
  }
  const unusable = new Set(unusableUriKeys(facts.databases))
  for (const db of facts.databases) {
    if (!unusable.has(db.key)) keys[uriKey(db.key)] = connectionUri(facts, db.name)
  }
  return keys
}

/** The keys of `desired` that `existing` lacks: what completing a Secret adds. Existing keys are never touched. */
export function missingKeys(existing: Readonly<Record<string, string>>, desired: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(desired).filter(([key]) => !Object.hasOwn(existing, key)))
}
