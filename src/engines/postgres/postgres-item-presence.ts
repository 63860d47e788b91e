import type pg from 'pg'
import type { DatabaseItem } from '../../plan.ts'
import { itemNames, postgresItems, specOf, userSchemas, type PostgresItemSpec } from './postgres-items.ts'

/** One query per database, one column per registry entry: which items are in place. $1 owner, $2 app role or null. */
const presenceQuery = `
WITH owner_role AS (SELECT oid FROM pg_roles WHERE rolname = $1),
     app_role AS (SELECT oid FROM pg_roles WHERE rolname = $2),
     owner_name AS (SELECT coalesce((SELECT rolname::text FROM pg_roles WHERE rolname = $1), 'public') AS name),
     app_name AS (SELECT coalesce((SELECT rolname::text FROM pg_roles WHERE rolname = $2), 'public') AS name),
     schemas AS (${userSchemas('$1')})
SELECT
${Object.entries(postgresItems)
  .map(([kind, spec]: [string, PostgresItemSpec]) => `  ${spec.presence} AS "${kind}"`)
  .join(',\n')}`

/** Reads which of `items` are in place in the database `client` is connected to; returns their ids. */
export async function inspectDatabaseItems(
  client: pg.Client,
  items: readonly DatabaseItem[],
  owner: string,
  app: string | undefined,
): Promise<Set<string>> {
  const { rows } = await client.query<Record<string, unknown>>(presenceQuery, [owner, app ?? null])
  const row = rows[0]
  const present = new Set<string>()
  if (!row) return present
  for (const item of items) {
    const spec = specOf(item)
    const value = row[item.kind]
    if (spec.present ? spec.present(value, itemNames(item, '', owner)) : value === true) present.add(item.id)
  }
  return present
}
