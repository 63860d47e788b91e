import type { PostgresServer } from './postgres.ts'

/** What the catalog questions need of a server: its major and a query as the superuser. */
type Catalog = Pick<PostgresServer, 'major' | 'query'>

/** The owner of each of `names` that exists, by database name. */
export async function databaseOwners(server: Catalog, names: readonly string[]): Promise<Record<string, string>> {
  const rows = await server.query<{ datname: string; owner: string }>(
    'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY($1::text[])',
    [names],
  )
  return Object.fromEntries(rows.map((r) => [r.datname, r.owner]))
}

/**
 * Whether `admin` can act as `role` (SET on 16+, membership before): a lent membership left behind. False when
 * `role` does not exist.
 */
export async function canActAs(server: Catalog, admin: string, role: string): Promise<boolean> {
  const right = server.major >= 16 ? 'SET' : 'MEMBER'
  const rows = await server.query<{ has: boolean | null }>(
    `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2) THEN pg_has_role($1, $2, '${right}') END AS has`,
    [admin, role],
  )
  return rows[0]?.has === true
}
