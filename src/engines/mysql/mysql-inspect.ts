import type { RowDataPacket } from 'mysql2'
import type { Connection } from 'mysql2/promise'
import type { DesiredState, ObservedDatabase, ObservedRole, ObservedState } from '../../plan.ts'
import { mysqlSpecOf } from './mysql-items.ts'
import { grantee, grantPattern, type Account, type PasswordForm } from './mysql-statements.ts'

/** What the server is and who the admin is: inputs to apply and to the privilege check. */
export interface MysqlFacts {
  /** `MariaDB 10.11.19` or `MySQL 8.4.3`. */
  readonly server: string
  readonly mariadb: boolean
  /** The admin's own account, from CURRENT_USER(). */
  readonly admin: Account
  /** How passwords reach this server (see mysql-statements.ts). */
  readonly passwordForm: PasswordForm
  /** The admin's grants, from SHOW GRANTS; parsed by the privilege check. */
  readonly adminGrants: readonly string[]
}

export interface MysqlInspection {
  readonly observed: ObservedState
  readonly facts: MysqlFacts
}

interface ServerRow extends RowDataPacket {
  version: string
  currentUser: string
}

/**
 * Reads the listed databases, the listed accounts and their database-level and global privileges in five
 * queries, whatever the number of databases. `passwordWorks` holds the login attempts made meanwhile.
 * Accounts and grants come from information_schema, which shows other accounts only to an admin that may read
 * the mysql schema; an admin that may not sees its own and plans the rest again each run (all idempotent).
 */
export async function inspectMysql(
  connection: Connection,
  desired: DesiredState,
  accountOf: (name: string, admin: Account) => Account,
  passwordWorks: Promise<ReadonlyMap<string, boolean>>,
): Promise<MysqlInspection> {
  const [serverRows] = await connection.query<ServerRow[]>('SELECT VERSION() AS version, CURRENT_USER() AS currentUser')
  const serverRow = serverRows[0]
  if (!serverRow) throw new Error('SELECT VERSION() returned no row')
  const admin = splitCurrentUser(serverRow.currentUser)
  const mariadb = /mariadb/i.test(serverRow.version)
  const version = serverRow.version.replace(/-.*$/, '')

  const accounts = new Map(desired.roles.map((role) => [role.name, accountOf(role.name, admin)]))
  const grantees = [...accounts.values()].map(grantee)
  const names = desired.databases.map((db) => db.name)
  const patterns = [...new Set(names.flatMap((name) => [name, grantPattern(name)]))]

  const [schemaRows] = await connection.query<RowDataPacket[]>(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)',
    [names.length > 0 ? names : ['']],
  )
  const [userRows] = await connection.query<RowDataPacket[]>(
    'SELECT GRANTEE AS grantee, PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES WHERE GRANTEE IN (?)',
    [grantees],
  )
  const [schemaPrivilegeRows] = await connection.query<RowDataPacket[]>(
    'SELECT GRANTEE AS grantee, TABLE_SCHEMA AS pattern, PRIVILEGE_TYPE AS privilege FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE IN (?) AND TABLE_SCHEMA IN (?)',
    [grantees, patterns.length > 0 ? patterns : ['']],
  )
  const [grantRows] = await connection.query<RowDataPacket[]>({ sql: 'SHOW GRANTS', rowsAsArray: true })
  const passwords = await passwordWorks

  const globalPrivileges = new Map<string, Set<string>>()
  for (const row of userRows) addTo(globalPrivileges, String(row.grantee), String(row.privilege))
  const schemaPrivileges = new Map<string, Set<string>>()
  for (const row of schemaPrivilegeRows)
    addTo(schemaPrivileges, `${String(row.grantee)}\u0000${String(row.pattern)}`, String(row.privilege))

  const holdsGlobally = (account: Account, required: readonly string[]) =>
    required.every((p) => globalPrivileges.get(grantee(account))?.has(p))
  const holds = (account: Account, database: string, required: readonly string[]) => {
    const key = grantee(account)
    const global = globalPrivileges.get(key)
    if (holdsGlobally(account, required)) return true
    // A grant on the escaped pattern or on the bare name (made by hand) both cover the database.
    return [database, grantPattern(database)].some((pattern) => {
      const found = schemaPrivileges.get(`${key}\u0000${pattern}`)
      return required.every((p) => found?.has(p) || global?.has(p))
    })
  }

  const roles = new Map<string, ObservedRole>()
  for (const role of desired.roles) {
    const account = accounts.get(role.name)
    if (account && (globalPrivileges.has(grantee(account)) || sameAccount(account, admin))) {
      roles.set(role.name, { passwordWorks: passwords.get(role.name) })
    }
  }

  const accountFor = (role: string | undefined) => (role === undefined ? admin : (accounts.get(role) ?? admin))
  const items = desired.databases[0]?.items ?? []
  // A grant on `*.*` covers a database created now: the plan grants on it only what that leaves out.
  const newDatabase = new Set(
    items.filter((item) => holdsGlobally(accountFor(item.role), mysqlSpecOf(item).privileges)).map((item) => item.id),
  )

  const existing = new Set(schemaRows.map((row) => String(row.name)))
  const databases = new Map<string, ObservedDatabase>()
  for (const db of desired.databases) {
    if (!existing.has(db.name)) continue
    const present = new Set(
      db.items.filter((item) => holds(accountFor(item.role), db.name, mysqlSpecOf(item).privileges)).map((item) => item.id),
    )
    databases.set(db.name, { owner: null, present })
  }

  return {
    observed: { roles, databases, newDatabase },
    facts: {
      server: `${mariadb ? 'MariaDB' : 'MySQL'} ${version}`,
      mariadb,
      admin,
      passwordForm: mariadb ? 'native-hash' : 'plaintext',
      adminGrants: grantRows.map((row) => String((row as unknown as unknown[])[0])),
    },
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>()
  set.add(value)
  map.set(key, set)
}

/** CURRENT_USER() is `user@host`; the host never holds `@`, the user may. */
function splitCurrentUser(value: string): Account {
  const at = value.lastIndexOf('@')
  return at < 0 ? { user: value, host: '%' } : { user: value.slice(0, at), host: value.slice(at + 1) }
}

function sameAccount(a: Account, b: Account): boolean {
  return a.user === b.user && a.host === b.host
}
