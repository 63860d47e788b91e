import type pg from 'pg'
import type { Config } from '../../config/config.ts'
import type { DatabaseItem } from '../../plan.ts'
import { quoteIdentifier as id, quoteLiteral as literal } from './postgres-statements.ts'

/**
 * The per-database items for PostgreSQL, in the order they are applied: the owner's CREATE on public, the
 * extensions, then what the app role needs (CONNECT, USAGE, rights on existing objects, default privileges for
 * objects the owner creates later) and, where allowed, the permission event trigger.
 */
export function postgresDatabaseItems(config: Config): DatabaseItem[] {
  const owner = config.owner.name
  const app = config.app?.name
  // Without an app role or extensions nothing needs a connection to each database, and inspection stays one
  // query however many databases are listed. The owner's CREATE on public is checked with the grants.
  if (app === undefined && config.extensions.length === 0) return []
  const items: DatabaseItem[] = []
  if (app !== undefined) {
    items.push({
      id: 'public-schema-hardened',
      role: owner,
      description: `make schema public as PostgreSQL 15 has it: owned by ${JSON.stringify(owner)}, no CREATE for PUBLIC (so ${JSON.stringify(app)} cannot create tables)`,
    })
  }
  items.push({ id: 'owner-schema-create', role: owner, description: `let ${JSON.stringify(owner)} create in schema public` })
  for (const extension of config.extensions) {
    items.push({ id: `extension:${extension}`, extension, description: `create extension ${JSON.stringify(extension)}` })
  }
  if (app !== undefined) {
    const who = JSON.stringify(app)
    items.push(
      { id: 'app-connect', role: app, description: `grant CONNECT to ${who}` },
      { id: 'app-schema-usage', role: app, description: `grant USAGE on the owner's schemas (and public) to ${who}` },
      { id: 'app-table-privileges', role: app, description: `grant ${who} SELECT/INSERT/UPDATE/DELETE on existing tables and USAGE/SELECT on sequences` },
      {
        id: 'app-default-privileges',
        role: app,
        description: `default privileges: tables, sequences and schemas ${JSON.stringify(owner)} creates later are usable by ${who}`,
      },
    )
    if (config.eventTrigger !== 'off') {
      items.push({ id: 'event-trigger', role: app, description: `install the permission event trigger ${eventTriggerName} for ${who}` })
    }
  }
  return items
}

/** Versioned, so that a later dbhook replaces it cleanly: older dbhook_grant_app_permissions_v* are dropped. */
export const eventTriggerName = 'dbhook_grant_app_permissions_v1'
const eventTriggerComment = (app: string) => `dbhook v1: grants on new objects to role ${app}`

// Schemas the app role works in: public and every schema the owner owns, never the system ones.
const userSchemas = `
  SELECT n.oid, n.nspname FROM pg_namespace n
   WHERE (n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = $1) OR n.nspname = 'public')
     AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`

/**
 * One query per database: which of the items are in place. $1 owner, $2 app role (null without one).
 *
 * Items are judged as they will be once this run is done, so that what plan shows is what apply does: a role not
 * created yet is judged by PUBLIC's rights, which it will have (the privilege functions would fail on an unknown
 * name), and a database about to be handed over (one a killed run left owned by the admin, say) as its owner will
 * find it: the owner's CREATE on public then also comes from pg_database_owner, which owns schema public from
 * PostgreSQL 15 (the role exists from 14).
 */
