/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated by the server with only a NOTICE. */
const maxIdentifierBytes = 63

const protectedDatabases = new Set(['postgres', 'template0', 'template1'])
// Names the grammar reserves for roles, compared without case so "PUBLIC" is not taken for a new role either.
const reservedRoles = new Set(['public', 'none', 'current_user', 'session_user', 'current_role'])

function identifierProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name.includes('\0')) return 'contains a NUL character'
  const bytes = Buffer.byteLength(name, 'utf8')
  if (bytes > maxIdentifierBytes) {
    return `is ${bytes} bytes long; PostgreSQL keeps only ${maxIdentifierBytes} and would silently truncate it`
  }
  return undefined
}

/** Why `name` cannot be a database dbhook provisions, or undefined when it can. */
export function postgresDatabaseNameProblem(name: string): string | undefined {
  const problem = identifierProblem(name)
  if (problem) return problem
  if (protectedDatabases.has(name)) return 'is a system database dbhook never provisions'
  return undefined
}

/** Why `name` cannot be a role dbhook creates or assigns, or undefined when it can. */
export function postgresRoleNameProblem(name: string): string | undefined {
  const problem = identifierProblem(name)
  if (problem) return problem
  const lower = name.toLowerCase()
  if (reservedRoles.has(lower)) return 'is a reserved role name'
  if (lower.startsWith('pg_')) return 'starts with pg_, which PostgreSQL reserves for its own roles'
  return undefined
}
