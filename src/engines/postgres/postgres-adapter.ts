import type pg from 'pg'
import type { HostPort } from '../../config/config.ts'
import { describeHost } from '../../config/hosts.ts'
import { runBounded } from '../../concurrency.ts'
import { testPasswords } from '../password-check.ts'
import type { DesiredState, ObservedState, PlanResult } from '../../plan.ts'
import type { AdminSession, EngineAdapter, EngineInspection, RunContext } from '../engine.ts'
import { applyPostgresPlan } from './postgres-apply.ts'
import { connectPostgres, connectWithWait, type ChosenSession } from './postgres-connect.ts'
import { postgresCapabilities } from './postgres-capabilities.ts'
import { errorCode } from '../driver-errors.ts'
import { connectionLoss } from './postgres-errors.ts'
import { SqlState } from './postgres-sqlstate.ts'
import { inspectServer, type AdminFacts } from './postgres-inspect.ts'
import { inspectDatabaseItems } from './postgres-item-presence.ts'
import { takeProvisioningLock, type HeldLock } from './postgres-lock.ts'
import { checkPrivileges, skippedSteps } from './postgres-privileges.ts'
import { postgresScript } from './postgres-script.ts'
import { readTlsMaterial, type TlsMaterial } from './postgres-tls.ts'
import { verifyPostgres } from './postgres-verify.ts'

class PostgresSession implements AdminSession<AdminFacts> {
  private readonly client: pg.Client
  /** The host DBHOOK_TARGET_SESSION_ATTRS chose: every connection of this session goes there. */
  readonly endpoint: HostPort
  private held: HeldLock | undefined
  /** Per-database connections open now, so that a lost session can cut them off. */
  private readonly others = new Set<pg.Client>()
  private closing = false
  /** Why the session is gone (admin connection or lock connection closed under it). */
  private lost: string | undefined

  constructor(
    chosen: ChosenSession,
    private readonly tls: TlsMaterial,
    private readonly context: RunContext,
  ) {
    this.client = chosen.client
    this.endpoint = chosen.endpoint
    this.client.once('end', () => this.lose('the admin connection closed'))
  }

  get where(): string {
    return describeHost(this.endpoint)
  }

  async lock(context: RunContext): Promise<void> {
    this.held = await takeProvisioningLock(this.client, this.endpoint, () => this.connectAdmin(this.context.config.admin.database), context)
    if (this.held.kind === 'transaction') {
      this.others.delete(this.held.client)
      this.held.client.once('end', () => this.lose('the connection holding the provisioning lock closed'))
    }
  }

  /**
   * Without the admin connection, or without the connection whose transaction holds the lock, the run is no
   * longer serialized with other runs: every connection of the session is cut at once, so that the work in
   * flight fails as a lost connection (and apply starts over on a new session) instead of going on unlocked.
   */
  private lose(reason: string): void {
    if (this.closing || this.lost) return
    this.lost = reason
    this.context.log.debug(`session lost: ${reason}`)
    const held = this.held?.kind === 'transaction' ? [this.held.client] : []
    for (const client of [this.client, ...held, ...this.others]) destroy(client)
  }

  async inspect(desired: DesiredState): Promise<EngineInspection<AdminFacts>> {
    const { log, config } = this.context
    const inspection = await inspectServer(this.client, desired, this.checkPasswords(desired), config.extensions)
    const facts = inspection.facts
    log.debug(
      { facts: { ...facts, roles: Object.fromEntries(facts.roles), extensions: Object.fromEntries(facts.extensions) } },
      'inspected the server',
    )
    const observed = await this.inspectItems(desired, inspection.observed)
    return {
      observed,
      facts,
      server: `PostgreSQL ${facts.major}`,
      privilegeProblems: (plan: PlanResult) => checkPrivileges(plan.steps, facts).problems,
      skippedSteps: (plan: PlanResult) => skippedSteps(plan.steps, facts, config.eventTrigger, config.owner.name),
    }
  }

