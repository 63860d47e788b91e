import type { BackupEngine } from '../backup/backup-engine.ts'
import type { Config } from '../config/config.ts'
import type { Logger } from '../log.ts'
import type { DesiredState, ObservedState, PlanCapabilities, PlanResult, Step } from '../plan.ts'

/** What every command hands an engine: the configuration, a logger, the run's deadline and its abort signal. */
export interface RunContext {
  readonly config: Config
  readonly log: Logger
  readonly signal: AbortSignal
  /** Epoch milliseconds: DBHOOK_WAIT_TIMEOUT after the run started. */
  readonly deadline: number
  /** Adds a secret learnt during the run (a generated password) to what every log line and message is scrubbed of. */
  readonly addSecret: (value: string) => void
}

/** The outcome per database that the summary line reports. */
export type DatabaseOutcome = 'created' | 'unchanged' | 'owner-fixed' | 'updated'

export interface ApplyReport {
  readonly outcomes: ReadonlyMap<string, DatabaseOutcome>
  /** Number of statements that changed something (DDL and grants); 0 on a run with nothing to do. */
  readonly statements: number
}

/**
 * The engine's view after inspection: what it found, and what the admin may do about it. `facts` is the engine's
 * own reading of the server and the admin (version, attributes); apply gets the inspection back and acts on it,
 * so a session keeps no state between inspect and apply.
 */
export interface EngineInspection<Facts = unknown> {
  readonly observed: ObservedState
  readonly facts: Facts
  /** Server and version for logs, e.g. `PostgreSQL 18.1`. */
  readonly server: string
  /** Problems found that no step can fix (a Spanner database of the wrong dialect): plan exits 1, apply refuses. */
  readonly problems?: readonly string[]
  /** Plan-time privilege problems: steps the admin cannot do. Checked before any change (exit 77). */
  privilegeProblems(plan: PlanResult): readonly string[]
  /** Steps left out by design, with the reason (an event trigger the admin may not install in auto mode). */
  skippedSteps(plan: PlanResult): readonly { readonly step: Step; readonly reason: string }[]
}

/**
 * An authenticated admin connection. All DDL runs through it, under the provisioning lock, so that concurrent
 * runs serialize.
 */
export interface AdminSession<Facts = unknown> {
  /** The host the session ended on, `db-1:5432`, when the engine may choose among several. */
  readonly where?: string
  /** Takes the provisioning lock, waiting no later than the deadline. */
  lock(context: RunContext): Promise<void>
  inspect(desired: DesiredState): Promise<EngineInspection<Facts>>
  /** Executes the plan's steps, as planned from `inspection`; nothing else. */
  apply(plan: PlanResult, inspection: EngineInspection<Facts>, context: RunContext): Promise<ApplyReport>
  close(): Promise<void>
}

/**
 * Everything that differs between PostgreSQL and MySQL/MariaDB, behind one contract (after kysely's dialect
 * adapters). Commands never ask for the engine's name; they ask the adapter.
 */
export interface EngineAdapter extends PlanCapabilities {
  /** Product name for messages: `PostgreSQL`, `MySQL/MariaDB`. */
  readonly label: string
  /** Connects as the admin, retrying what is transient until the deadline (exit 69) or a permanent error. */
  connectAdmin(context: RunContext): Promise<AdminSession>
  /**
   * When `error` means the session's connection was lost (the server restarted, a failover), the reason in a few
   * words: apply then starts over on a new session within the deadline. Undefined for anything a new connection
   * would not fix. Engines without it are never retried.
   */
  connectionLost?(error: unknown): string | undefined
  /** Logs in as the owner and checks every database; returns every problem found (empty when all is well). */
  verify(context: RunContext): Promise<readonly string[]>
  /** The idempotent SQL a DBA can run by hand for this configuration, without connecting. */
  script(config: Config): string
  /** The client tools and admin session that backup, restore and drill use; loaded only by those commands. */
  backup(context: RunContext): Promise<BackupEngine>
  /** The outcome of a successful `wait`, for engines without a host and port of their own (Spanner: the instance). */
  waited?(config: Config): string
  /** The outcome of a clean `verify`, for engines whose databases have no owner to name (Spanner). */
  verified?(config: Config): string
}
