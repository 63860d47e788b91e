import type { Config } from '../../config/config.ts'
import { desiredState } from '../../plan.ts'
import { mysqlCapabilities } from './mysql-capabilities.ts'
import { mysqlSpecOf } from './mysql-items.ts'
import { checkCharset, createDatabaseSql, createUserStatement, quoteAccount, quoteString, sessionSqlMode } from './mysql-statements.ts'
import { dbhookVersion } from '../../version.ts'
import { commentText } from '../sql-comment.ts'

/**
 * The idempotent SQL a DBA runs by hand with the mariadb or mysql client for this configuration. It carries no
 * password: users it creates are locked until the DBA sets one with the ALTER USER it prints.
 */
export function mysqlScript(config: Config): string {
  checkCharset(config)
  const desired = desiredState(config, mysqlCapabilities)
  const account = (name: string) => ({ user: name, host: config.mysql.userHost })
  const lines = [
    `-- dbhook ${dbhookVersion}: provisioning SQL for MySQL/MariaDB, safe to run more than once.`,
    '-- Run it as a user with CREATE, CREATE USER and ALL PRIVILEGES WITH GRANT OPTION, for example:',
    '--   dbhook sql > provision.sql && mariadb -u root -p < provision.sql',
    '-- The literals below use backslash escapes, which NO_BACKSLASH_ESCAPES would break:',
    `${sessionSqlMode};`,
    '',
  ]
  // The admin running the script already exists, with its own host part, and holds its privileges on *.*.
  const isAdmin = (name: string) => name === config.admin.user
  for (const role of desired.roles) {
    if (isAdmin(role.name)) {
      lines.push(`-- ${role.kind} user: ${quoteString(role.name)} is DBHOOK_ADMIN_USER, which exists already`, '')
      continue
    }
    lines.push(`-- ${role.kind} user: created locked, without a password`)
    lines.push(`${createUserStatement(account(role.name), undefined, 'plaintext', config.mysql.requireSsl).sql};`)
    lines.push(`-- then set its password: ALTER USER ${quoteAccount(account(role.name))} IDENTIFIED BY '...' ACCOUNT UNLOCK;`)
    lines.push('')
  }
  for (const db of desired.databases) {
    lines.push(`-- ${commentText(db.key)}`)
    lines.push(`${createDatabaseSql(db.name, config)};`)
    for (const item of db.items) {
      if (isAdmin(item.role ?? config.owner.name)) continue
      lines.push(`${mysqlSpecOf(item).grant(db.name, account(item.role ?? config.owner.name))};`)
    }
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}
