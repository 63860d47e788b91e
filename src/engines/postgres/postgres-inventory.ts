import pg from 'pg'
import type { Inventory, SequenceState } from '../../backup/backup-manifest.ts'

const { escapeIdentifier: id } = pg

// Objects that belong to an extension come back with CREATE EXTENSION; they are not listed on their own.
const notInExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`
const userSchema = (schema: string) =>
  `${schema} NOT IN ('pg_catalog', 'information_schema') AND ${schema} NOT LIKE 'pg\\_toast%' AND ${schema} NOT LIKE 'pg\\_temp\\_%'`

const objectsQuery = `
SELECT 'schema' AS kind, n.nspname AS name, n.nspname AS schema, NULL AS relname FROM pg_namespace n
 WHERE ${userSchema('n.nspname')} AND ${notInExtension('pg_namespace', 'n.oid')}
UNION ALL
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'foreign table' END,
       n.nspname || '.' || c.relname, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relpersistence <> 't'
   AND ${userSchema('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')}
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
       n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL, NULL
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE ${userSchema('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')}
UNION ALL
SELECT 'extension', e.extname, NULL, NULL FROM pg_extension e`

const sequencesQuery = `
SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment
  FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relpersistence <> 't' AND ${userSchema('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')}`

/** Tables counted per statement: one round trip for many tables, without a statement of unbounded size. */
const tablesPerStatement = 200

/** The objects and sequences of the connected database, with each sequence's position as this session sees it. */
export async function readObjects(client: pg.Client): Promise<Pick<Inventory, 'objects' | 'sequences'> & { tables: TableName[] }> {
  const { rows } = await client.query<{ kind: string; name: string; schema: string | null; relname: string | null }>(objectsQuery)
  const objects = new Set<string>()
  const tables: TableName[] = []
  for (const { kind, name, schema, relname } of rows) {
    // Tables are listed with their counts; sequences with their positions.
    if (kind === 'table') tables.push({ schema: schema!, name: relname! })
    else if (kind !== 'sequence') objects.add(`${kind} ${name}`)
  }
  const sequences = new Map<string, SequenceState>()
  const { rows: found } = await client.query<{ schema: string; name: string; increment: string }>(sequencesQuery)
  if (found.length > 0) {
    const reads = found.map((s, index) => `SELECT ${index} AS i, last_value::text AS v, is_called AS c FROM ${id(s.schema)}.${id(s.name)}`)
    const { rows: states } = await client.query<{ i: number; v: string; c: boolean }>(reads.join(' UNION ALL '))
    for (const state of states) {
      const s = found[state.i]!
      sequences.set(`${s.schema}.${s.name}`, { lastValue: state.v, isCalled: state.c, increment: s.increment })
    }
  }
  return { objects, sequences, tables }
}

export interface TableName {
  readonly schema: string
  readonly name: string
}

/** Exact row counts of `tables` in this session's snapshot, keyed `schema.name`. */
export async function countRows(client: pg.Client, tables: readonly TableName[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (let start = 0; start < tables.length; start += tablesPerStatement) {
    const chunk = tables.slice(start, start + tablesPerStatement)
    const sql = chunk
      .map((t, index) => `SELECT ${start + index} AS i, count(*) AS n FROM ${id(t.schema)}.${id(t.name)}`)
      .join(' UNION ALL ')
    for (const row of (await client.query<{ i: number; n: string }>(sql)).rows) {
      const t = tables[row.i]!
      counts.set(`${t.schema}.${t.name}`, Number(row.n))
    }
  }
  return counts
}

/** Everything the manifest records, read from the connected database as it is now. */
export async function readInventory(client: pg.Client): Promise<Inventory> {
  const { objects, sequences, tables } = await readObjects(client)
  return { objects, sequences, tables: await countRows(client, tables) }
}
