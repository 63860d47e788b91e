import type { Config } from '../../config/config.ts'
import type { DatabaseItem, PlanCapabilities } from '../../plan.ts'

/** Item ids: the owner's ALL PRIVILEGES on `db`.*, and the app user's SELECT, INSERT, UPDATE, DELETE. */
export const ownerPrivilegesItem = 'owner-privileges'
export const appPrivilegesItem = 'app-privileges'

/** MySQL databases have no owner: the owner is whoever holds ALL PRIVILEGES on them. */
export const mysqlCapabilities: PlanCapabilities = {
  databaseItems(config: Config): readonly DatabaseItem[] {
    const items: DatabaseItem[] = [
      { id: ownerPrivilegesItem, description: `grant ALL PRIVILEGES to ${JSON.stringify(config.owner.name)}`, role: config.owner.name },
    ]
    if (config.app) {
      items.push({ id: appPrivilegesItem, description: `grant SELECT, INSERT, UPDATE, DELETE to ${JSON.stringify(config.app.name)}`, role: config.app.name })
    }
    return items
  },
}
