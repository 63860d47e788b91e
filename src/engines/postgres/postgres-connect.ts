import type { TLSSocket } from 'node:tls'
import pg from 'pg'
import type { Config, HostPort, TargetSessionAttrs } from '../../config/config.ts'
import { describeHost } from '../../config/hosts.ts'
import type { Logger } from '../../log.ts'
import { connectWithRetry, type ConnectVerdict } from '../../wait.ts'
import { trackConnection } from '../connections.ts'
import { errorCode } from '../driver-errors.ts'
import type { RunContext } from '../engine.ts'
import { type SessionTransport, tlsProtocol } from '../session-transport.ts'
import { classifyPostgresConnectError, NoSuitableHostError } from './postgres-errors.ts'
import { reportedError, tlsAttempts, worthTheNextAttempt, type TlsMaterial, type Verification } from './postgres-tls.ts'

interface LoginSpec {
  readonly user: string
  readonly password?: string
  readonly database: string
}

/** What a server said about the session it gave: a standby is in recovery; read-only is what a new transaction is. */
interface ServerRole {
  readonly inRecovery: boolean
  readonly readOnly: boolean
}

/**
 * An authenticated session on the host that DBHOOK_TARGET_SESSION_ATTRS chose among DBHOOK_HOST. Every other
 * connection the run opens (per database, password checks, pg_dump) must go to `endpoint`: after a failover the
 * first listed host may be a standby, and only this one was checked.
 */
export interface ChosenSession {
  readonly client: pg.Client
  readonly endpoint: HostPort
  readonly role: ServerRole
  /** The hosts listed before it that were passed over, each with why (`db-0:5432 is a standby (in recovery)`). */
  readonly passed: readonly string[]
}

/**
 * Opens one authenticated connection to `endpoint`, making the attempts libpq makes for the sslmode in order
 * (prefer: TLS, then plaintext; allow: plaintext, then TLS). The ssl options are built here, never from a
 * connection string. Throws the error that says most about what to fix: see `reportedError`.
 */
