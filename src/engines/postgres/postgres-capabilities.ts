import type { PlanCapabilities } from '../../plan.ts'
import { postgresDatabaseItems } from './postgres-items.ts'

/** What the planner needs to know of PostgreSQL: the items each database holds (owners come from inspection). */
export const postgresCapabilities: PlanCapabilities = {
  databaseItems: postgresDatabaseItems,
}
