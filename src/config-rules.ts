import { parseBackupKey } from './backup/backup-crypto.ts'
import type { Engine } from './config/config.ts'
import type { ConfigRules, EngineRules } from './config/rules.ts'
import { mysqlDatabaseNameProblem, mysqlUserNameProblem } from './engines/mysql/mysql-names.ts'
import { postgresDatabaseNameProblem, postgresRoleNameProblem } from './engines/postgres/postgres-names.ts'
import { spannerDatabaseNameProblem, spannerInstanceProblem, spannerProjectProblem } from './engines/spanner/spanner-names.ts'

/** Each engine's port and name rules, taken from the engine's pure `*-names.ts` without loading its driver. */
export const engineRules: Readonly<Record<Engine, EngineRules>> = {
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

/** What loadConfig is handed: the rules above, Spanner's ids and the backup format's key, from the layers that own them. */
export const configRules: ConfigRules = {
  engines: engineRules,
  spannerProjectProblem,
  spannerInstanceProblem,
  parseBackupKey,
}
