import type { AdminSession, EngineAdapter, EngineInspection, RunContext } from '../engines/engine.ts'
import { desiredState, planChanges, type PlanResult } from '../plan.ts'

export interface PlannedRun {
  readonly inspection: EngineInspection
  readonly plan: PlanResult
  readonly privilegeProblems: readonly string[]
}

/** The shared heart of plan and apply: inspect the server, then plan against the configuration. */
export async function inspectAndPlan(engine: EngineAdapter, session: AdminSession, context: RunContext): Promise<PlannedRun> {
  const desired = desiredState(context.config, engine)
  const inspection = await session.inspect(desired)
  const plan = planChanges(desired, inspection.observed)
  return { inspection, plan, privilegeProblems: inspection.privilegeProblems(plan) }
}
