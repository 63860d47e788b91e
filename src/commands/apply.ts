import type { RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/engine.ts'
import { DbhookError, ExitCode } from '../errors.ts'
import { describeStep } from '../plan.ts'
import type { CommandResult } from '../run-command.ts'
import { inspectAndPlan } from './inspect-and-plan.ts'
import { applyGeneratedCredentials } from '../kubernetes/generated-credentials.ts'

/**
 * `dbhook apply`: wait, lock, inspect, plan, refuse before any change if a step cannot be done, execute, and
 * end with one summary line naming each database as created, owner-fixed, updated or unchanged.
 */
export async function runApply(given: RunContext): Promise<CommandResult> {
  // Generated passwords are settled in their Secrets before any connection, so that the database only ever gets one that is kept.
  const context = await applyGeneratedCredentials(given)
  const { log, config } = context
  const started = Date.now()
  const engine = await loadEngine(config)
  const session = await engine.connectAdmin(context)
  try {
    await session.lock(context)
    const { plan, privilegeProblems, inspection, skipped } = await inspectAndPlan(engine, session, context)
    if (plan.problems.length > 0) throw new DbhookError(plan.problems.join('; '), ExitCode.failed)
    if (privilegeProblems.length > 0) {
      throw new DbhookError(`nothing was changed: ${privilegeProblems.join('; ')}`, ExitCode.noPermission)
    }
    for (const { step, reason } of skipped) log.warn(`skipping: ${describeStep(step)}: ${reason}`)
    const report = plan.steps.length === 0 ? { outcomes: new Map(), statements: 0 } : await session.apply(plan, inspection, context)
    const databases = config.databases.map((db) => ({ key: db.key, name: db.name, result: report.outcomes.get(db.name) ?? 'unchanged' }))
    const outcome = databases.map((db) => `${db.key}=${db.name} ${db.result}`).join(', ')
    log.info({ summary: true, server: inspection.server, databases, statements: report.statements, durationMs: Date.now() - started }, `apply finished: ${outcome}`)
    return { exitCode: ExitCode.ok, outcome }
  } finally {
    await session.close()
  }
}