  async apply(plan: PlanResult, inspection: EngineInspection<AdminFacts>, context: RunContext) {
    const report = await applyPostgresPlan(this.client, plan, inspection.facts, context, (database) => this.connectAdmin(database))
    // The lock went away under the last steps: they are done, but not serialized; apply starts over and finds
    // them in place (or finishes what a concurrent run left).
    if (this.lost) throw this.lostError()
    return report
  }

  private lostError(): Error {
    return Object.assign(new Error(`Connection terminated: ${this.lost}`), { code: SqlState.connectionFailure })
  }

  /**
   * Reads, in each existing listed database, which of its items are in place (DBHOOK_PARALLEL at once). A database
   * to be created is planned with all its items: reading template1 instead would hold a session on it, and CREATE
   * DATABASE fails while anyone is connected to its template (55006; a pooler keeps such sessions open).
   */
  private async inspectItems(desired: DesiredState, observed: ObservedState): Promise<ObservedState> {
    const { config } = this.context
    const existing = desired.databases.filter((db) => db.items.length > 0 && observed.databases.has(db.name))
    const found = await runBounded(existing, config.parallel, async (db) => {
      const client = await this.connectAdmin(db.name)
      try {
        return await inspectDatabaseItems(client, db.items, db.owner, config.app?.name)
      } finally {
        await client.end().catch(() => undefined)
      }
    })
    const databases = new Map(observed.databases)
    existing.forEach((db, index) => {
      const before = databases.get(db.name)
      if (before) databases.set(db.name, { ...before, present: found[index] ?? new Set() })
    })
    return { ...observed, databases }
  }

  /** Another admin connection, to `database` on the session's host. */
  private async connectAdmin(database: string): Promise<pg.Client> {
    const { config, log, signal } = this.context
    // After a signal the undo of a lent membership still needs a connection of its own.
    if (this.lost && !signal.aborted) throw this.lostError()
    const client = await connectPostgres(
      config,
      this.tls,
      { user: config.admin.user, password: config.admin.password, database },
      this.endpoint,
      config.connectTimeoutMs,
      log,
    )
    // Lost while this connection was being opened: it must not carry work on without the lock either.
    if (this.lost && !signal.aborted) {
      destroy(client)
      throw this.lostError()
    }
    this.others.add(client)
    client.once('end', () => this.others.delete(client))
    return client
  }

  async close(): Promise<void> {
    this.closing = true
    if (this.held?.kind === 'transaction') await this.held.client.end().catch(() => undefined)
    await this.client.end().catch(() => undefined)
  }

  private checkPasswords(desired: DesiredState): Promise<Map<string, boolean>> {
    const { config, log } = this.context
    return testPasswords(
      desired.roles,
      config.admin.user,
      async (role) => {
        const client = await connectPostgres(
          config,
          this.tls,
          { user: role.name, password: role.password, database: config.admin.database },
          this.endpoint,
          config.connectTimeoutMs,
          log,
        )
        await client.end().catch(() => undefined)
      },
      (error) => errorCode(error) === SqlState.invalidPassword,
      log,
    )
  }
}

export const postgresAdapter: EngineAdapter = {
  label: 'PostgreSQL',
  ...postgresCapabilities,
  async connectAdmin(context) {
    const { config, log } = context
    const tls = readTlsMaterial(config.tls, log)
    const chosen = await connectWithWait(
      context,
      tls,
      { user: config.admin.user, password: config.admin.password, database: config.admin.database },
      'DBHOOK_ADMIN_PASSWORD',
    )
    return new PostgresSession(chosen, tls, context)
  },
  connectionLost: connectionLoss,
  verify: (context) => verifyPostgres(context),
  script: (config) => postgresScript(config),
  backup: async (context) => (await import('./postgres-backup.ts')).postgresBackupEngine(context),
}

/** Closes a connection at once, without the goodbye a server that is gone would never answer. */
function destroy(client: pg.Client): void {
  ;(client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
}
