import type { Config } from '../../config/config.ts'
import type { DatabaseItem } from '../../plan.ts'
import { appPrivileges, grantAppSql, grantOwnerSql, ownerPrivilegeSet, type Account } from './mysql-statements.ts'

/**
 * The one table of what dbhook keeps on each MySQL/MariaDB database beyond its existence: MySQL databases have no
 * owner, the owner is whoever holds ALL PRIVILEGES on them. Inspection, the planner, the privilege check, apply and
 * `dbhook sql` all read it.
 */
export const mysqlItems = {
  'owner-privileges': {
    role: (config) => config.owner.name,
    describe: (role) => `grant ALL PRIVILEGES to ${JSON.stringify(role)}`,
    privileges: ownerPrivilegeSet,
    grant: grantOwnerSql,
  },
  'app-privileges': {
    role: (config) => config.app?.name,
    describe: (role) => `grant SELECT, INSERT, UPDATE, DELETE to ${JSON.stringify(role)}`,
    privileges: appPrivileges,
    grant: grantAppSql,
  },
} as const satisfies Record<string, MysqlItemSpec>

export type MysqlItemKind = keyof typeof mysqlItems

export interface MysqlItemSpec {
  /** The user the grant is for; undefined when the configuration has none (no app user), so no item. */
  readonly role: (config: Config) => string | undefined
  readonly describe: (role: string) => string
  /**
   * The privileges that make the item present (held on the database, on its escaped pattern or on `*.*`), which the
   * admin must hold with GRANT OPTION to grant them.
   */
  readonly privileges: readonly string[]
  /** The idempotent GRANT, the same for apply and `dbhook sql`. */
  readonly grant: (database: string, account: Account) => string
}

/** The registry entry of an item the planner hands back. */
export function mysqlSpecOf(item: DatabaseItem): MysqlItemSpec {
  if (!Object.hasOwn(mysqlItems, item.kind)) throw new Error(`unknown MySQL database item ${JSON.stringify(item.kind)}`)
  return mysqlItems[item.kind as MysqlItemKind]
}

/** The items every listed database holds, in the registry's order. */
export function mysqlDatabaseItems(config: Config): DatabaseItem[] {
  return Object.entries(mysqlItems).flatMap(([kind, spec]: [string, MysqlItemSpec]) => {
    const role = spec.role(config)
    return role === undefined ? [] : [{ id: kind, kind, role, description: spec.describe(role) }]
  })
}
