import type { TLSSocket } from 'node:tls'
import pg from 'pg'
import type { Config } from '../../config/config.ts'
import type { Logger } from '../../log.ts'
import { connectWithRetry } from '../../wait.ts'
import { trackConnection } from '../connections.ts'
import type { RunContext } from '../engine.ts'
import { classifyPostgresConnectError, errorCode } from './postgres-errors.ts'
import { reportedError, tlsAttempts, worthTheNextAttempt, type TlsMaterial, type Verification } from './postgres-tls.ts'

export type PgClient = pg.Client

export interface LoginSpec {
  readonly user: string
  readonly password?: string
  readonly database: string
}

/**
 * Opens one authenticated connection, making the attempts libpq makes for the sslmode in order (prefer: TLS,
 * then plaintext; allow: plaintext, then TLS). The ssl options are built here, never from a connection string.
 * Throws the error that says most about what to fix: see `reportedError`.
 */
export async function connectPostgres(
  config: Config,
  tls: TlsMaterial,
  login: LoginSpec,
  timeoutMs: number,
  log: Logger,
): Promise<pg.Client> {
  const attempts = tlsAttempts(config.tls.mode, tls, config.host)
  const errors: unknown[] = []
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
      errors.push(error)
      await client.end().catch(() => undefined)
      const last = index === attempts.length - 1
      if (last || !worthTheNextAttempt(attempt, error)) throw reportedError(errors)
      log.debug({ code: errorCode(error) }, `${attempt.encrypted ? 'TLS' : 'plaintext'} attempt failed (${(error as Error).message}), trying ${attempt.encrypted ? 'plaintext' : 'TLS'}`)
      continue
    }
    const untrack = trackConnection(() => client.end())
    client.once('end', untrack)
    sessions.set(client, { encrypted: attempt.encrypted, verification: attempt.encrypted ? attempt.verification : 'none' })
    return client
  }
  throw reportedError(errors)
}

const sessions = new WeakMap<pg.Client, { encrypted: boolean; verification: Verification }>()

/** What the session's transport is, for the log line after connecting. */
export interface SessionTransport {
  readonly encrypted: boolean
  /** `TLSv1.3`, or undefined for plaintext. */
  readonly protocol?: string
  /** The server's certificate chain was verified against DBHOOK_SSLROOTCERT (or the system store). */
  readonly serverVerified: boolean
  readonly verification: Verification
}

export function describeSession(client: pg.Client): SessionTransport {
  const info = sessions.get(client) ?? { encrypted: false, verification: 'none' }
  const socket = (client as unknown as { connection?: { stream?: Partial<TLSSocket> } }).connection?.stream
  const protocol = info.encrypted && typeof socket?.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined
  return { encrypted: info.encrypted, protocol, serverVerified: info.verification !== 'none', verification: info.verification }
}

function transportWords(session: SessionTransport): string {
  if (!session.encrypted) return 'without encryption'
  const checked = session.verification === 'none' ? 'server not verified' : `verified: ${session.verification}`
  return `over ${session.protocol ?? 'TLS'} (${checked})`
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
    (error) => classifyPostgresConnectError(error, { user: login.user, database: login.database, variable }, { clientCertificate: tls.cert !== undefined }),
    { deadline: context.deadline, signal: context.signal, log, target },
  )
  const session = describeSession(client)
  log.info({ ...session, sslmode: tls.system ? 'verify-full' : config.tls.mode }, `connected to ${target} ${transportWords(session)}`)
  if (!session.encrypted && (config.tls.mode === 'prefer' || config.tls.mode === 'allow')) {
    log.warn(`the connection is not encrypted: DBHOOK_SSLMODE=${config.tls.mode} ended in plaintext; set DBHOOK_SSLMODE=verify-full (with DBHOOK_SSLROOTCERT) to require a verified TLS connection`)
  }
  return client
}

