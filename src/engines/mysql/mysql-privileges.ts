import type { Step } from '../../plan.ts'
import { mysqlSpecOf } from './mysql-items.ts'
import type { Account } from './mysql-statements.ts'

/** The admin's grants as far as the up-front check needs them. */
export interface AdminGrants {
  /** Privileges granted ON *.*, upper-case; `ALL PRIVILEGES` stands for all of them. */
  readonly global: ReadonlySet<string>
  readonly globalGrantOption: boolean
  /**
   * Grants the check cannot judge: roles (whose privileges SHOW GRANTS does not expand) and database-level
   * grants, which may cover the databases through wildcards. When present the check stays silent and the server
   * decides at apply time (exit 77 all the same).
   */
  readonly undecidable: boolean
}

/** Parses SHOW GRANTS output for the current user. Lines it does not recognise make the result undecidable. */
export function parseAdminGrants(lines: readonly string[]): AdminGrants {
  const global = new Set<string>()
  let globalGrantOption = false
  let undecidable = false
  for (const line of lines) {
    const match = /^GRANT (.+?) ON (\S+) TO .+$/s.exec(line)
    if (!match) {
      // GRANT `role`@`%` TO `user`@`host`: a role whose privileges are not listed here.
      undecidable ||= /^GRANT /.test(line)
      continue
    }
    const [, privileges = '', target = ''] = match
    if (target === '*.*') {
      for (const privilege of privileges.split(',')) global.add(privilege.trim().toUpperCase())
      if (/ WITH GRANT OPTION\b/.test(line)) globalGrantOption = true
    } else if (!/^PROXY$/i.test(privileges.trim())) {
      undecidable = true
    }
  }
  return { global, globalGrantOption, undecidable }
}

/**
 * Steps the admin cannot do, each naming the missing privilege and the GRANT that fixes it. Empty when the grants
 * are undecidable (see AdminGrants). Pure.
 */
export function mysqlPrivilegeProblems(steps: readonly Step[], grants: AdminGrants, admin: Account): string[] {
  if (grants.undecidable) return []
  const all = grants.global.has('ALL PRIVILEGES') || grants.global.has('ALL')
  const has = (privilege: string) => all || grants.global.has(privilege)
  const who = `'${admin.user}'@'${admin.host}'`
  const problems: string[] = []
  const missing = (what: string, privilege: string, fix: string) => problems.push(`cannot ${what}: ${who} lacks ${privilege} (${fix})`)
  for (const step of steps) {
    switch (step.action) {
      case 'create-role':
        if (!has('CREATE USER'))
          missing(`create user ${JSON.stringify(step.role.name)}`, 'CREATE USER', `GRANT CREATE USER ON *.* TO ${who}`)
        break
      case 'set-password':
        if (!has('CREATE USER'))
          missing(`change the password of ${JSON.stringify(step.role.name)}`, 'CREATE USER', `GRANT CREATE USER ON *.* TO ${who}`)
        break
      case 'create-database':
        if (!has('CREATE')) missing(`create database ${JSON.stringify(step.database.name)}`, 'CREATE', `GRANT CREATE ON *.* TO ${who}`)
        break
      case 'alter-owner':
        break
      case 'ensure':
        {
          // Granting needs GRANT OPTION and every privilege granted; MySQL 8 lists ALL as its single privileges.
          const lacking = mysqlSpecOf(step.item).privileges.filter((privilege) => !has(privilege))
          if (lacking.length > 0 || !grants.globalGrantOption) {
            const privilege = `${lacking.length > 0 ? lacking.join(', ') : 'GRANT OPTION'}${lacking.length > 0 && !grants.globalGrantOption ? ' and GRANT OPTION' : ''}`
            missing(
              `${step.item.description} on ${JSON.stringify(step.database.name)}`,
              privilege,
              `GRANT ALL PRIVILEGES ON *.* TO ${who} WITH GRANT OPTION`,
            )
          }
        }
        break
      default:
        problems.push(`unknown step ${JSON.stringify(step satisfies never)}`)
    }
  }
  return [...new Set(problems)]
}
