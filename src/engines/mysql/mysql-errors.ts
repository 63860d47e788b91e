import { type DbhookError, ExitCode } from '../../errors.ts'
import type { ConnectVerdict } from '../../wait.ts'
import { errorCode, permanent, stepFailure, unreachableCodes } from '../driver-errors.ts'
import { MysqlErrno } from './mysql-errno.ts'
import { describeMysqlTlsFailure } from './mysql-tls.ts'

/** What mysql2 errors carry: a server error has errno > 0 and sqlState; a Node error only a code. */
interface MysqlLikeError {
  code?: string
  errno?: number
  sqlState?: string
  sqlMessage?: string
  message?: string
}

const transientCodes: ReadonlySet<string> = new Set([...unreachableCodes, 'PROTOCOL_CONNECTION_LOST'])
/** The server is there but not ready: too many connections, or shutting down. */
const transientErrnos: ReadonlySet<number> = new Set([MysqlErrno.tooManyConnections, MysqlErrno.serverShutdown])

/** Refused privileges: a step that fails with one of these exits 77. */
const deniedErrnos: ReadonlySet<number> = new Set([
  MysqlErrno.databaseAccessDenied,
  MysqlErrno.accessDenied,
  MysqlErrno.specificAccessDenied,
  MysqlErrno.cannotCreateUserWithGrant,
  MysqlErrno.tableAccessDenied,
])

/** The server's error number, or undefined for network and client errors. */
export function serverErrno(error: unknown): number | undefined {
  const err = error as MysqlLikeError
  return err?.sqlState !== undefined && typeof err.errno === 'number' && err.errno > 0 ? err.errno : undefined
}

function messageOf(error: unknown): string {
  const err = error as MysqlLikeError
  return err?.sqlMessage ?? err?.message ?? String(error)
}

/**
 * Decides whether a failed connection attempt is worth another try. Denied access (1045, 1044, 1227, 1130) and an
 * unknown database (1049) end the wait at once, as does any TLS failure.
 */
export function classifyMysqlConnectError(error: unknown, who: { user: string; variable: string }): ConnectVerdict {
  const errno = serverErrno(error)
  const code = errorCode(error)
  const message = messageOf(error)
  const user = JSON.stringify(who.user)
  switch (errno) {
    case MysqlErrno.accessDenied:
      return permanent(
        `access denied for user ${user}: check ${who.variable} (or the account requires TLS and the connection has none)`,
        ExitCode.noPermission,
        error,
      )
    case MysqlErrno.databaseAccessDenied:
    case MysqlErrno.specificAccessDenied:
      return permanent(`user ${user} is not allowed to do this: ${message}`, ExitCode.noPermission, error)
    case MysqlErrno.hostNotPrivileged:
      return permanent(
        `user ${user} may not connect from this host: ${message} (the account's host part must match where dbhook runs)`,
        ExitCode.noPermission,
        error,
      )
    case MysqlErrno.unknownDatabase:
      return permanent(`unknown database: ${message}`, ExitCode.config, error)
    default:
      break
  }
  if (errno !== undefined && transientErrnos.has(errno)) return { retry: true, reason: `${errno} ${message}` }
  if (code && transientCodes.has(code)) return { retry: true, reason: code }
  const tls = describeMysqlTlsFailure(error)
  if (tls) return permanent(tls, ExitCode.noPermission, error)
  return permanent(`cannot connect as ${user}: ${errno ?? code ?? ''} ${message}`.replace(/: +/, ': '), ExitCode.failed, error)
}

/** Wraps an error raised while applying a step: refused privileges exit 77, the rest 1. */
export function stepError(what: string, error: unknown): DbhookError {
  const errno = serverErrno(error)
  return stepFailure(what, error, { code: errno, message: messageOf(error), denied: errno !== undefined && deniedErrnos.has(errno) })
}
