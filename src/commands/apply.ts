import type { RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/load-engine.ts'
import { DbhookError, ExitCode } from '../errors.ts'
import { describeStep } from '../plan.ts'
import { groupSkippedSteps } from '../skipped-steps.ts'
import type { CommandResult } from './command-result.ts'
import { inspectAndPlan } from './inspect-and-plan.ts'

/**
 * `dbhook apply`: wait, lock, inspect, plan, refuse before any change if a step cannot be done, execute, and
 * end with one summary line naming each database as created, owner-fixed, updated or unchanged.
 */
export async function runApply(context: RunContext): Promise<CommandResult> {
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
    for (const group of groupSkippedSteps(skipped)) log.warn({ databases: group.databases }, `skipping: ${group.what}: ${group.reason}`)
    const report = plan.steps.length === 0 ? { outcomes: new Map(), statements: 0 } : await session.apply(plan, inspection, context)
    const databases = config.databases.map((db) => ({ key: db.key, name: db.name, result: report.outcomes.get(db.name) ?? 'unchanged' }))
    const outcome = databases.map((db) => `${db.key}=${db.name} ${db.result}`).join(', ')
    log.info({ summary: true, server: inspection.server, databases, statements: report.statements, durationMs: Date.now() - started }, `apply finished: ${outcome}`)
    return { exitCode: ExitCode.ok, outcome }
  } finally {
    await session.close()
  }
}
