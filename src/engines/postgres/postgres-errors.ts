import { type DbhookError, ExitCode } from '../../errors.ts'
import type { ConnectVerdict } from '../../wait.ts'
import { permanent, stepFailure, unreachableCodes } from '../driver-errors.ts'
import { SqlState, SqlStatePrefix } from './postgres-sqlstate.ts'
import { describeTlsFailure, type TlsFailureContext } from './postgres-tls.ts'

// The SQLSTATE or Node error code (pg's messages never hold passwords).

/** SQLSTATEs that mean "not yet": the server is starting, full, or restarting. */
const transientStates: ReadonlySet<string> = new Set([
  SqlState.cannotConnectNow,
  SqlState.tooManyConnections,
  SqlState.adminShutdown,
  SqlState.crashShutdown,
  SqlState.idleSessionTimeout,
  SqlState.connectionException,
  SqlState.unableToEstablishConnection,
  SqlState.connectionDoesNotExist,
  SqlState.serverRejectedConnection,
  SqlState.connectionFailure,
])
// ENOENT: a Unix socket path that does not exist yet.
const transientNodeCodes: ReadonlySet<string> = new Set([...unreachableCodes, 'ENOENT'])

interface PgLikeError {
  code?: string
  message?: string
}

/** No listed host gave a session DBHOOK_TARGET_SESSION_ATTRS accepts; the message names each host's state. */
export class NoSuitableHostError extends Error {}

/**
 * Decides whether a failed connection attempt is worth another try. Authentication, a missing database and
 * refused privileges are permanent and end the wait at once; so is any TLS trust failure.
 */
export function classifyPostgresConnectError(
  error: unknown,
  who: { user: string; database: string; variable: string },
  tls: TlsFailureContext = { clientCertificate: true },
): ConnectVerdict {
  const err = error as PgLikeError
  const code = err?.code
  const message = err?.message ?? String(error)
  if (error instanceof NoSuitableHostError) return { retry: true, reason: message }
  if (code === SqlState.invalidPassword) {
    return permanent(
      `password authentication failed for role ${JSON.stringify(who.user)}: check ${who.variable}`,
      ExitCode.noPermission,
      error,
    )
  }
  if (code === SqlState.invalidAuthorization) {
    const tlsFailure = describeTlsFailure(error, tls)
    if (tlsFailure) return permanent(tlsFailure, ExitCode.noPermission, error)
    return permanent(`the server refused role ${JSON.stringify(who.user)}: ${message}${pgHbaHint(message)}`, ExitCode.noPermission, error)
  }
  if (code === SqlState.invalidCatalogName) {
    return permanent(
      `database ${JSON.stringify(who.database)} does not exist (DBHOOK_ADMIN_DATABASE names the database dbhook connects to)`,
      ExitCode.config,
      error,
    )
  }
  if (code === SqlState.insufficientPrivilege) {
    return permanent(`role ${JSON.stringify(who.user)} may not connect: ${message}`, ExitCode.noPermission, error)
  }
  // PgBouncer refuses a login with 08P01, not 28P01, whether the password is wrong or the role is not in its
  // auth_file: as permanent as the server's own refusal.
  if (code === SqlState.protocolViolation && /(SASL|password) authentication failed|no such user/i.test(message)) {
    return permanent(
      `the connection pooler refused role ${JSON.stringify(who.user)} (${message}): check ${who.variable}, and that the pooler knows the role (PgBouncer: auth_file or auth_query)`,
      ExitCode.noPermission,
      error,
    )
  }
  if (code && transientStates.has(code)) return { retry: true, reason: `${code} ${message}` }
  if (code && transientNodeCodes.has(code)) return { retry: true, reason: code }
  const tlsFailure = describeTlsFailure(error, tls)
  if (tlsFailure) return permanent(tlsFailure, ExitCode.noPermission, error)
  if (/Connection terminated|timeout expired|Connection ended|socket hang up/i.test(message)) {
    return { retry: true, reason: message }
  }
  if (code?.startsWith(SqlStatePrefix.connectionException) || code?.startsWith(SqlStatePrefix.serverEndedSession))
    return { retry: true, reason: `${code} ${message}` }
  return permanent(`cannot connect as ${JSON.stringify(who.user)}: ${code ? `${code} ` : ''}${message}`, ExitCode.failed, error)
}

// pg_hba.conf ends its refusal with the transport it refused: "no encryption" (PostgreSQL 14+) / "SSL off" when no
// line allows this role without TLS (often: only a hostssl line does), "SSL encryption" / "SSL on" when no line
// allows it over TLS.
function pgHbaHint(message: string): string {
  if (!/no pg_hba\.conf entry/.test(message)) return ''
  if (/(no encryption|SSL off)$/.test(message)) {
    return ' (no pg_hba.conf line allows this role without TLS; if a hostssl line does, use DBHOOK_SSLMODE=prefer or stronger)'
  }
  if (/(SSL encryption|SSL on)$/.test(message)) {
    return ' (no pg_hba.conf line allows this role over TLS; if a hostnossl line does, use DBHOOK_SSLMODE=prefer or allow)'
  }
  return ''
}

/** Wraps an error raised while applying a step: privilege errors exit 77, the rest 1. */
export function stepError(what: string, error: unknown): DbhookError {
  const err = error as PgLikeError
  return stepFailure(what, error, {
    code: err?.code,
    message: err?.message ?? String(error),
    denied: err?.code === SqlState.insufficientPrivilege,
  })
}

// A session the server ended (shutdown, restart, crash, failover) or a socket that broke: the work can be
// redone on a new connection. 25006: the server became read-only under the session (a primary demoted).
const lostStates: ReadonlySet<string> = new Set([
  SqlState.adminShutdown,
  SqlState.crashShutdown,
  SqlState.cannotConnectNow,
  SqlState.idleSessionTimeout,
  SqlState.connectionException,
  SqlState.connectionDoesNotExist,
  SqlState.connectionFailure,
  SqlState.readOnlyTransaction,
])
const lostNodeCodes: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])
// PgBouncer relays a server that went away mid-transaction as 08P01 with the server's own words.
const lostMessages =
  /terminating connection due to administrator command|Connection terminated|server conn crashed|server closed the connection unexpectedly|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|connection is closed|socket hang up|timeout expired/i

/**
 * When `error` (or what caused it) means the connection to the server was lost rather than refused, the reason
 * in a few words; undefined for everything else, which a new connection would not fix (privileges, SQL, auth).
 */
export function connectionLoss(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; depth += 1) {
    const err = current as PgLikeError & { cause?: unknown }
    const code = err.code
    const message = err.message ?? ''
    if (code && (lostStates.has(code) || lostNodeCodes.has(code))) return `${code} ${message}`.trim()
    if (lostMessages.test(message)) return message
    current = err.cause
  }
  return undefined
}