const presenceQuery = `
WITH owner_role AS (SELECT oid FROM pg_roles WHERE rolname = $1),
     app_role AS (SELECT oid FROM pg_roles WHERE rolname = $2),
     owner_name AS (SELECT coalesce((SELECT rolname::text FROM pg_roles WHERE rolname = $1), 'public') AS name),
     app_name AS (SELECT coalesce((SELECT rolname::text FROM pg_roles WHERE rolname = $2), 'public') AS name),
     schemas AS (${userSchemas})
SELECT
  NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public')
    OR has_schema_privilege((SELECT name FROM owner_name), 'public', 'CREATE')
    OR CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_database_owner')
                 AND (SELECT datdba FROM pg_database WHERE datname = current_database()) IS DISTINCT FROM (SELECT oid FROM owner_role)
            THEN has_schema_privilege('pg_database_owner', 'public', 'CREATE') ELSE false END AS "ownerSchemaCreate",
  NOT EXISTS (
    SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
     WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE') AS "publicSchemaHardened",
  (SELECT coalesce(array_agg(extname::text), '{}') FROM pg_extension) AS extensions,
  $2::text IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
     WHERE d.datname = current_database() AND a.grantee = (SELECT oid FROM app_role) AND a.privilege_type = 'CONNECT') AS "appConnect",
  NOT EXISTS (
    SELECT 1 FROM schemas s WHERE NOT has_schema_privilege((SELECT name FROM app_name), s.oid, 'USAGE')) AS "appSchemaUsage",
  NOT EXISTS (
    SELECT 1 FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace, app_name a
     WHERE c.relowner = (SELECT oid FROM owner_role) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
       AND NOT CASE WHEN c.relkind = 'S'
                    THEN has_sequence_privilege(a.name, c.oid, 'USAGE') AND has_sequence_privilege(a.name, c.oid, 'SELECT')
                    ELSE has_table_privilege(a.name, c.oid, 'SELECT') AND has_table_privilege(a.name, c.oid, 'INSERT')
                     AND has_table_privilege(a.name, c.oid, 'UPDATE') AND has_table_privilege(a.name, c.oid, 'DELETE') END) AS "appTablePrivileges",
  $2::text IS NOT NULL AND (
    SELECT count(DISTINCT d.defaclobjtype::text || a.privilege_type) = 7
      FROM pg_default_acl d, aclexplode(d.defaclacl) a
     WHERE d.defaclrole = (SELECT oid FROM owner_role) AND d.defaclnamespace = 0
       AND a.grantee = (SELECT oid FROM app_role)
       AND (d.defaclobjtype::text, a.privilege_type) IN (('r', 'SELECT'), ('r', 'INSERT'), ('r', 'UPDATE'), ('r', 'DELETE'),
                                                  ('S', 'USAGE'), ('S', 'SELECT'), ('n', 'USAGE'))) AS "appDefaultPrivileges",
  $2::text IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_event_trigger t
     WHERE t.evtname = '${eventTriggerName}' AND t.evtenabled <> 'D'
       AND obj_description(t.evtfoid, 'pg_proc') = 'dbhook v1: grants on new objects to role ' || $2) AS "eventTrigger"`

interface PresenceRow {
  ownerSchemaCreate: boolean
  publicSchemaHardened: boolean
  extensions: string[]
  appConnect: boolean
  appSchemaUsage: boolean
  appTablePrivileges: boolean
  appDefaultPrivileges: boolean
  eventTrigger: boolean
}

/** Reads which items are present in the database `client` is connected to; returns their ids. */
export async function inspectDatabaseItems(client: pg.Client, items: readonly DatabaseItem[], owner: string, app: string | undefined): Promise<Set<string>> {
  const { rows } = await client.query<PresenceRow>(presenceQuery, [owner, app ?? null])
  const row = rows[0]
  const present = new Set<string>()
  if (!row) return present
  const found: Record<string, boolean> = {
    'owner-schema-create': row.ownerSchemaCreate,
    'public-schema-hardened': row.publicSchemaHardened,
    'app-connect': row.appConnect,
    'app-schema-usage': row.appSchemaUsage,
    'app-table-privileges': row.appTablePrivileges,
    'app-default-privileges': row.appDefaultPrivileges,
    'event-trigger': row.eventTrigger,
  }
  for (const item of items) {
    if (item.extension !== undefined ? row.extensions.includes(item.extension) : found[item.id]) present.add(item.id)
  }
  return present
}

/** Who runs an item's statements: the owner (through SET ROLE, so objects and grants are the owner's) or the admin. */
export function itemRunsAsOwner(item: DatabaseItem, trustedExtensions: ReadonlySet<string>, major: number): boolean {
  // From 15 schema public belongs to pg_database_owner, so the owner itself may take CREATE away from PUBLIC.
  if (item.id === 'public-schema-hardened') return major >= 15
  if (item.id === 'owner-schema-create' || item.id === 'event-trigger') return false
  if (item.extension !== undefined) return trustedExtensions.has(item.extension)
  return true
}

/**
 * The statements that put `item` in place in the database `client` is connected to. Schema lists are read at
 * apply time so that every schema the owner has gets its grant.
 */
