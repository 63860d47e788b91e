import type { PlanCapabilities } from '../../plan.ts'
import { postgresDatabaseItems } from './postgres-grants.ts'

/** What the planner needs to know of PostgreSQL: databases have owners; the items each database holds. */
export const postgresCapabilities: PlanCapabilities = {
  hasDatabaseOwner: true,
  databaseItems: postgresDatabaseItems,
}
