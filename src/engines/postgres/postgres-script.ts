import type { Config, EventTriggerMode } from '../../config/config.ts'
import { desiredState, type DesiredDatabase } from '../../plan.ts'
import { postgresCapabilities } from './postgres-capabilities.ts'
import { itemNames, specOf } from './postgres-items.ts'
import { alterOwnerSql, createDatabaseSql, createRoleSql, quoteIdentifier, quoteLiteral } from './postgres-statements.ts'
import { dbhookVersion } from '../../version.ts'
import { commentText } from '../sql-comment.ts'

/**
 * The idempotent SQL a DBA runs by hand with psql for this configuration (`\gexec` runs each generated
 * statement only where it is needed). It carries no password: roles are created without one and the script
 * says where to set it.
 */
export function postgresScript(config: Config): string {
  const desired = desiredState(config, postgresCapabilities)
  const lines = [
    `-- dbhook ${dbhookVersion}: provisioning SQL for PostgreSQL, safe to run more than once.`,
    '-- Run it with psql as a role with CREATEDB (and CREATEROLE when roles are created); the per-database part',
    '-- (schema public, grants) needs the owner of schema public: a superuser on PostgreSQL 14 and older. For example:',
    '--   dbhook sql > provision.sql && psql -v ON_ERROR_STOP=1 -d postgres -f provision.sql',
    ...(config.app && config.eventTrigger === 'auto'
      ? ['-- The permission event trigger is installed where the DBA may create event triggers (DBHOOK_EVENT_TRIGGER=auto).']
      : []),
    '',
  ]
  for (const role of desired.roles) {
    lines.push(`-- ${role.kind} role ${commentText(role.name)}`)
    lines.push(
      `SELECT ${quoteLiteral(createRoleSql(role))} WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(role.name)})\\gexec`,
    )
    lines.push(`-- then set its password in psql: \\password ${quoteIdentifier(role.name)}`)
    lines.push('')
  }
  for (const db of desired.databases) {
    lines.push(`-- ${commentText(db.key)}`)
    lines.push(
      `SELECT ${quoteLiteral(createDatabaseSql(db.name, db.owner))} WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(db.name)})\\gexec`,
    )
    lines.push(
      `SELECT ${quoteLiteral(alterOwnerSql(db.name, db.owner))} FROM pg_database WHERE datname = ${quoteLiteral(db.name)} AND pg_get_userbyid(datdba) <> ${quoteLiteral(db.owner)}\\gexec`,
    )
    lines.push('')
  }
  for (const db of desired.databases) {
    if (db.items.length === 0) continue
    lines.push(`-- ${commentText(db.key)}: schema public, extensions and the app role's rights, as apply makes them`)
    lines.push(`\\connect ${quoteIdentifier(db.name)}`)
    lines.push(...databaseItemsSql(db, config.eventTrigger))
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}

/**
 * The registry's statements for each item of one database, in apply's order: those apply runs as the owner under
 * SET ROLE, the rest as the DBA; a generating query runs with \gexec. Trusted extensions are created as the owner,
 * as apply does; an untrusted one fails there, and needs `dbhook apply` as a superuser.
 */
function databaseItemsSql(db: DesiredDatabase, eventTrigger: EventTriggerMode): string[] {
  const out: string[] = []
  let asOwner = false
  for (const item of db.items) {
    const requirement = specOf(item).requirement(scriptMajor)
    const owner = requirement === 'act-as-owner' || requirement === 'extension'
    if (owner !== asOwner) out.push(owner ? `SET ROLE ${quoteIdentifier(db.owner)};` : 'RESET ROLE;')
    asOwner = owner
    const spec = specOf(item)
    const guard = spec.scriptGuard?.(eventTrigger)
    for (const statement of spec.statements(itemNames(item, db.name, db.owner))) {
      if (guard !== undefined) {
        const query = typeof statement === 'string' ? `SELECT ${quoteLiteral(statement)}` : `SELECT * FROM (${statement.generate}) s`
        out.push(`${query} WHERE ${guard}\\gexec`)
      } else out.push(typeof statement === 'string' ? `${statement};` : `${statement.generate}\\gexec`)
    }
  }
  if (asOwner) out.push('RESET ROLE;')
  return out
}

/**
 * The script does not know the server's version: items whose runner depends on it (schema public) are run as the
 * DBA, whom the script's header asks to own schema public; their statements decide by the version themselves.
 */
const scriptMajor = 14
