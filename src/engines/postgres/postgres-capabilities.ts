import type { Config } from '../../config/config.ts'
import type { DatabaseItem, PlanCapabilities } from '../../plan.ts'

/** What the planner needs to know of PostgreSQL: databases have owners; the items each database holds. */
export const postgresCapabilities: PlanCapabilities = {
  hasDatabaseOwner: true,
  databaseItems(_config: Config): readonly DatabaseItem[] {
    return []
  },
}
