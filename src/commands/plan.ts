import type { RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/load-engine.ts'
import { ExitCode } from '../errors.ts'
import { describeStep, isInSync } from '../plan.ts'
import { groupSkippedSteps } from '../skipped-steps.ts'
import type { CommandResult } from './command-result.ts'
import { inspectAndPlan } from './inspect-and-plan.ts'
import { planGeneratedCredentials } from '../kubernetes/generated-credentials.ts'

/**
 * `dbhook plan`: the same inspection as apply, nothing executed. Exit 0 in sync, 2 with changes pending, 1 when
 * the plan holds a problem no step can fix. Steps the admin's privileges cannot do are named up front.
 */
export async function runPlan(given: RunContext): Promise<CommandResult> {
  const { context, pending: secretSteps } = await planGeneratedCredentials(given)
  const { log } = context
  const engine = await loadEngine(context.config)
  const session = await engine.connectAdmin(context)
  try {
    const { plan, privilegeProblems, skipped } = await inspectAndPlan(engine, session, context)
    for (const step of plan.steps) log.info({ step: step.action }, `plan: ${describeStep(step)}`)
    for (const group of groupSkippedSteps(skipped))
      log.warn({ databases: group.databases }, `plan: ${group.what} will be skipped: ${group.reason}`)
    for (const problem of privilegeProblems) log.warn(`plan: apply would be refused: ${problem}`)
    for (const problem of plan.problems) log.error(`plan: ${problem}`)
    if (plan.problems.length > 0) {
      return { exitCode: ExitCode.failed, outcome: plan.problems.join('; ') }
    }
    if (isInSync(plan) && secretSteps.length === 0) {
      const outcome = `in sync: ${context.config.databases.length} databases, nothing to do`
      log.info({ steps: 0 }, outcome)
      return { exitCode: ExitCode.ok, outcome }
    }
    const steps = plan.steps.length + secretSteps.length
    const outcome = `${steps} changes pending`
    log.info({ steps }, outcome)
    return { exitCode: ExitCode.pending, outcome }
  } finally {
    await session.close()
  }
}
