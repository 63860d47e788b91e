import type { Config, EventTriggerMode } from '../../config/config.ts'
import type { DatabaseItem } from '../../plan.ts'
import { eventTriggerComment, eventTriggerName, eventTriggerStatements, mayCreateEventTriggersSql } from './postgres-event-trigger.ts'
import { quoteIdentifier as id, quoteLiteral as literal, type ItemStatement } from './postgres-statements.ts'

/**
 * The one table of what dbhook keeps in each PostgreSQL database beyond its existence and owner. Inspection
 * (its presence query), the planner (which items a configuration wants), the privilege check, the skipped-steps
 * report, apply and `dbhook sql` all read it: adding an item is adding an entry.
 */
export const postgresItems = {
  'public-schema-hardened': {
    role: 'owner',
    wanted: (config) => (config.app ? [{}] : []),
    describe: ({ owner, app }) =>
      `make schema public as PostgreSQL 15 has it: owned by ${JSON.stringify(owner)}, no CREATE for PUBLIC (so ${JSON.stringify(app)} cannot create tables)`,
    presence: `NOT EXISTS (
      SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
       WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')`,
    // From 15 schema public belongs to pg_database_owner, so the owner itself may take CREATE away from PUBLIC.
    requirement: (major) => (major >= 15 ? 'act-as-owner' : 'own-schema-public'),
    skipped: ({ facts }) =>
      facts.major <= 14 && !facts.superuser
        ? `on PostgreSQL ${facts.major} PUBLIC may create in schema public and only a superuser can change that; a DBA can run REVOKE CREATE ON SCHEMA public FROM PUBLIC in template1 and in each database`
        : undefined,
    statements: ({ owner }) => [
      {
        generate: `SELECT format('ALTER SCHEMA public OWNER TO %I', ${literal(owner)}) WHERE current_setting('server_version_num')::int < 150000`,
      },
      'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
    ],
  },
  'owner-schema-create': {
    role: 'owner',
    // Without an app role or extensions nothing needs a connection to each database, and inspection stays one
    // query however many databases are listed.
    wanted: (config) => (config.app || config.extensions.length > 0 ? [{}] : []),
    describe: ({ owner }) => `let ${JSON.stringify(owner)} create in schema public`,
    // Judged as the owner will find it: a database about to be handed over (or created) gets CREATE on public from
    // pg_database_owner, which owns schema public from PostgreSQL 15 (the role exists from 14).
    presence: `NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public')
      OR has_schema_privilege((SELECT name FROM owner_name), 'public', 'CREATE')
      OR CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_database_owner')
                   AND (SELECT datdba FROM pg_database WHERE datname = current_database()) IS DISTINCT FROM (SELECT oid FROM owner_role)
              THEN has_schema_privilege('pg_database_owner', 'public', 'CREATE') ELSE false END`,
    requirement: () => 'own-schema-public',
    // Only where it is missing: a database created in this run has it from creation (see the privilege check).
    statements: ({ owner }) => [
      {
        generate: `SELECT format('GRANT CREATE ON SCHEMA public TO %I', ${literal(owner)}) WHERE NOT has_schema_privilege(${literal(owner)}, 'public', 'CREATE')`,
      },
    ],
  },
  extension: {
    wanted: (config) => config.extensions.map((extension) => ({ extension })),
    describe: ({ extension }) => `create extension ${JSON.stringify(extension)}`,
    presence: `(SELECT coalesce(array_agg(extname::text), '{}') FROM pg_extension)`,
    present: (value, { extension }) => Array.isArray(value) && value.includes(extension),
    requirement: () => 'extension',
    statements: ({ extension }) => [`CREATE EXTENSION IF NOT EXISTS ${id(extension ?? '')}`],
  },
  'app-connect': {
    role: 'app',
    wanted: (config) => (config.app ? [{}] : []),
    describe: ({ app }) => `grant CONNECT to ${JSON.stringify(app)}`,
    presence: `$2::text IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
       WHERE d.datname = current_database() AND a.grantee = (SELECT oid FROM app_role) AND a.privilege_type = 'CONNECT')`,
    requirement: () => 'act-as-owner',
    statements: ({ database, app }) => [`GRANT CONNECT ON DATABASE ${id(database)} TO ${id(app)}`],
  },
  'app-schema-usage': {
    role: 'app',
    wanted: (config) => (config.app ? [{}] : []),
    describe: ({ app }) => `grant USAGE on the owner's schemas (and public) to ${JSON.stringify(app)}`,
    presence: `NOT EXISTS (SELECT 1 FROM schemas s WHERE NOT has_schema_privilege((SELECT name FROM app_name), s.oid, 'USAGE'))`,
    requirement: () => 'act-as-owner',
    statements: ({ owner, app }) => [
      {
        generate: `SELECT format('GRANT USAGE ON SCHEMA %I TO %I', s.nspname, ${literal(app)}) FROM (${userSchemas(literal(owner))}) s
                    WHERE NOT has_schema_privilege(${literal(app)}, s.oid, 'USAGE') ORDER BY s.nspname`,
      },
    ],
  },
  'app-table-privileges': {
    role: 'app',
    wanted: (config) => (config.app ? [{}] : []),
    describe: ({ app }) => `grant ${JSON.stringify(app)} SELECT/INSERT/UPDATE/DELETE on existing tables and USAGE/SELECT on sequences`,
    presence: `NOT EXISTS (
      SELECT 1 FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace, app_name a
       WHERE c.relowner = (SELECT oid FROM owner_role) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
         AND NOT CASE WHEN c.relkind = 'S'
                      THEN has_sequence_privilege(a.name, c.oid, 'USAGE') AND has_sequence_privilege(a.name, c.oid, 'SELECT')
                      ELSE has_table_privilege(a.name, c.oid, 'SELECT') AND has_table_privilege(a.name, c.oid, 'INSERT')
                       AND has_table_privilege(a.name, c.oid, 'UPDATE') AND has_table_privilege(a.name, c.oid, 'DELETE') END)`,
    requirement: () => 'act-as-owner',
    statements: ({ owner, app }) => [
      {
        generate: `SELECT g.sql FROM (${userSchemas(literal(owner))}) s, LATERAL (VALUES
                      (1, format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s.nspname, ${literal(app)})),
                      (2, format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s.nspname, ${literal(app)}))) g(n, sql)
                    ORDER BY s.nspname, g.n`,
      },
    ],
  },
  'app-default-privileges': {
    role: 'app',
    wanted: (config) => (config.app ? [{}] : []),
    describe: ({ owner, app }) =>
      `default privileges: tables, sequences and schemas ${JSON.stringify(owner)} creates later are usable by ${JSON.stringify(app)}`,
    presence: `$2::text IS NOT NULL AND (
      SELECT count(DISTINCT d.defaclobjtype::text || a.privilege_type) = 7
        FROM pg_default_acl d, aclexplode(d.defaclacl) a
       WHERE d.defaclrole = (SELECT oid FROM owner_role) AND d.defaclnamespace = 0
         AND a.grantee = (SELECT oid FROM app_role)
         AND (d.defaclobjtype::text, a.privilege_type) IN (('r', 'SELECT'), ('r', 'INSERT'), ('r', 'UPDATE'), ('r', 'DELETE'),
                                                    ('S', 'USAGE'), ('S', 'SELECT'), ('n', 'USAGE')))`,
    requirement: () => 'act-as-owner',
    statements: ({ owner, app }) => [
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${id(owner)} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${id(app)}`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${id(owner)} GRANT USAGE, SELECT ON SEQUENCES TO ${id(app)}`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${id(owner)} GRANT USAGE ON SCHEMAS TO ${id(app)}`,
    ],
  },
  'event-trigger': {
    role: 'app',
    wanted: (config) => (config.app && config.eventTrigger !== 'off' ? [{}] : []),
    describe: ({ app }) => `install the permission event trigger ${eventTriggerName} for ${JSON.stringify(app)}`,
    presence: `$2::text IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_event_trigger t
       WHERE t.evtname = ${literal(eventTriggerName)} AND t.evtenabled <> 'D'
         AND obj_description(t.evtfoid, 'pg_proc') = ${literal(eventTriggerComment(''))} || $2)`,
    requirement: () => 'event-triggers',
    skipped: ({ facts, eventTrigger, owner }) =>
      eventTrigger === 'auto' && !facts.mayCreateEventTriggers
        ? `${JSON.stringify(facts.user)} may not create event triggers (superuser, rds_superuser, cloudsqlsuperuser or alloydbsuperuser can); ALTER DEFAULT PRIVILEGES FOR ROLE ${JSON.stringify(owner)} covers the tables and sequences it creates`
        : undefined,
    // The DBA's script does in auto mode what apply does: installs the trigger where the DBA may, else nothing.
    scriptGuard: (eventTrigger) => (eventTrigger === 'auto' ? mayCreateEventTriggersSql : undefined),
    statements: ({ owner, app }) => eventTriggerStatements(app, owner),
  },
} as const satisfies Record<string, PostgresItemSpec>

/** The kinds of item dbhook keeps in a PostgreSQL database. */
export type PostgresItemKind = keyof typeof postgresItems

/** The names an item's text is made of; `app` and `extension` are empty where the item has none. */
export interface ItemNames {
  readonly database: string
  readonly owner: string
  readonly app: string
  readonly extension: string
}

/**
 * What the admin must be allowed for an item: act as the database owner (its statements run under SET LOCAL ROLE
 * owner), own schema public (it runs as the admin, and public belongs to the bootstrap superuser up to 14), create
 * event triggers (a superuser or a managed cloud's superuser role), or create the extension (trusted ones as the
 * owner, others as a superuser).
 */
type ItemRequirement = 'act-as-owner' | 'own-schema-public' | 'event-triggers' | 'extension'

/** What the skipped-steps report needs to know about the admin. */
interface SkipFacts {
  readonly user: string
  readonly major: number
  readonly superuser: boolean
  readonly mayCreateEventTriggers: boolean
}

export interface PostgresItemSpec {
  /** The role the item is about (its `DatabaseItem.role`), if any. */
  readonly role?: 'owner' | 'app'
  /** The instances a configuration asks for in every database: none, one (`{}`), or one per extension. */
  readonly wanted: (config: Config) => readonly { readonly extension?: string }[]
  /** What applying it does, for a person. */
  readonly describe: (names: ItemNames) => string
  /**
   * A column of the presence query: true when the item is in place ($1 the owner, $2 the app role; the CTEs
   * owner_role, app_role, owner_name, app_name and schemas are in scope). Items are judged as they will be once
   * the run is done: a role not created yet by PUBLIC's rights, which it will have.
   */
  readonly presence: string
  /** Reads the column; the default is `value === true`. */
  readonly present?: (value: unknown, names: ItemNames) => boolean
  readonly requirement: (major: number) => ItemRequirement
  /** Why the item is left out by design for this admin (a warning, not a refusal); undefined when it is not. */
  readonly skipped?: (context: { facts: SkipFacts; eventTrigger: EventTriggerMode; owner: string }) => string | undefined
  /** For `dbhook sql`: an SQL condition on the DBA's session under which the script runs the statements. */
  readonly scriptGuard?: (eventTrigger: EventTriggerMode) => string | undefined
  /** The idempotent statements that put it in place, the same for apply and `dbhook sql`. */
  readonly statements: (names: ItemNames) => readonly ItemStatement[]
}

/** The registry entry of an item the planner hands back. */
export function specOf(item: DatabaseItem): PostgresItemSpec {
  if (!Object.hasOwn(postgresItems, item.kind)) throw new Error(`unknown PostgreSQL database item ${JSON.stringify(item.kind)}`)
  return postgresItems[item.kind as PostgresItemKind]
}

/** The names of `item` in `database`, for its spec's functions. */
export function itemNames(item: DatabaseItem, database: string, owner: string): ItemNames {
  return { database, owner, app: item.role ?? '', extension: item.extension ?? '' }
}

/** The per-database items a configuration asks for, in the registry's order, which is the order they are applied. */
export function postgresDatabaseItems(config: Config): DatabaseItem[] {
  const owner = config.owner.name
  const app = config.app?.name
  return Object.entries(postgresItems).flatMap(([kind, spec]: [string, PostgresItemSpec]) =>
    spec.wanted(config).map(({ extension }): DatabaseItem => {
      const role = spec.role === 'owner' ? owner : spec.role === 'app' ? app : undefined
      const names = { database: '', owner, app: app ?? '', extension: extension ?? '' }
      return {
        id: extension === undefined ? kind : `${kind}:${extension}`,
        kind,
        description: spec.describe(names),
        ...(role === undefined ? {} : { role }),
        ...(extension === undefined ? {} : { extension }),
      }
    }),
  )
}

/** Schemas the app role works in: public and every schema the owner owns, never the system ones. */
export function userSchemas(ownerExpression: string): string {
  return `SELECT n.oid, n.nspname FROM pg_namespace n
   WHERE (n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = ${ownerExpression}) OR n.nspname = 'public')
     AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`
}
