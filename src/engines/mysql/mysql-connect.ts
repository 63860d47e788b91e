import type { EventEmitter } from 'node:events'
import { connect as connectTcp, isIP, type Socket } from 'node:net'
import { checkServerIdentity, type TLSSocket } from 'node:tls'
import mysql from 'mysql2/promise'
import { authPlugins } from 'mysql2'
import type { Config } from '../../config/config.ts'
import type { Logger } from '../../log.ts'
import { connectWithRetry } from '../../wait.ts'
import { trackConnection } from '../connections.ts'
import { errorCode } from '../driver-errors.ts'
import { type SessionTransport, tlsProtocol } from '../session-transport.ts'
import type { RunContext } from '../engine.ts'
import { MysqlErrno } from './mysql-errno.ts'
import { classifyMysqlConnectError, serverErrno } from './mysql-errors.ts'
import { sessionSqlMode } from './mysql-statements.ts'
import { describeMysqlTlsFailure, isNoTlsError, mysqlTlsPlan, type MysqlTlsAttempt, type MysqlTlsMaterial } from './mysql-tls.ts'

interface MysqlLogin {
  readonly user: string
  readonly password?: string
}

/** The connection's transport, and whether a password went out under a key the server sent unauthenticated. */
interface MysqlTransport extends SessionTransport {
  /** caching_sha2_password sent the password RSA-encrypted with a key the server handed over unauthenticated. */
  readonly fetchedServerKey: boolean
}

const transports = new WeakMap<mysql.Connection, MysqlTransport>()

/**
 * Opens one authenticated connection, making the attempts the DBHOOK_SSLMODE word asks for in order. Each
 * connection is tracked so that a signal closes it, and runs with backslash escapes on (dbhook's quoting needs
 * them). Throws the error of the attempt that says most.
 */
export async function connectMysql(
  config: Config,
  material: MysqlTlsMaterial,
  login: MysqlLogin,
  timeoutMs: number,
  log: Logger,
): Promise<mysql.Connection> {
  const { attempts } = mysqlTlsPlan(config.tls, material)
  let firstError: unknown
  for (const [index, attempt] of attempts.entries()) {
    let fetchedServerKey = false
    try {
      const connection = await mysql.createConnection({
        host: config.host,
        port: config.port,
        user: login.user,
        password: login.password ?? '',
        ssl: attempt.encrypted ? { ...attempt.ssl } : undefined,
        connectTimeout: Math.max(1, Math.min(config.connectTimeoutMs, timeoutMs)),
        multipleStatements: false,
        stream:
          attempt.encrypted && attempt.ssl.verifyIdentity && isIP(config.host) ? () => socketNamedFor(config.host, config.port) : undefined,
        // Over plaintext caching_sha2_password asks the server for its RSA key (mysql2 does so when no key is
        // configured); the callback only notes that it happened, for the warning after connecting.
        authPlugins: {
          caching_sha2_password: authPlugins.caching_sha2_password({
            onServerPublicKey: () => {
              fetchedServerKey = true
            },
          }),
        },
      })
      // A server that drops the connection later must not crash the process with an unhandled 'error' event.
      const core = coreOf(connection)
      core.on('error', (error: Error) => log.debug({ code: errorCode(error) }, `connection error: ${error.message}`))
      // Closed this way only on a signal: a graceful end() would wait behind a statement still running (GET_LOCK).
      const untrack = trackConnection(async () => connection.destroy())
      core.stream.once('close', untrack)
      const stream = core.stream as Partial<TLSSocket>
      if (attempt.encrypted && attempt.ssl.verifyIdentity) {
        const mismatch = checkServerIdentity(config.host, (stream as TLSSocket).getPeerCertificate(true))
        if (mismatch) {
          await closeMysql(connection)
          throw Object.assign(new Error(mismatch.message), { code: 'HANDSHAKE_SSL_ERROR' })
        }
      }
      transports.set(connection, {
        encrypted: attempt.encrypted,
        protocol: tlsProtocol(attempt.encrypted, stream),
        serverVerified: attempt.encrypted && attempt.verified,
        fetchedServerKey,
      })
      await connection.query(sessionSqlMode).catch(async (error: unknown) => {
        await closeMysql(connection)
        throw error
      })
      return connection
    } catch (error) {
      firstError ??= error
      const last = index === attempts.length - 1
      if (last || !worthFallingBack(attempt, error)) throw pickError(firstError, error)
      log.debug(
        { code: errorCode(error) },
        `${attempt.encrypted ? 'TLS' : 'plaintext'} attempt failed, trying ${attempt.encrypted ? 'plaintext' : 'TLS'}`,
      )
    }
  }
  throw firstError
}

