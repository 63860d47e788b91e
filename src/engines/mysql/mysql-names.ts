const maxDatabaseChars = 64
const maxUserChars = 32
const systemDatabases = new Set(['mysql', 'information_schema', 'performance_schema', 'sys'])

/** Why `name` cannot be a database dbhook provisions on MySQL/MariaDB, or undefined when it can. */
export function mysqlDatabaseNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name.includes('\0')) return 'contains a NUL character'
  const chars = [...name].length
  if (chars > maxDatabaseChars) return `is ${chars} characters long; MySQL allows ${maxDatabaseChars}`
  if (name.endsWith(' ')) return 'ends with a space, which MySQL does not allow in a database name'
  if (systemDatabases.has(name.toLowerCase())) return 'is a system database dbhook never provisions'
  return undefined
}

/** Why `name` cannot be a user dbhook creates or grants to on MySQL/MariaDB, or undefined when it can. */
export function mysqlUserNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name.includes('\0')) return 'contains a NUL character'
  const chars = [...name].length
  if (chars > maxUserChars) return `is ${chars} characters long; MySQL allows ${maxUserChars}`
  return undefined
}
