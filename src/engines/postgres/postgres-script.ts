import type { Config } from '../../config/config.ts'
import { desiredState } from '../../plan.ts'
import { postgresCapabilities } from './postgres-capabilities.ts'
import { alterOwnerSql, createDatabaseSql, createRoleSql, quoteIdentifier, quoteLiteral } from './postgres-statements.ts'
import { dbhookVersion } from '../../version.ts'

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
    '',
  ]
  for (const role of desired.roles) {
    lines.push(`-- ${role.kind} role ${commentText(role.name)}`)
    lines.push(`SELECT ${quoteLiteral(createRoleSql(role))} WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(role.name)})\\gexec`)
    lines.push(`-- then set its password in psql: \\password ${quoteIdentifier(role.name)}`)
    lines.push('')
  }
  for (const db of desired.databases) {
    lines.push(`-- ${commentText(db.key)}`)
    lines.push(`SELECT ${quoteLiteral(createDatabaseSql(db.name, db.owner))} WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(db.name)})\\gexec`)
    lines.push(
      `SELECT ${quoteLiteral(alterOwnerSql(db.name, db.owner))} FROM pg_database WHERE datname = ${quoteLiteral(db.name)} AND pg_get_userbyid(datdba) <> ${quoteLiteral(db.owner)}\\gexec`,
    )
    lines.push('')
  }
  for (const db of desired.databases) {
    const grants = databaseGrants(config, db.name, db.owner)
    if (grants.length === 0) continue
    lines.push(`-- ${commentText(db.key)}: extensions and the app role's rights, as the owner`)
    lines.push(`\\connect ${quoteIdentifier(db.name)}`)
    lines.push(...grants)
    lines.push('')
  }
  if (desired.databases.length > 0 && config.app && config.eventTrigger !== 'off') {
    lines.push('-- The permission event trigger needs a superuser; dbhook apply installs it when run as one.')
  }
  return `${lines.join('\n')}\n`
}

/** A key or name for a -- comment: a line break in it must not end the comment and start SQL. */
function commentText(text: string): string {
  return /\p{Cc}/u.test(text) ? JSON.stringify(text) : text
}

/** Idempotent statements for one database: PUBLIC loses CREATE on public, extensions and grants as the owner. */
function databaseGrants(config: Config, database: string, owner: string): string[] {
  const app = config.app?.name
  if (app === undefined && config.extensions.length === 0) return []
  const out: string[] = []
  if (app !== undefined) out.push(`GRANT CREATE ON SCHEMA public TO ${quoteIdentifier(owner)};`, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC;')
  out.push(`SET ROLE ${quoteIdentifier(owner)};`)
  for (const extension of config.extensions) out.push(`CREATE EXTENSION IF NOT EXISTS ${quoteIdentifier(extension)};`)
  if (app !== undefined) {
    const role = quoteIdentifier(app)
    out.push(
      `GRANT CONNECT ON DATABASE ${quoteIdentifier(database)} TO ${role};`,
      `GRANT USAGE ON SCHEMA public TO ${role};`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role};`,
      `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role};`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdentifier(owner)} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role};`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdentifier(owner)} GRANT USAGE, SELECT ON SEQUENCES TO ${role};`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdentifier(owner)} GRANT USAGE ON SCHEMAS TO ${role};`,
    )
  }
  out.push('RESET ROLE;')
  return out
}