/**
 * mysql2 gives TLS no server name for an IP address, and Node then checks the certificate against `localhost`.
 * A socket whose `_host` is the address makes Node check the address itself during the handshake, before any
 * credential is sent; the check after connecting holds even if Node stops reading `_host`.
 */
function socketNamedFor(host: string, port: number): Socket {
  const socket = connectTcp(port, host)
  ;(socket as unknown as { _host: string })._host = host
  return socket
}

/** The callback connection inside mysql2's promise wrapper, which its typings do not declare. */
function coreOf(connection: mysql.Connection): EventEmitter & { stream: EventEmitter } {
  return (connection as unknown as { connection: EventEmitter & { stream: EventEmitter } }).connection
}

function worthFallingBack(attempt: MysqlTlsAttempt, error: unknown): boolean {
  switch (attempt.fallBackWhen) {
    case 'no-tls':
      return isNoTlsError(error)
    case 'tls-failed':
      return describeMysqlTlsFailure(error) !== undefined
    case 'denied':
      // An account with REQUIRE SSL is refused over plaintext with the same 1045 as a wrong password.
      return serverErrno(error) === MysqlErrno.accessDenied
    default:
      return false
  }
}

// Report the TLS failure rather than what the plaintext attempt after it said: it is the one to fix.
function pickError(first: unknown, last: unknown): unknown {
  return describeMysqlTlsFailure(first) && serverErrno(last) === MysqlErrno.accessDenied ? first : last
}

function describeTransport(connection: mysql.Connection): MysqlTransport {
  return transports.get(connection) ?? { encrypted: false, serverVerified: false, fetchedServerKey: false }
}

/** Closes a connection without waiting for a server that no longer answers. */
export async function closeMysql(connection: mysql.Connection): Promise<void> {
  await Promise.race([connection.end(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]).catch(() => undefined)
  connection.destroy()
}

/**
 * Connects with retries as `login`, then logs what the transport turned out to be and warns about plaintext:
 * after a PREFERRED fallback, and when caching_sha2_password had to trust an RSA key sent in the clear.
 */
export async function connectMysqlWithWait(
  context: RunContext,
  material: MysqlTlsMaterial,
  login: MysqlLogin,
  variable: string,
): Promise<mysql.Connection> {
  const { config, log } = context
  const target = `MySQL/MariaDB at ${config.host}:${config.port} as ${JSON.stringify(login.user)}`
  const connection = await connectWithRetry(
    (timeLeft) => connectMysql(config, material, login, timeLeft, log),
    (error) => classifyMysqlConnectError(error, { user: login.user, variable }),
    { deadline: context.deadline, signal: context.signal, log, target },
  )
  const transport = describeTransport(connection)
  log.info(
    { encrypted: transport.encrypted, protocol: transport.protocol, serverVerified: transport.serverVerified },
    `connected to ${target}`,
  )
  const plan = mysqlTlsPlan(config.tls, material)
  if (!transport.encrypted && plan.attempts.some((attempt) => attempt.encrypted)) {
    log.warn(
      `the connection is not encrypted (DBHOOK_SSLMODE=${config.tls.word} fell back to plaintext); set DBHOOK_SSLMODE=VERIFY_IDENTITY to require TLS`,
    )
  }
  if (transport.fetchedServerKey) {
    log.warn(
      'caching_sha2_password over plaintext: the password was encrypted with an RSA key the server sent unauthenticated, which a man in the middle can replace; use TLS (DBHOOK_SSLMODE=VERIFY_IDENTITY)',
    )
  }
  return connection
}
