import type { PlanCapabilities } from '../../plan.ts'
import { mysqlDatabaseItems } from './mysql-items.ts'

/** What the planner needs to know of MySQL/MariaDB: the items each database holds (see mysql-items.ts). */
export const mysqlCapabilities: PlanCapabilities = {
  databaseItems: mysqlDatabaseItems,
}
