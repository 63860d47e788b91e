import { describeStep, type Step } from './plan.ts'

/** Steps left out by design, each with the reason (see `EngineInspection.skippedSteps`). */
export type SkippedStep = { readonly step: Step; readonly reason: string }

/** One warning: what is left out, where (database keys; empty for a step of the whole server), and why. */
export interface SkippedGroup {
  readonly what: string
  readonly databases: readonly string[]
  readonly reason: string
}

/** How many database keys a warning names before it says "and N more"; the log record carries them all. */
const namedKeys = 5

/**
 * Folds steps skipped for the same reason in several databases (the event trigger on a managed server, PUBLIC's
 * CREATE on PostgreSQL 14 and older) into one warning naming the count, in the order they first appear. Pure.
 */
export function groupSkippedSteps(skipped: readonly SkippedStep[]): SkippedGroup[] {
  const groups = new Map<string, { what: string; databases: string[]; reason: string; single: string }>()
  for (const { step, reason } of skipped) {
    const what = step.action === 'ensure' ? step.item.description : describeStep(step)
    const group = `${step.action === 'ensure' ? step.item.id : describeStep(step)}\u0000${reason}`
    const found = groups.get(group) ?? { what, databases: [], reason, single: describeStep(step) }
    if (step.action === 'ensure') found.databases.push(step.database.key)
    groups.set(group, found)
  }
  return [...groups.values()].map(({ what, databases, reason, single }) => {
    if (databases.length <= 1) return { what: single, databases, reason }
    const named = databases.slice(0, namedKeys).join(', ')
    const more = databases.length > namedKeys ? ` and ${databases.length - namedKeys} more` : ''
    return { what: `${databases.length} databases (${named}${more}): ${what}`, databases, reason }
  })
}
