import { DbhookError, ExitCode } from '../../errors.ts'
import type { ConnectVerdict } from '../../wait.ts'
import { describeMysqlTlsFailure } from './mysql-tls.ts'

/** What mysql2 errors carry: a server error has errno > 0 and sqlState; a Node error only a code. */
interface MysqlLikeError {
  code?: string
  errno?: number
  sqlState?: string
  sqlMessage?: string
  message?: string
}

const transientCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'PROTOCOL_CONNECTION_LOST',
])
/** ER_CON_COUNT_ERROR (too many connections) and ER_SERVER_SHUTDOWN: the server is there but not ready. */
const transientErrnos = new Set([1040, 1053])

/** The server's error number, or undefined for network and client errors. */
export function serverErrno(error: unknown): number | undefined {
  const err = error as MysqlLikeError
  return err?.sqlState !== undefined && typeof err.errno === 'number' && err.errno > 0 ? err.errno : undefined
}

export function errorCode(error: unknown): string | undefined {
  return (error as MysqlLikeError)?.code
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
    case 1045:
      return permanent(`access denied for user ${user}: check ${who.variable} (or the account requires TLS and the connection has none)`, ExitCode.noPermission, error)
    case 1044:
    case 1227:
      return permanent(`user ${user} is not allowed to do this: ${message}`, ExitCode.noPermission, error)
    case 1130:
      return permanent(`user ${user} may not connect from this host: ${message} (the account's host part must match where dbhook runs)`, ExitCode.noPermission, error)
    case 1049:
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

function permanent(message: string, exitCode: ExitCode, cause: unknown): ConnectVerdict {
  return { retry: false, error: new DbhookError(message, exitCode, { cause }) }
}

/** Wraps an error raised while applying a step: refused privileges exit 77, the rest 1. */
export function stepError(what: string, error: unknown): DbhookError {
  if (error instanceof DbhookError) return error
  const errno = serverErrno(error)
  // 1044/1045 access denied, 1227 missing privilege, 1410 may not create a user with GRANT, 1142 command denied.
  const denied = errno === 1044 || errno === 1045 || errno === 1227 || errno === 1410 || errno === 1142
  return new DbhookError(`${what} failed: ${errno ? `${errno} ` : ''}${messageOf(error)}`, denied ? ExitCode.noPermission : ExitCode.failed, { cause: error })
}
