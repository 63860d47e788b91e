import { DbhookError, ExitCode } from '../errors.ts'
import type { ConnectVerdict } from '../wait.ts'

/**
 * Node's codes for a server that cannot be reached yet or that cut the connection: worth another attempt with
 * every driver (each engine adds codes of its own).
 */
export const unreachableCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

/** The `code` a driver or Node error carries: a SQLSTATE, a gRPC status, `ECONNREFUSED`, `HANDSHAKE_SSL_ERROR`. */
export function errorCode(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code
}

/** A failed attempt that another would not fix: the wait ends at once with this message and exit code. */
export function permanent(message: string, exitCode: ExitCode, cause: unknown): ConnectVerdict {
  return { retry: false, error: new DbhookError(message, exitCode, { cause }) }
}

/**
 * An error raised while applying a step, as `<what> failed: <server code> <message>`: exit 77 when the server
 * refused a privilege (`denied`), 1 otherwise. A DbhookError already says what to fix and passes unchanged.
 */
export function stepFailure(
  what: string,
  error: unknown,
  server: { code: string | number | undefined; message: string; denied: boolean },
): DbhookError {
  if (error instanceof DbhookError) return error
  const code = server.code ? `${server.code} ` : ''
  return new DbhookError(`${what} failed: ${code}${server.message}`, server.denied ? ExitCode.noPermission : ExitCode.failed, {
    cause: error,
  })
}
