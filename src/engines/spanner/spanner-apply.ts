import { runBounded } from '../../concurrency.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { PlanResult } from '../../plan.ts'
import type { ApplyReport, DatabaseOutcome, RunContext } from '../engine.ts'
import type { SpannerAdmin } from './spanner-client.ts'
import { dialectOf, wrongDialect } from './spanner-inspect.ts'

/**
 * Creates the missing databases, DBHOOK_PARALLEL at once, each with the PostgreSQL dialect, waiting for each
 * long-running operation. No lock is needed: Spanner creates a database id once and answers every other
 * creator ALREADY_EXISTS, which means "exists" once that database is READY and of the PostgreSQL dialect.
 */
export async function applySpannerPlan(admin: SpannerAdmin, plan: PlanResult, context: RunContext): Promise<ApplyReport> {
  const { config, log } = context
  const outcomes = new Map<string, DatabaseOutcome>(config.databases.map((db) => [db.name, 'unchanged']))
  const creations = plan.steps.flatMap((step) => (step.action === 'create-database' ? [step.database] : []))
  let statements = 0
  await runBounded(creations, config.parallel, async (db) => {
    context.signal.throwIfAborted()
    const result = await admin.createDatabase(db.name)
    if (result === 'created') {
      statements += 1
      outcomes.set(db.name, 'created')
      log.info(`${db.key}: created database ${JSON.stringify(db.name)} with the PostgreSQL dialect`)
      return
    }
    const found = await admin.waitUntilReady(db.name)
    if ((await dialectOf(admin, found)) === 'GOOGLE_STANDARD_SQL') throw new DbhookError(wrongDialect(db, admin.path), ExitCode.failed)
    log.info(`${db.key}: database ${JSON.stringify(db.name)} was created meanwhile by another run and is READY`)
  })
  return { outcomes, statements }
}
