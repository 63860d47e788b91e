import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { HostPort } from '../../config/config.ts'
import { describeHost } from '../../config/hosts.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { RunContext } from '../engine.ts'
import { errorCode } from '../driver-errors.ts'
import { SqlState } from './postgres-sqlstate.ts'

/** Advisory lock key shared by every dbhook run: the bytes of "dbhook" as a bigint. */
const lockKey = '110373821706091'

/**
 * How the provisioning lock is held. `session`: pg_advisory_lock on the admin connection itself, when the server
 * is known to see this very connection. `transaction`: pg_advisory_xact_lock in a transaction kept open on a
 * connection of its own, which a pooler (PgBouncer in transaction mode) cannot move to another server backend
 * mid-transaction and which ends, releasing the lock, when that client goes away. Both kinds conflict with each
 * other, so runs that hold it either way serialize.
 */
export type HeldLock = { readonly kind: 'session' } | { readonly kind: 'transaction'; readonly client: pg.Client }

interface Route {
  readonly direct: boolean
  readonly pid: number
}

const normalAddress = (address: string | null | undefined) => (address ?? '').replace(/^::ffff:/, '')

/**
 * Whether the server's end of the admin session is this client's own socket: the client address and port the
 * backend sees are this socket's local ones, and the address and port it accepted on are the ones dialled. A
 * pooler or proxy in between makes a connection of its own, whose address or port differs; so may NAT. Only a
 * match is proof; everything else is treated as possibly pooled per transaction (Unix sockets included).
 */
async function routeOf(client: pg.Client): Promise<Route> {
  const { rows } = await client.query<{
    clientAddr: string | null
    clientPort: number | null
    serverAddr: string | null
    serverPort: number | null
    pid: number
  }>(
    `SELECT host(inet_client_addr()) AS "clientAddr", inet_client_port() AS "clientPort",
            host(inet_server_addr()) AS "serverAddr", inet_server_port() AS "serverPort", pg_backend_pid() AS pid`,
  )
  const seen = rows[0]!
  const socket = (
    client as unknown as {
      connection?: { stream?: { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number } }
    }
  ).connection?.stream
  const direct =
    seen.clientPort !== null &&
    socket?.localPort === seen.clientPort &&
    socket.remotePort === seen.serverPort &&
    normalAddress(socket.localAddress) === normalAddress(seen.clientAddr) &&
    normalAddress(socket.remoteAddress) === normalAddress(seen.serverAddr)
  return { direct, pid: seen.pid }
}

async function backendPid(client: pg.Client): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
}

const heldTooLong = (cause: unknown) =>
  new DbhookError('another dbhook run held the provisioning lock until DBHOOK_WAIT_TIMEOUT ran out', ExitCode.unavailable, { cause })

/**
 * Takes the provisioning lock for the run, waiting no later than the deadline (exit 69). `openConnection` opens
 * another admin connection to the admin database on the chosen host; it is only called when the admin session
 * may be pooled. A pool that refuses transactions (PgBouncer pool_mode=statement) is refused with exit 78.
 */
export async function takeProvisioningLock(
  admin: pg.Client,
  endpoint: HostPort,
  openConnection: () => Promise<pg.Client>,
  context: RunContext,
): Promise<HeldLock> {
  const { log } = context
  const route = await routeOf(admin)
  if (route.direct) {
    log.debug(
      'the server sees this connection itself (no pooler or proxy in between): the provisioning lock is a session lock on the admin connection',
    )
    await sessionLock(admin, context)
    return { kind: 'session' }
  }

  const client = await openConnection()
  try {
    let waitingSaid = false
    for (let attempt = 0; ; attempt += 1) {
      context.signal.throwIfAborted()
      await begin(client, endpoint)
      const { rows } = await client.query<{ pid: number; got: boolean }>(
        // A long run must not be ended by the server for sitting idle in this transaction.
        `SELECT pg_backend_pid() AS pid, set_config('idle_in_transaction_session_timeout', '0', true) AS "idleTimeout", pg_try_advisory_xact_lock($1::bigint) AS got`,
        [lockKey],
      )
      if (attempt === 0) {
        // With the lock connection's transaction holding a server backend, a pooler per transaction must run the
        // admin's next statement on another backend, unless it gave this transaction the admin's backend itself.
        const after = await backendPid(admin)
        const perTransaction = rows[0]!.pid === route.pid || after !== route.pid
        log.info(
          { pooledPerTransaction: perTransaction },
          perTransaction
            ? `the admin connection to ${describeHost(endpoint)} is pooled per transaction (its statements ran on server backends ${route.pid} and ${after}; PgBouncer pool_mode=transaction or alike): the provisioning lock is held in a transaction on a connection of its own`
            : `the admin connection to ${describeHost(endpoint)} goes through a proxy or pooler (the server sees another client address or port): the provisioning lock is held in a transaction on a connection of its own`,
        )
      }
      if (rows[0]!.got) return { kind: 'transaction', client }
      await client.query('ROLLBACK')
      // Polling, not a blocking wait: a run waiting inside a transaction would hold a pooled server connection,
      // and enough waiting runs would leave none for the run that holds the lock.
      const pause = Math.min(300, 50 * 2 ** Math.min(attempt, 3)) * (0.5 + Math.random() / 2)
      if (Date.now() + pause >= context.deadline) throw heldTooLong(undefined)
      if (!waitingSaid) log.info('another dbhook run holds the provisioning lock: waiting for it')
      waitingSaid = true
      await sleep(pause, undefined, { signal: context.signal })
    }
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error
  }
}

async function begin(client: pg.Client, endpoint: HostPort): Promise<void> {
  try {
    await client.query('BEGIN')
  } catch (error) {
    const message = (error as Error)?.message ?? ''
    if (/transaction blocks not allowed/i.test(message)) {
      throw new DbhookError(
        `DBHOOK_HOST ${describeHost(endpoint)} pools connections per statement (${message}): dbhook needs transactions; point DBHOOK_HOST at the server, or at a PgBouncer pool in session or transaction mode`,
        ExitCode.config,
        { cause: error },
      )
    }
    throw error
  }
}

async function sessionLock(client: pg.Client, context: RunContext): Promise<void> {
  const timeLeft = Math.max(1, context.deadline - Date.now())
  try {
    await client.query(`SET lock_timeout = ${Math.ceil(timeLeft)}`)
    await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKey])
    await client.query('RESET lock_timeout')
  } catch (error) {
    if (errorCode(error) === SqlState.lockNotAvailable) throw heldTooLong(error)
    throw error
  }
}
