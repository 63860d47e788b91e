import type pg from 'pg'
import { DbhookError, ExitCode } from '../../errors.ts'
import { runBounded } from '../../concurrency.ts'
import { testPasswords } from '../password-check.ts'
import type { DesiredState, ObservedState, PlanResult } from '../../plan.ts'
import type { AdminSession, EngineAdapter, EngineInspection, RunContext } from '../engine.ts'
import { applyPostgresPlan } from './postgres-apply.ts'
import { connectPostgres, connectWithWait } from './postgres-connect.ts'
import { postgresCapabilities } from './postgres-capabilities.ts'
import { errorCode } from './postgres-errors.ts'
import { inspectDatabaseItems } from './postgres-grants.ts'
import { inspectServer, type AdminFacts } from './postgres-inspect.ts'
import { checkPrivileges, skippedSteps } from './postgres-privileges.ts'
import { postgresScript } from './postgres-script.ts'
import { readTlsMaterial, type TlsMaterial } from './postgres-tls.ts'
import { verifyPostgres } from './postgres-verify.ts'

/** Session advisory lock key shared by every dbhook run: the bytes of "dbhook" as a bigint. */
const lockKey = '110373821706091'

class PostgresSession implements AdminSession {
  /** What the last inspection found about the admin; apply acts on it. */
  private facts: AdminFacts | undefined

  constructor(
    private readonly client: pg.Client,
    private readonly tls: TlsMaterial,
    private readonly context: RunContext,
  ) {}

  async lock(context: RunContext): Promise<void> {
    const timeLeft = Math.max(1, context.deadline - Date.now())
    try {
      await this.client.query(`SET lock_timeout = ${Math.ceil(timeLeft)}`)
      await this.client.query('SELECT pg_advisory_lock($1::bigint)', [lockKey])
      await this.client.query('RESET lock_timeout')
    } catch (error) {
      if (errorCode(error) === '55P03') {
        throw new DbhookError('another dbhook run held the provisioning lock until DBHOOK_WAIT_TIMEOUT ran out', ExitCode.unavailable, { cause: error })
      }
      throw error
    }
  }

  async inspect(desired: DesiredState): Promise<EngineInspection> {
    const { log, config } = this.context
    const inspection = await inspectServer(this.client, desired, this.checkPasswords(desired), config.extensions)
    const facts = inspection.facts
    this.facts = facts
    log.debug({ facts: { ...facts, roles: Object.fromEntries(facts.roles), extensions: Object.fromEntries(facts.extensions) } }, 'inspected the server')
    const observed = await this.inspectItems(desired, inspection.observed)
    return {
      observed,
      server: `PostgreSQL ${facts.major}`,
      privilegeProblems: (plan: PlanResult) => checkPrivileges(plan.steps, facts).problems,
      skippedSteps: (plan: PlanResult) => skippedSteps(plan.steps, facts, config.eventTrigger, config.owner.name),
    }
  }

  async apply(plan: PlanResult, _inspection: EngineInspection, context: RunContext) {
    if (!this.facts) throw new Error('apply called before inspect')
    return applyPostgresPlan(this.client, plan, this.facts, context, (database) => this.connectAdmin(database))
  }

  /** Reads, in each existing listed database, which of its items are in place (DBHOOK_PARALLEL at once). */
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

  private connectAdmin(database: string): Promise<pg.Client> {
    const { config, log } = this.context
    return connectPostgres(config, this.tls, { user: config.admin.user, password: config.admin.password, database }, config.connectTimeoutMs, log)
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined)
  }

  private checkPasswords(desired: DesiredState): Promise<Map<string, boolean>> {
    const { config, log } = this.context
    return testPasswords(
      desired.roles,
      config.admin.user,
      async (role) => {
        const client = await connectPostgres(config, this.tls, { user: role.name, password: role.password, database: config.admin.database }, config.connectTimeoutMs, log)
        await client.end().catch(() => undefined)
      },
      (error) => errorCode(error) === '28P01',
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
    const client = await connectWithWait(context, tls, { user: config.admin.user, password: config.admin.password, database: config.admin.database }, 'DBHOOK_ADMIN_PASSWORD')
    return new PostgresSession(client, tls, context)
  },
  verify: (context) => verifyPostgres(context),
  script: (config) => postgresScript(config),
  backup: async (context) => (await import('./postgres-backup.ts')).postgresBackupEngine(context),
}
