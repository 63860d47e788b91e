import type { Spanner } from '@google-cloud/spanner'
import type { Config, SpannerSettings } from '../../config/config.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import { connectWithRetry } from '../../wait.ts'
import { trackConnection } from '../connections.ts'
import type { RunContext } from '../engine.ts'
import { classifySpannerError, grpcCode, Status, type SpannerCall } from './spanner-errors.ts'

export type Dialect = 'POSTGRESQL' | 'GOOGLE_STANDARD_SQL' | 'unreported'
export type DatabaseState = 'CREATING' | 'READY' | 'READY_OPTIMIZING' | 'unknown'

/** One database as the admin API lists it, its enums read whether the library gave names or numbers. */
export interface SpannerDatabase {
  /** The database id (the last part of `projects/p/instances/i/databases/<id>`). */
  readonly id: string
  readonly state: DatabaseState
  readonly dialect: Dialect
}

/** The settings of a Spanner run: load-config sets them whenever DBHOOK_ENGINE=spanner. */
export function spannerSettings(config: Config): SpannerSettings {
  if (!config.spanner) throw new Error('the Spanner engine was loaded without Spanner settings')
  return config.spanner
}

/** `projects/p/instances/i`. */
export function instancePath(settings: SpannerSettings): string {
  return `projects/${settings.project}/instances/${settings.instance}`
}

/** What the run talks to, for messages: the instance, and the emulator when SPANNER_EMULATOR_HOST points to one. */
export function describeInstance(settings: SpannerSettings): string {
  return `Cloud Spanner instance ${instancePath(settings)}${settings.emulatorHost ? ` (emulator at ${settings.emulatorHost})` : ''}`
}

/** True for the states in which a database serves reads and writes. */
export function isReady(state: DatabaseState): boolean {
  return state === 'READY' || state === 'READY_OPTIMIZING'
}

const states: Record<string, DatabaseState> = {
  1: 'CREATING',
  2: 'READY',
  3: 'READY_OPTIMIZING',
  CREATING: 'CREATING',
  READY: 'READY',
  READY_OPTIMIZING: 'READY_OPTIMIZING',
}
const dialects: Record<string, Dialect> = {
  1: 'GOOGLE_STANDARD_SQL',
  2: 'POSTGRESQL',
  GOOGLE_STANDARD_SQL: 'GOOGLE_STANDARD_SQL',
  POSTGRESQL: 'POSTGRESQL',
}

interface DatabaseMessage {
  name?: string | null
  state?: unknown
  databaseDialect?: unknown
}

/** Reads a Database message; pure. The emulator leaves the dialect unset (DATABASE_DIALECT_UNSPECIFIED). */
export function readDatabase(message: DatabaseMessage): SpannerDatabase {
  const name = message.name ?? ''
  return {
    id: name.slice(name.lastIndexOf('/') + 1),
    state: states[String(message.state)] ?? 'unknown',
    dialect: dialects[String(message.databaseDialect)] ?? 'unreported',
  }
}

/**
 * Google's client stays outside the bundle (it reads descriptor files beside its own modules), so it must be
 * installed: npm installs it with dbhook, and the image ships it only in its -spanner variant.
 */
async function loadClientLibrary(): Promise<typeof import('@google-cloud/spanner')> {
  try {
    return await import('@google-cloud/spanner')
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new DbhookError(
      "DBHOOK_ENGINE=spanner needs Google's client library @google-cloud/spanner, which this installation lacks: use the image's -spanner variant (ghcr.io/dbhook/dbhook:<version>-spanner; the chart's spanner block does), or install dbhook with npm, which installs it",
      ExitCode.config,
      { cause: error },
    )
  }
}

// A query both dialects parse; only a PostgreSQL-dialect database has a pg_catalog schema.
const dialectProbe = "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'pg_catalog'"

/**
 * Google's client (@google-cloud/spanner), loaded only here so that the other engines never parse it. Every call
 * is one RPC with a deadline and no retry of the library's own: the retries are dbhook's, bounded by
 * DBHOOK_WAIT_TIMEOUT, classified by spanner-errors.ts.
 */
export class SpannerAdmin {
  readonly settings: SpannerSettings
  readonly path: string
  private readonly untrack: () => void

  private constructor(
    private readonly spanner: Spanner,
    private readonly context: RunContext,
  ) {
    this.settings = spannerSettings(context.config)
    this.path = instancePath(this.settings)
    this.untrack = trackConnection(() => this.spanner.close())
  }

  static async open(context: RunContext): Promise<SpannerAdmin> {
    const settings = spannerSettings(context.config)
    const { Spanner } = await loadClientLibrary()
    const spanner = new Spanner({
      projectId: settings.project,
      // Built-in metrics export to Cloud Monitoring, which needs a permission of its own and a network path.
      disableBuiltInMetrics: true,
      // gRPC's reconnect backoff grows to two minutes by default: a server that comes back must be found soon.
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 1000,
      // The emulator needs no credentials, yet the library asks Application Default Credentials for the universe
      // domain, which probes the GCE metadata server (a request off this host). Naming the domain skips that.
      ...(settings.emulatorHost ? { universe_domain: 'googleapis.com' } : {}),
    } as ConstructorParameters<typeof Spanner>[0])
    return new SpannerAdmin(spanner, context)
  }

