import { DbhookError, ExitCode } from '../../errors.ts'
import type { ConnectVerdict } from '../../wait.ts'
import { describeTlsFailure, type TlsFailureContext } from './postgres-tls.ts'

/** SQLSTATEs that mean "not yet": the server is starting, full, or restarting. */
const transientStates = new Set(['57P03', '53300', '57P01', '57P02', '57P05', '08000', '08001', '08003', '08004', '08006'])
const transientNodeCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT'])

interface PgLikeError {
  code?: string
  message?: string
  severity?: string
}

/** No listed host gave a session DBHOOK_TARGET_SESSION_ATTRS accepts; the message names each host's state. */
export class NoSuitableHostError extends Error {}

/** The SQLSTATE or Node error code, and a message without secrets (pg's messages never hold passwords). */
export function errorCode(error: unknown): string | undefined {
  return (error as PgLikeError)?.code
}

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
  if (code === '28P01') {
    return permanent(`password authentication failed for role ${JSON.stringify(who.user)}: check ${who.variable}`, ExitCode.noPermission, error)
  }
  if (code === '28000') {
    const tlsFailure = describeTlsFailure(error, tls)
    if (tlsFailure) return permanent(tlsFailure, ExitCode.noPermission, error)
    return permanent(`the server refused role ${JSON.stringify(who.user)}: ${message}${pgHbaHint(message)}`, ExitCode.noPermission, error)
  }
  if (code === '3D000') {
    return permanent(`database ${JSON.stringify(who.database)} does not exist (DBHOOK_ADMIN_DATABASE names the database dbhook connects to)`, ExitCode.config, error)
  }
  if (code === '42501') {
    return permanent(`role ${JSON.stringify(who.user)} may not connect: ${message}`, ExitCode.noPermission, error)
  }
  // PgBouncer refuses a login with 08P01, not 28P01, whether the password is wrong or the role is not in its
  // auth_file: as permanent as the server's own refusal.
  if (code === '08P01' && /(SASL|password) authentication failed|no such user/i.test(message)) {
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
  if (code?.startsWith('08') || code?.startsWith('57P')) return { retry: true, reason: `${code} ${message}` }
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

function permanent(message: string, exitCode: ExitCode, cause: unknown): ConnectVerdict {
  return { retry: false, error: new DbhookError(message, exitCode, { cause }) }
}

/** Wraps an error raised while applying a step: privilege errors exit 77, the rest 1. */
export function stepError(what: string, error: unknown): DbhookError {
  if (error instanceof DbhookError) return error
  const err = error as PgLikeError
  const code = err?.code
  const exitCode = code === '42501' ? ExitCode.noPermission : ExitCode.failed
  return new DbhookError(`${what} failed: ${code ? `${code} ` : ''}${err?.message ?? String(error)}`, exitCode, { cause: error })
}

// A session the server ended (shutdown, restart, crash, failover) or a socket that broke: the work can be
// redone on a new connection. 25006: the server became read-only under the session (a primary demoted).
const lostStates = new Set(['57P01', '57P02', '57P03', '57P05', '08000', '08003', '08006', '25006'])
const lostNodeCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])
// PgBouncer relays a server that went away mid-transaction as 08P01 with the server's own words.
const lostMessages = /terminating connection due to administrator command|Connection terminated|server conn crashed|server closed the connection unexpectedly|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|connection is closed|socket hang up|timeout expired/i

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
