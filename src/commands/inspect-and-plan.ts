import type { AdminSession, EngineAdapter, EngineInspection, RunContext } from '../engines/engine.ts'
import { desiredState, planChanges, type PlanResult, type Step } from '../plan.ts'

export interface PlannedRun {
  readonly inspection: EngineInspection
  /** The steps to execute: skipped steps are already taken out. */
  readonly plan: PlanResult
  readonly privilegeProblems: readonly string[]
  /** Steps left out by design, each with the reason, for a warning. */
  readonly skipped: readonly { readonly step: Step; readonly reason: string }[]
}

/** The shared heart of plan and apply: inspect the server, then plan against the configuration. */
export async function inspectAndPlan(engine: EngineAdapter, session: AdminSession, context: RunContext): Promise<PlannedRun> {
  const desired = desiredState(context.config, engine)
  const inspection = await session.inspect(desired)
  const planned = planChanges(desired, inspection.observed)
  const full = { ...planned, problems: [...planned.problems, ...(inspection.problems ?? [])] }
  const skipped = inspection.skippedSteps(full)
  const plan = { ...full, steps: full.steps.filter((step) => !skipped.some((s) => s.step === step)) }
  return { inspection, plan, privilegeProblems: inspection.privilegeProblems(plan), skipped }
}
