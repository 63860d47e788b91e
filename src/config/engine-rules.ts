import type { Engine } from './config.ts'
import { postgresDatabaseNameProblem, postgresRoleNameProblem } from '../engines/postgres/postgres-names.ts'
import { mysqlDatabaseNameProblem, mysqlUserNameProblem } from '../engines/mysql/mysql-names.ts'
import { spannerDatabaseNameProblem } from '../engines/spanner/spanner-names.ts'

/** What configuration needs to know of an engine without loading its driver. */
export interface EngineRules {
  readonly defaultPort: number
  readonly databaseNameProblem: (name: string) => string | undefined
  readonly roleNameProblem: (name: string) => string | undefined
}

export const engineRules: Record<Engine, EngineRules> = {
  postgres: {
    defaultPort: 5432,
    databaseNameProblem: postgresDatabaseNameProblem,
    roleNameProblem: postgresRoleNameProblem,
  },
  mysql: {
    defaultPort: 3306,
    databaseNameProblem: mysqlDatabaseNameProblem,
    roleNameProblem: mysqlUserNameProblem,
  },
  // Reached over its API (443); dbhook names no roles on Spanner, so no role name is ever checked.
  spanner: {
    defaultPort: 443,
    databaseNameProblem: spannerDatabaseNameProblem,
    roleNameProblem: () => undefined,
  },
}
