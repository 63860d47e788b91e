import { setTimeout as sleep } from 'node:timers/promises'
import type { DatabaseOutcome, EngineAdapter, RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/load-engine.ts'
import { DbhookError, ExitCode } from '../errors.ts'
import type { PlanResult } from '../plan.ts'
import { groupSkippedSteps } from '../skipped-steps.ts'
import type { CommandResult } from './command-result.ts'
import { inspectAndPlan } from './inspect-and-plan.ts'
import { applyGeneratedCredentials } from '../kubernetes/generated-credentials.ts'

/**
 * `dbhook apply`: wait, lock, inspect, plan, refuse before any change if a step cannot be done, execute, and
 * end with one summary line naming each database as created, owner-fixed, updated or unchanged. A session lost
 * on the way (the server restarted, failed over) is replaced within DBHOOK_WAIT_TIMEOUT and the run starts over
 * from inspection: every step is idempotent, and the new plan holds only what is still missing.
 */
export async function runApply(given: RunContext): Promise<CommandResult> {
  // Generated passwords are settled in their Secrets before any connection, so that the database only ever gets one that is kept.
  const context = await applyGeneratedCredentials(given)
  const { log, config } = context
  const started = Date.now()
  const engine = await loadEngine(config)
  // What the plans of attempts that were cut short meant to do: a database created before the cut is found
  // in place by the next attempt, but was still created by this run.
  const intended = new Map<string, DatabaseOutcome>()
  for (let reconnects = 0; ; reconnects += 1) {
    try {
      return await applyOnce(engine, context, started, reconnects, intended)
    } catch (error) {
      const lost = context.signal.aborted ? undefined : engine.connectionLost?.(error)
      if (lost === undefined || Date.now() >= context.deadline) throw error
      log.warn(
        { reconnects: reconnects + 1 },
        `lost the connection to the server during apply (${lost}): reconnecting within DBHOOK_WAIT_TIMEOUT and starting over from inspection`,
      )
      // A server that takes sessions and drops them at once must not make this a busy loop.
      await sleep(Math.min(2000, 100 * 2 ** reconnects), undefined, { signal: context.signal })
    }
  }
}

async function applyOnce(
  engine: EngineAdapter,
  context: RunContext,
  started: number,
  reconnects: number,
  intended: Map<string, DatabaseOutcome>,
): Promise<CommandResult> {
  const { log, config } = context
  const session = await engine.connectAdmin(context)
  try {
    await session.lock(context)
    const { plan, privilegeProblems, inspection, skipped } = await inspectAndPlan(engine, session, context)
    if (plan.problems.length > 0) throw new DbhookError(plan.problems.join('; '), ExitCode.failed)
    if (privilegeProblems.length > 0) {
      throw new DbhookError(`nothing was changed: ${privilegeProblems.join('; ')}`, ExitCode.noPermission)
    }
    for (const group of groupSkippedSteps(skipped)) log.warn({ databases: group.databases }, `skipping: ${group.what}: ${group.reason}`)
    for (const [name, outcome] of plannedOutcomes(plan)) if (!intended.has(name)) intended.set(name, outcome)
    const report = plan.steps.length === 0 ? { outcomes: new Map(), statements: 0 } : await session.apply(plan, inspection, context)
    const outcomeOf = (name: string): DatabaseOutcome => {
      const now = report.outcomes.get(name) ?? 'unchanged'
      const before = reconnects > 0 ? intended.get(name) : undefined
      return before !== undefined && rank.indexOf(before) > rank.indexOf(now) ? before : now
    }
    const databases = config.databases.map((db) => ({ key: db.key, name: db.name, result: outcomeOf(db.name) }))
    const outcome = databases.map((db) => `${db.key}=${db.name} ${db.result}`).join(', ')
    log.info(
      {
        summary: true,
        server: inspection.server,
        host: session.where,
        databases,
        statements: report.statements,
        reconnects,
        durationMs: Date.now() - started,
      },
      `apply finished: ${outcome}`,
    )
    return { exitCode: ExitCode.ok, outcome }
  } finally {
    await session.close()
  }
}

// After a reconnect a database may have been created by an attempt that was cut short: the strongest word wins.
const rank: readonly DatabaseOutcome[] = ['unchanged', 'updated', 'owner-fixed', 'created']

/** The outcome each database would have if the plan ran to its end. */
function plannedOutcomes(plan: PlanResult): Map<string, DatabaseOutcome> {
  const outcomes = new Map<string, DatabaseOutcome>()
  for (const step of plan.steps) {
    if (!('database' in step)) continue
    const name = step.database.name
    const outcome: DatabaseOutcome =
      step.action === 'create-database' ? 'created' : step.action === 'alter-owner' ? 'owner-fixed' : 'updated'
    if (!outcomes.has(name)) outcomes.set(name, outcome)
  }
  return outcomes
}