export async function connectPostgres(
  config: Config,
  tls: TlsMaterial,
  login: LoginSpec,
  endpoint: HostPort,
  timeoutMs: number,
  log: Logger,
): Promise<pg.Client> {
  const attempts = tlsAttempts(config.tls.mode, tls, endpoint.host)
  const errors: unknown[] = []
  for (const [index, attempt] of attempts.entries()) {
    const client = new pg.Client({
      host: endpoint.host,
      port: endpoint.port,
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
      log.debug(
        { code: errorCode(error) },
        `${attempt.encrypted ? 'TLS' : 'plaintext'} attempt failed (${(error as Error).message}), trying ${attempt.encrypted ? 'plaintext' : 'TLS'}`,
      )
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

/** Whether a session with this role is what the attributes ask for (libpq's meaning of each). */
export function fitsTarget(attrs: TargetSessionAttrs, role: ServerRole): boolean {
  switch (attrs) {
    case 'any':
      return true
    case 'read-write':
      return !role.readOnly
    case 'read-only':
      return role.readOnly
    case 'primary':
      return !role.inRecovery
    case 'standby':
    case 'prefer-standby':
      return role.inRecovery
    default:
      throw new Error(`unknown target_session_attrs ${JSON.stringify(attrs satisfies never)}`)
  }
}

function roleWords(role: ServerRole): string {
  if (role.inRecovery) return 'is a standby (in recovery)'
  if (role.readOnly) return 'is read-only (default_transaction_read_only is on)'
  return 'is a primary (accepts writes)'
}

/** How a host that could not be used is described in the wait's messages. */
function failureWords(error: unknown, verdict: ConnectVerdict): string {
  const code = errorCode(error)
  const message = (error as Error)?.message ?? String(error)
  if (code === 'ECONNREFUSED') return 'refused the connection'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `does not resolve (${code})`
  if (code === 'ETIMEDOUT' || /timeout expired/i.test(message)) return 'did not answer within DBHOOK_CONNECT_TIMEOUT'
  return `failed: ${verdict.retry ? verdict.reason : message}`
}

async function serverRole(client: pg.Client): Promise<ServerRole> {
  const { rows } = await client.query<ServerRole>(
    `SELECT pg_is_in_recovery() AS "inRecovery", current_setting('transaction_read_only') = 'on' AS "readOnly"`,
  )
  return rows[0] ?? { inRecovery: false, readOnly: false }
}

/**
 * One pass over DBHOOK_HOST in order, as libpq makes it for target_session_attrs: the first host whose session
 * fits wins; prefer-standby takes the first host that answered when none is a standby. A permanent error
 * (authentication, a missing database, TLS trust) ends the pass at once, as it ends libpq's. When no host fits,
 * throws NoSuitableHostError naming each host's state, which the wait retries.
 */
async function connectToTarget(
  config: Config,
  tls: TlsMaterial,
  login: LoginSpec,
  timeLeftMs: number,
  log: Logger,
  classify: (error: unknown) => ConnectVerdict,
): Promise<ChosenSession> {
  const attrs = config.targetSessionAttrs
  const passEnds = Date.now() + timeLeftMs
  const states: string[] = []
  let fallback: ChosenSession | undefined
  for (const endpoint of config.hosts) {
    const left = passEnds - Date.now()
    if (left <= 0) {
      states.push(`${describeHost(endpoint)} not tried before DBHOOK_WAIT_TIMEOUT ran out`)
      continue
    }
    let client: pg.Client
    try {
      client = await connectPostgres(config, tls, login, endpoint, left, log)
    } catch (error) {
      const verdict = classify(error)
      if (!verdict.retry || config.hosts.length === 1) throw error
      states.push(`${describeHost(endpoint)} ${failureWords(error, verdict)}`)
      continue
    }
    let role: ServerRole
    try {
      role = await serverRole(client)
    } catch (error) {
      await client.end().catch(() => undefined)
      const verdict = classify(error)
      if (!verdict.retry) throw error
      states.push(`${describeHost(endpoint)} ${failureWords(error, verdict)}`)
      continue
    }
    if (fitsTarget(attrs, role)) {
      if (fallback) await fallback.client.end().catch(() => undefined)
      return { client, endpoint, role, passed: states }
    }
    if (attrs === 'prefer-standby' && !fallback) fallback = { client, endpoint, role, passed: [...states] }
    else await client.end().catch(() => undefined)
    states.push(`${describeHost(endpoint)} ${roleWords(role)}`)
  }
  if (fallback) return { ...fallback, passed: states.filter((state) => !state.startsWith(`${describeHost(fallback!.endpoint)} `)) }
  throw new NoSuitableHostError(`${states.join('; ')}; DBHOOK_TARGET_SESSION_ATTRS=${attrs}`)
}

/** The session's transport, and how much of the server's identity its TLS checked. */
interface PostgresTransport extends SessionTransport {
  readonly verification: Verification
}

function describeSession(client: pg.Client): PostgresTransport {
  const info = sessions.get(client) ?? { encrypted: false, verification: 'none' }
  const socket = (client as unknown as { connection?: { stream?: Partial<TLSSocket> } }).connection?.stream
  return {
    encrypted: info.encrypted,
    protocol: tlsProtocol(info.encrypted, socket),
    serverVerified: info.verification !== 'none',
    verification: info.verification,
  }
}

function transportWords(session: PostgresTransport): string {
  if (!session.encrypted) return 'without encryption'
  const checked = session.verification === 'none' ? 'server not verified' : `verified: ${session.verification}`
  return `over ${session.protocol ?? 'TLS'} (${checked})`
}

/**
 * What the wait is for, in its messages: `PostgreSQL at db:5432` for one host, and with several what kind of
 * session it looks for: `a read-write session of PostgreSQL at db-0:5432, db-1:5432`.
 */
function describeTarget(config: Config): string {
  const at = `PostgreSQL at ${config.hosts.map(describeHost).join(', ')}`
  if (config.hosts.length === 1 && config.targetSessionAttrs === 'read-write') return at
  const kinds: Record<TargetSessionAttrs, string> = {
    any: at,
    'read-write': `a read-write session of ${at}`,
    'read-only': `a read-only session of ${at}`,
    primary: `a primary among ${at}`,
    standby: `a standby among ${at}`,
    'prefer-standby': `${at} (a standby preferred)`,
  }
  return kinds[config.targetSessionAttrs]
}

/**
 * Connects with retries as `login` to the host DBHOOK_TARGET_SESSION_ATTRS picks among DBHOOK_HOST, logging which
 * host it is and what the session's transport turned out to be. Used for the admin, and by verify for the owner.
 * Later connections of the run go to the returned `endpoint`.
 */
export async function connectWithWait(context: RunContext, tls: TlsMaterial, login: LoginSpec, variable: string): Promise<ChosenSession> {
  const { config, log } = context
  const who = JSON.stringify(login.user)
  const classify = (error: unknown) =>
    classifyPostgresConnectError(
      error,
      { user: login.user, database: login.database, variable },
      { clientCertificate: tls.cert !== undefined },
    )
  const chosen = await connectWithRetry((timeLeft) => connectToTarget(config, tls, login, timeLeft, log, classify), classify, {
    deadline: context.deadline,
    signal: context.signal,
    log,
    target: `${describeTarget(config)} as ${who}`,
  })
  const session = describeSession(chosen.client)
  const passed = chosen.passed.length > 0 ? `; passed over: ${chosen.passed.join('; ')}` : ''
  const place =
    config.hosts.length > 1
      ? ` (host ${config.hosts.indexOf(chosen.endpoint) + 1} of ${config.hosts.length}, ${roleWords(chosen.role).replace(/^is /, '')}${passed})`
      : ''
  log.info(
    {
      ...session,
      sslmode: tls.system ? 'verify-full' : config.tls.mode,
      host: chosen.endpoint.host,
      port: chosen.endpoint.port,
      ...chosen.role,
    },
    `connected to PostgreSQL at ${describeHost(chosen.endpoint)}${place} as ${who} ${transportWords(session)}`,
  )
  if (!session.encrypted && (config.tls.mode === 'prefer' || config.tls.mode === 'allow')) {
    log.warn(
      `the connection is not encrypted: DBHOOK_SSLMODE=${config.tls.mode} ended in plaintext; set DBHOOK_SSLMODE=verify-full (with DBHOOK_SSLROOTCERT) to require a verified TLS connection`,
    )
  }
  return chosen
}
