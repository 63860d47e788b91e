import type pg from 'pg'
import { mayCreateEventTriggersSql } from './postgres-event-trigger.ts'
import type { DesiredState, ObservedRole, ObservedState, ObservedDatabase } from '../../plan.ts'

/** What the admin may do, and what the server is: inputs to the privilege check, read in the same query. */
export interface AdminFacts {
  readonly user: string
  readonly major: number
  readonly passwordEncryption: string
  readonly superuser: boolean
  readonly createdb: boolean
  readonly createrole: boolean
  /** Superuser, or a member of a managed cloud's superuser role (rds_superuser, cloudsqlsuperuser, alloydbsuperuser). */
  readonly mayCreateEventTriggers: boolean
  /** Requested extensions the server has, by name: whether a database owner may create them (trusted). */
  readonly extensions: ReadonlyMap<string, { readonly trusted: boolean }>
  /** Per role the admin relates to (listed roles and current owners of listed databases). */
  readonly roles: ReadonlyMap<string, RoleRelation>
}

interface RoleRelation {
  readonly superuser: boolean
  /** Member (up to 15) or able to SET ROLE (16+): enough to create or hand over a database owned by it. */
  readonly canActAs: boolean
  /** The admin may grant this role, so it can give itself `canActAs` for one run. */
  readonly canGrant: boolean
}

export interface Inspection {
  readonly observed: ObservedState
  readonly facts: AdminFacts
}

// One round trip whatever the number of databases: the listed databases and roles come in as arrays.
// pg_has_role(..., 'SET') exists only from 16; CASE keeps older servers from evaluating it.
const inspectionQuery = `
WITH facts AS (
  SELECT current_setting('server_version_num')::int AS version_num
)
SELECT
  current_user AS "user",
  (SELECT version_num FROM facts) AS "versionNum",
  current_setting('password_encryption') AS "passwordEncryption",
  me.rolsuper AS superuser, me.rolcreatedb AS createdb, me.rolcreaterole AS createrole,
  ${mayCreateEventTriggersSql} AS "mayCreateEventTriggers",
  (SELECT coalesce(json_agg(json_build_object('name', v.name, 'trusted', v.trusted)), '[]')
     FROM pg_available_extension_versions v JOIN pg_available_extensions e ON e.name = v.name AND e.default_version = v.version
    WHERE v.name = ANY($3::text[])) AS extensions,
  (SELECT coalesce(json_agg(json_build_object('name', d.datname, 'owner', o.rolname)), '[]')
     FROM pg_database d JOIN pg_roles o ON o.oid = d.datdba
    WHERE d.datname = ANY($1::text[])) AS databases,
  (SELECT coalesce(json_agg(json_build_object(
            'name', r.rolname,
            'superuser', r.rolsuper,
            'canActAs', CASE WHEN (SELECT version_num FROM facts) >= 160000
                             THEN pg_has_role(current_user, r.oid, 'SET')
                             ELSE pg_has_role(current_user, r.oid, 'MEMBER') END,
            'canGrant', pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION'))), '[]')
     FROM pg_roles r
    WHERE r.rolname = ANY($2::text[])
       OR r.oid IN (SELECT datdba FROM pg_database WHERE datname = ANY($1::text[]))) AS roles
FROM pg_roles me
WHERE me.rolname = current_user`

interface InspectionRow {
  user: string
  versionNum: number
  passwordEncryption: string
  superuser: boolean
  createdb: boolean
  createrole: boolean
  mayCreateEventTriggers: boolean
  extensions: { name: string; trusted: boolean }[]
  databases: { name: string; owner: string }[]
  roles: { name: string; superuser: boolean; canActAs: boolean; canGrant: boolean }[]
}

/**
 * Reads the listed databases with their owners, the listed roles, and the admin's own attributes in one query.
 * `passwordWorks` is the result of login attempts with the given passwords, made at the same time.
 */
export async function inspectServer(
  client: pg.Client,
  desired: DesiredState,
  passwordWorks: Promise<ReadonlyMap<string, boolean>>,
  extensions: readonly string[],
): Promise<Inspection> {
  const result = await client.query<InspectionRow>(inspectionQuery, [
    desired.databases.map((db) => db.name),
    desired.roles.map((role) => role.name),
    extensions,
  ])
  const row = result.rows[0]
  if (!row) throw new Error('the inspection query returned no row: the admin role is not in pg_roles')
  const passwords = await passwordWorks

  const roles = new Map<string, ObservedRole>()
  const relations = new Map<string, RoleRelation>()
  for (const role of row.roles) {
    relations.set(role.name, { superuser: role.superuser, canActAs: role.canActAs || role.name === row.user, canGrant: role.canGrant })
    if (desired.roles.some((r) => r.name === role.name)) roles.set(role.name, { passwordWorks: passwords.get(role.name) })
  }
  const databases = new Map<string, ObservedDatabase>()
  for (const db of row.databases) databases.set(db.name, { owner: db.owner, present: new Set() })

  return {
    observed: { roles, databases },
    facts: {
      user: row.user,
      major: Math.floor(row.versionNum / 10000),
      passwordEncryption: row.passwordEncryption,
      superuser: row.superuser,
      createdb: row.createdb,
      createrole: row.createrole,
      mayCreateEventTriggers: row.mayCreateEventTriggers,
      extensions: new Map(row.extensions.map((e) => [e.name, { trusted: e.trusted }])),
      roles: relations,
    },
  }
}