  /**
   * Every database of the instance: one ListDatabases call however many databases are listed. No page size is
   * asked for, which means the server's largest; the library follows further pages should there be any.
   */
  listDatabases(): Promise<SpannerDatabase[]> {
    const admin = this.spanner.getDatabaseAdminClient()
    return this.retrying(
      { action: `list the databases of ${this.path}`, permission: 'spanner.databases.list', instancePath: this.path },
      async (timeout) => {
        const [databases] = await admin.listDatabases({ parent: this.path }, { timeout, retry: null, autoPaginate: true })
        return databases.map(readDatabase)
      },
    )
  }

  getDatabase(id: string): Promise<SpannerDatabase> {
    const admin = this.spanner.getDatabaseAdminClient()
    return this.retrying(
      { action: `read database ${JSON.stringify(id)} of ${this.path}`, permission: 'spanner.databases.get', instancePath: this.path },
      async (timeout) => {
        const [database] = await admin.getDatabase({ name: `${this.path}/databases/${id}` }, { timeout, retry: null })
        return readDatabase(database)
      },
    )
  }

  /**
   * Creates `id` with the PostgreSQL dialect and waits for its long-running operation. Resolves 'created', or
   * 'exists' when Spanner answers ALREADY_EXISTS (another run won the race, or an earlier attempt of this one
   * whose answer was lost went through): the caller then waits for that database to be READY.
   */
  async createDatabase(id: string): Promise<'created' | 'exists'> {
    const admin = this.spanner.getDatabaseAdminClient()
    const call: SpannerCall = {
      action: `create database ${JSON.stringify(id)} in ${this.path}`,
      permission: 'spanner.databases.create',
      instancePath: this.path,
    }
    const operation = await this.retrying(call, async (timeout) => {
      try {
        // PostgreSQL-dialect DDL: the id in double quotes (ids may hold `-`, which an unquoted name may not).
        const [operation] = await admin.createDatabase(
          { parent: this.path, createStatement: `CREATE DATABASE "${id}"`, databaseDialect: 'POSTGRESQL' },
          { timeout, retry: null },
        )
        return operation
      } catch (error) {
        if (grpcCode(error) === Status.alreadyExists) return undefined
        throw error
      }
    })
    if (!operation) return 'exists'
    try {
      await this.beforeDeadline(operation.promise(), `the creation of database ${JSON.stringify(id)}`)
    } catch (error) {
      if (error instanceof DbhookError) throw error
      const verdict = classifySpannerError(error, {
        action: `wait for the creation of database ${JSON.stringify(id)}`,
        permission: 'spanner.databaseOperations.get',
        instancePath: this.path,
      })
      if (!verdict.retry) throw verdict.error
      // Polling the operation met a transient error; the database's own state says the same.
      await this.waitUntilReady(id)
    }
    return 'created'
  }

  /** Polls the database until it is READY (another run's creation may still be going on), up to the deadline. */
  async waitUntilReady(id: string): Promise<SpannerDatabase> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      const database = await this.getDatabase(id)
      if (isReady(database.state)) return database
      if (Date.now() + delay > this.context.deadline) {
        throw new DbhookError(
          `database ${JSON.stringify(id)} was still ${database.state} when DBHOOK_WAIT_TIMEOUT ran out; its creation goes on in Spanner: run apply again`,
          ExitCode.unavailable,
        )
      }
      this.context.signal.throwIfAborted()
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }

  /**
   * Asks the database itself for its dialect, for servers that leave it out of the admin API's answer (the
   * emulator does). Needs spanner.databases.select, which real Spanner never makes dbhook use.
   */
  async probeDialect(id: string): Promise<Exclude<Dialect, 'unreported'>> {
    const database = this.spanner.instance(this.settings.instance).database(id)
    try {
      return await this.retrying(
        { action: `read the dialect of database ${JSON.stringify(id)}`, permission: 'spanner.databases.select', instancePath: this.path },
        async (timeout) => {
          const [rows] = await database.run({ sql: dialectProbe, gaxOptions: { timeout } })
          return rows.length > 0 ? 'POSTGRESQL' : 'GOOGLE_STANDARD_SQL'
        },
      )
    } finally {
      await database.close().catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    this.untrack()
    await this.spanner.close().catch(() => undefined)
  }

  /** One call, retried while Spanner is unavailable, until the run's deadline (then exit 69). */
  private retrying<T>(call: SpannerCall, attempt: (timeoutMs: number) => Promise<T>): Promise<T> {
    const { config, log, signal, deadline } = this.context
    return connectWithRetry(
      (timeLeft) => attempt(Math.max(1, Math.min(config.connectTimeoutMs, timeLeft))),
      (error) => classifySpannerError(error, call),
      { deadline, signal, log, target: describeInstance(this.settings) },
    )
  }

  private beforeDeadline<T>(work: Promise<T>, what: string): Promise<T> {
    const { deadline, signal } = this.context
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new DbhookError(
              `${what} had not finished when DBHOOK_WAIT_TIMEOUT ran out; it goes on in Spanner: run apply again`,
              ExitCode.unavailable,
            ),
          ),
        Math.max(0, deadline - Date.now()),
      )
      const onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      work.then(resolve, reject).finally(() => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
      })
    })
  }
}
