import type { TLSSocket } from 'node:tls'
import pg from 'pg'
import type { Config } from '../../config/config.ts'
import type { Logger } from '../../log.ts'
import { connectWithRetry } from '../../wait.ts'
import { trackConnection } from '../connections.ts'
import type { RunContext } from '../engine.ts'
import { classifyPostgresConnectError, errorCode } from './postgres-errors.ts'
import { describeTlsFailure, tlsAttempts, type TlsMaterial } from './postgres-tls.ts'

export type PgClient = pg.Client

export interface LoginSpec {
  readonly user: string
  readonly password?: string
  readonly database: string
}

/**
 * Opens one authenticated connection, making the attempts libpq makes for the sslmode in order (prefer: TLS,
 * then plaintext; allow: plaintext, then TLS). The ssl options are built here, never from a connection string.
 * Throws the error of the last attempt, or of the TLS attempt when that says more.
 */
export async function connectPostgres(
  config: Config,
  tls: TlsMaterial,
  login: LoginSpec,
  timeoutMs: number,
  log: Logger,
): Promise<pg.Client> {
  const attempts = tlsAttempts(config.tls.mode, tls, config.host)
  let firstError: unknown
  for (const [index, attempt] of attempts.entries()) {
    const client = new pg.Client({
      host: config.host,
      port: config.port,
      user: login.user,
      password: login.password ?? '',
      database: login.database,
      ssl: attempt.encrypted ? attempt.options : false,
      connectionTimeoutMillis: Math.max(1, Math.min(config.connectTimeoutMs, timeoutMs)),
      application_name: 'dbhook',
      keepAlive: true,
    })
    // A server that drops the connection later must not crash the process with an unhandled 'error' event.
    client.on('error', (error) => log.debug({ code: errorCode(error) }, `connection error: ${error.message}`))
    try {
      await client.connect()
    } catch (error) {
      firstError ??= error
      await client.end().catch(() => undefined)
      const last = index === attempts.length - 1
      if (last || !worthFallingBack(error)) throw pickError(firstError, error)
      log.debug({ code: errorCode(error) }, `${attempt.encrypted ? 'TLS' : 'plaintext'} attempt failed, trying ${attempt.encrypted ? 'plaintext' : 'TLS'}`)
      continue
    }
    const untrack = trackConnection(() => client.end())
    client.once('end', untrack)
    sessions.set(client, { encrypted: attempt.encrypted, verified: attempt.encrypted && attempt.verified })
    return client
  }
  throw firstError
}

// A fallback makes sense for a TLS refusal or pg_hba rejecting this kind of connection; a wrong password, a
// down server or a missing database would fail the same way again.
function worthFallingBack(error: unknown): boolean {
  const code = errorCode(error)
  if (code === '28000') return true
  if (code && /^[0-9A-Z]{5}$/.test(code)) return false
  return describeTlsFailure(error) !== undefined
}

// Report the TLS failure rather than a plaintext refusal that followed it: it is the one the operator can fix.
function pickError(first: unknown, last: unknown): unknown {
  return describeTlsFailure(first) && errorCode(last) === '28000' ? first : last
}

const sessions = new WeakMap<pg.Client, { encrypted: boolean; verified: boolean }>()

/** What the session's transport is, for the log line after connecting: encrypted, protocol, server verified. */
export function describeSession(client: pg.Client): { encrypted: boolean; protocol?: string; serverVerified: boolean } {
  const info = sessions.get(client) ?? { encrypted: false, verified: false }
  const socket = (client as unknown as { connection?: { stream?: TLSSocket } }).connection?.stream
  const protocol = info.encrypted && typeof socket?.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined
  return { encrypted: info.encrypted, protocol, serverVerified: info.verified }
}

/**
 * Connects with retries as `login`, logging what the session's transport turned out to be. Used for the admin,
 * and by verify for the owner.
 */
export async function connectWithWait(context: RunContext, tls: TlsMaterial, login: LoginSpec, variable: string): Promise<pg.Client> {
  const { config, log } = context
  const target = `PostgreSQL at ${config.host}:${config.port} as ${JSON.stringify(login.user)}`
  const client = await connectWithRetry(
    (timeLeft) => connectPostgres(config, tls, login, timeLeft, log),
    (error) => classifyPostgresConnectError(error, { user: login.user, database: login.database, variable }),
    { deadline: context.deadline, signal: context.signal, log, target },
  )
  const session = describeSession(client)
  log.info(session, `connected to ${target}`)
  if (!session.encrypted && (config.tls.mode === 'prefer' || config.tls.mode === 'allow')) {
    log.warn(`the connection is not encrypted (DBHOOK_SSLMODE=${config.tls.mode} fell back to plaintext); set DBHOOK_SSLMODE=verify-full to require TLS`)
  }
  return client
}