export async function itemStatements(client: pg.Client, item: DatabaseItem, database: string, owner: string, major: number): Promise<string[]> {
  const app = item.role ?? ''
  switch (item.id) {
    case 'owner-schema-create':
      return [`GRANT CREATE ON SCHEMA public TO ${id(owner)}`]
    case 'public-schema-hardened':
      return major >= 15
        ? ['REVOKE CREATE ON SCHEMA public FROM PUBLIC']
        : [`ALTER SCHEMA public OWNER TO ${id(owner)}`, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC']
    case 'app-connect':
      return [`GRANT CONNECT ON DATABASE ${id(database)} TO ${id(app)}`]
    case 'app-schema-usage': {
      const { rows } = await client.query<{ nspname: string }>(`${userSchemas} AND NOT has_schema_privilege($2, n.oid, 'USAGE') ORDER BY 2`, [owner, app])
      return rows.map((r) => `GRANT USAGE ON SCHEMA ${id(r.nspname)} TO ${id(app)}`)
    }
    case 'app-table-privileges': {
      const { rows } = await client.query<{ nspname: string }>(`${userSchemas} ORDER BY 2`, [owner])
      return rows.flatMap((r) => [
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${id(r.nspname)} TO ${id(app)}`,
        `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${id(r.nspname)} TO ${id(app)}`,
      ])
    }
    case 'app-default-privileges':
      return [
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${id(owner)} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${id(app)}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${id(owner)} GRANT USAGE, SELECT ON SEQUENCES TO ${id(app)}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${id(owner)} GRANT USAGE ON SCHEMAS TO ${id(app)}`,
      ]
    case 'event-trigger':
      return eventTriggerStatements(app, owner, await olderTriggers(client))
    default:
      if (item.extension !== undefined) return [`CREATE EXTENSION IF NOT EXISTS ${id(item.extension)}`]
      throw new Error(`unknown database item ${JSON.stringify(item.id)}`)
  }
}

async function olderTriggers(client: pg.Client): Promise<{ trigger: string; fn: string }[]> {
  const { rows } = await client.query<{ trigger: string; fn: string }>(
    `SELECT t.evtname AS trigger, t.evtfoid::regprocedure::text AS fn FROM pg_event_trigger t
      WHERE t.evtname LIKE 'dbhook\\_grant\\_app\\_permissions\\_v%'`,
  )
  return rows
}

/**
 * The permission event trigger: after each DDL command it grants the app role rights on exactly the objects the
 * command created (pg_event_trigger_ddl_commands()), in any non-system schema. The function is SECURITY DEFINER
 * owned by the database owner, so it can grant only on the owner's objects; its search_path is pinned; every
 * failure becomes a WARNING so the user's DDL never fails because of it, including when the app role was dropped.
 */
export function eventTriggerStatements(app: string, owner: string, older: readonly { trigger: string; fn: string }[]): string[] {
  const fn = `public.${eventTriggerName}()`
  let body = `
DECLARE
  obj record;
  app_role constant text := ${literal(app)};
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = app_role) THEN
    RETURN;
  END IF;
  FOR obj IN
    SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands()
     WHERE schema_name IS NOT NULL
       AND schema_name NOT IN ('pg_catalog', 'information_schema')
       AND schema_name NOT LIKE 'pg\\_%'
       AND (command_tag LIKE 'CREATE %' OR command_tag = 'SELECT INTO' OR object_type = 'sequence')
  LOOP
    BEGIN
      IF obj.object_type IN ('table', 'view', 'materialized view', 'foreign table') THEN
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO %I', obj.object_identity, app_role);
      ELSIF obj.object_type = 'sequence' THEN
        EXECUTE pg_catalog.format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', obj.object_identity, app_role);
      END IF;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'dbhook: could not grant % rights on %: %', app_role, obj.object_identity, SQLERRM;
    END;
  END LOOP;
  FOR obj IN
    SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() WHERE object_type = 'schema' AND command_tag = 'CREATE SCHEMA'
  LOOP
    BEGIN
      EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %I', obj.object_identity, app_role);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'dbhook: could not grant % usage on schema %: %', app_role, obj.object_identity, SQLERRM;
    END;
  END LOOP;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'dbhook: permission event trigger failed: %', SQLERRM;
END`
  // The app name is inside the body as a literal; choose a dollar-quote tag the body cannot contain.
  let tag = '$dbhook$'
  for (let n = 1; body.includes(tag); n += 1) tag = `$dbhook${n}$`
  body = `${tag}${body}${tag}`
  return [
    ...older.flatMap((o) => [`DROP EVENT TRIGGER IF EXISTS ${id(o.trigger)}`, `DROP FUNCTION IF EXISTS ${o.fn}`]),
    `CREATE OR REPLACE FUNCTION ${fn} RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ${body}`,
    `ALTER FUNCTION ${fn} OWNER TO ${id(owner)}`,
    `REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`,
    `COMMENT ON FUNCTION ${fn} IS ${literal(eventTriggerComment(app))}`,
    `CREATE EVENT TRIGGER ${eventTriggerName} ON ddl_command_end EXECUTE FUNCTION ${fn}`,
  ]
}
