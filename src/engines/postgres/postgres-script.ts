import type { Config } from '../../config/config.ts'
import { desiredState } from '../../plan.ts'
import { postgresCapabilities } from './postgres-capabilities.ts'
import { alterOwnerSql, createDatabaseSql, createRoleSql, quoteIdentifier, quoteLiteral } from './postgres-statements.ts'

declare const DBHOOK_VERSION: string

/**
 * The idempotent SQL a DBA runs by hand with psql for this configuration (`\gexec` runs each generated
 * statement only where it is needed). It carries no password: roles are created without one and the script
 * says where to set it.
 */
export function postgresScript(config: Config): string {
  const desired = desiredState(config, postgresCapabilities)
  const lines = [
    `-- dbhook ${typeof DBHOOK_VERSION === 'string' ? DBHOOK_VERSION : 'dev'}: provisioning SQL for PostgreSQL, safe to run more than once.`,
    '-- Run it with psql as a role with CREATEDB (and CREATEROLE when roles are created), for example:',
    '--   dbhook sql > provision.sql && psql -v ON_ERROR_STOP=1 -d postgres -f provision.sql',
    '',
  ]
  for (const role of desired.roles) {
    lines.push(`-- ${role.kind} role`)
    lines.push(`SELECT ${quoteLiteral(createRoleSql(role))} WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(role.name)})\\gexec`)
    lines.push(`-- then set its password in psql: \\password ${quoteIdentifier(role.name)}`)
    lines.push('')
  }
  for (const db of desired.databases) {
    lines.push(`-- ${db.key}`)
    lines.push(`SELECT ${quoteLiteral(createDatabaseSql(db.name, db.owner))} WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(db.name)})\\gexec`)
    lines.push(
      `SELECT ${quoteLiteral(alterOwnerSql(db.name, db.owner))} FROM pg_database WHERE datname = ${quoteLiteral(db.name)} AND pg_get_userbyid(datdba) <> ${quoteLiteral(db.owner)}\\gexec`,
    )
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}
