import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgresItems, type PostgresItemKind, type PostgresItemSpec } from '../../src/engines/postgres/postgres-items.ts'
import { eventTriggerName } from '../../src/engines/postgres/postgres-event-trigger.ts'
import { runDbhook, stepLines, summaryOf } from '../support/dbhook.ts'
import { runPsqlScript, startPostgres, type PostgresServer } from '../support/postgres.ts'

interface Names {
  readonly major: number
  readonly database: string
  readonly owner: string
  readonly app: string
}

/**
 * How a DBA's hand takes each registry item away again, run as the superuser in the database. Typed by the
 * registry: an item added there without a way to remove it here fails `tsc`, so every item is tested.
 */
const removals: Record<PostgresItemKind, (names: Names) => string[]> = {
  'public-schema-hardened': () => ['GRANT CREATE ON SCHEMA public TO PUBLIC'],
  // Up to 14 dbhook made the owner own schema public; from 15 it has CREATE there through pg_database_owner.
  'owner-schema-create': ({ major, owner }) =>
    major >= 15
      ? ['REVOKE CREATE ON SCHEMA public FROM pg_database_owner', `REVOKE CREATE ON SCHEMA public FROM ${owner}`]
      : [
          'ALTER SCHEMA public OWNER TO postgres',
          'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
          `REVOKE CREATE ON SCHEMA public FROM ${owner}`,
        ],
  extension: () => ['DROP EXTENSION pg_trgm'],
  'app-connect': ({ database, app }) => [`REVOKE CONNECT ON DATABASE ${database} FROM ${app}`],
  'app-schema-usage': ({ app }) => [`REVOKE USAGE ON SCHEMA audit FROM ${app}`],
  'app-table-privileges': ({ app }) => [`REVOKE ALL ON TABLE audit.events FROM ${app}`],
  'app-default-privileges': ({ owner, app }) => [`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} REVOKE USAGE ON SCHEMAS FROM ${app}`],
  'event-trigger': () => [`DROP EVENT TRIGGER ${eventTriggerName}`],
}

describe.each([13, 18])('PostgreSQL %i: the item registry', (major) => {
  let server: PostgresServer
  let n = 0
  const fresh = (prefix: string) => `${prefix}_${++n}`

  beforeAll(async () => {
    server = await startPostgres(major)
    await server.query("CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD 'provisioner-pw'")
  })
  afterAll(async () => {
    await server?.stop()
  })

  /**
   * An openZro/Flight Control style configuration, applied by `admin` (the superuser by default), with a schema
   * and a table the owner made since.
   */
  async function provisioned(admin = { user: server.superuser, password: server.password }) {
    const names = { major, database: fresh('flightctl'), owner: fresh('migrator'), app: fresh('app') }
    const env = server.env(admin.user, admin.password, {
      DBHOOK_OWNER: names.owner,
      DBHOOK_OWNER_PASSWORD: 'owner-pw',
      DBHOOK_APP_USER: names.app,
      DBHOOK_APP_PASSWORD: 'app-pw',
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: names.database,
    })
    const applied = await runDbhook(['apply'], env)
    expect(applied.code, applied.stdout).toBe(0)
    await server.query('CREATE SCHEMA audit', [], { database: names.database, user: names.owner, password: 'owner-pw' })
    await server.query('CREATE TABLE audit.events (id serial PRIMARY KEY, what text)', [], {
      database: names.database,
      user: names.owner,
      password: 'owner-pw',
    })
    expect((await runDbhook(['plan'], env)).code).toBe(0)
    return { names, env }
  }

  /** Provisioned by `admin`, then `kind` removed by hand: plan exits 2 naming exactly that item. */
  async function removedAndPlanned(kind: PostgresItemKind, admin?: { user: string; password: string }) {
    const { names, env } = await provisioned(admin)
    for (const sql of removals[kind](names)) await server.query(sql, [], { database: names.database })
    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(2)
    expect(stepLines(plan)).toEqual([`${names.database}: ${postgresItems[kind].describe({ ...names, extension: 'pg_trgm' })}`])
    return { env, plan }
  }

  test.each(Object.keys(postgresItems) as PostgresItemKind[])(
    '%s: plan finds it missing once removed, apply restores it, plan is in sync',
    async (kind) => {
      const { env, plan } = await removedAndPlanned(kind)

      const apply = await runDbhook(['apply'], env)
      expect(apply.code, apply.stdout).toBe(0)
      expect(stepLines(apply)).toEqual(stepLines(plan))
      expect(summaryOf(apply)?.statements).toBeGreaterThan(0)
      const again = await runDbhook(['plan'], env)
      expect(again.code, again.stdout).toBe(0)
    },
  )

  /** What the registry says becomes of an item for a CREATEDB+CREATEROLE admin in auto mode. */
  const provisioner = { user: 'provisioner', password: 'provisioner-pw' }
  const skipReason = (kind: PostgresItemKind, owner: string) =>
    (postgresItems[kind] as PostgresItemSpec).skipped?.({
      facts: { user: provisioner.user, major, superuser: false, mayCreateEventTriggers: false },
      eventTrigger: 'auto',
      owner,
    })
  const kinds = Object.keys(postgresItems) as PostgresItemKind[]
  const skippedKinds = kinds.filter((kind) => skipReason(kind, 'o') !== undefined)
  const actingKinds = kinds.filter((kind) => !skippedKinds.includes(kind))
  const restoredKinds = actingKinds.filter((kind) => ['act-as-owner', 'extension'].includes(postgresItems[kind].requirement(major)))
  const refusedKinds = actingKinds.filter((kind) => !restoredKinds.includes(kind))

  test('without a superuser every fate is exercised: some items skipped, some refused, the rest restored', () => {
    expect(skippedKinds).toContain('event-trigger')
    expect(refusedKinds).toEqual(['owner-schema-create'])
    expect(restoredKinds.length).toBeGreaterThanOrEqual(5)
  })

  test.each(skippedKinds)('%s with a CREATEDB+CREATEROLE admin: left out, and plan says why', async (kind) => {
    const { names, env } = await provisioned(provisioner)
    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(0)
    const description = postgresItems[kind].describe({ ...names, extension: 'pg_trgm' })
    expect(plan.logs.map((line) => line.msg)).toContain(
      `plan: ${names.database}: ${description} will be skipped: ${skipReason(kind, names.owner)}`,
    )
  })

  test.each(refusedKinds)('%s with a CREATEDB+CREATEROLE admin: removed, apply refuses with 77 and changes nothing', async (kind) => {
    const { env, plan } = await removedAndPlanned(kind, provisioner)
    const apply = await runDbhook(['apply'], env)
    expect(apply.code, apply.stdout).toBe(77)
    expect(stepLines(apply)).toEqual([])
    expect((await runDbhook(['plan'], env)).code).toBe(2)
  })

  test.each(restoredKinds)('%s with a CREATEDB+CREATEROLE admin: removed, apply restores it as the owner', async (kind) => {
    const { env, plan } = await removedAndPlanned(kind, provisioner)
    const apply = await runDbhook(['apply'], env)
    expect(apply.code, apply.stdout).toBe(0)
    expect(stepLines(apply)).toEqual(stepLines(plan))
    expect((await runDbhook(['plan'], env)).code).toBe(0)
  })

  test('apply does the steps plan shows, step for step: a new database, one with drift, new roles', async () => {
    const { names } = await provisioned()
    const created = fresh('dex')
    await server.query(`REVOKE CONNECT ON DATABASE ${names.database} FROM ${names.app}`)
    await server.query(`DROP EVENT TRIGGER ${eventTriggerName}`, [], { database: names.database })
    const env = server.env(server.superuser, server.password, {
      DBHOOK_OWNER: names.owner,
      DBHOOK_OWNER_PASSWORD: 'owner-pw',
      DBHOOK_APP_USER: fresh('reader'),
      DBHOOK_APP_PASSWORD: 'reader-pw',
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: `${names.database},${created}`,
    })
    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(2)
    expect(stepLines(plan).length).toBeGreaterThan(5)
    const apply = await runDbhook(['apply'], env)
    expect(apply.code, apply.stdout).toBe(0)
    // Databases are worked on in parallel, so the lines are compared as sets of the same length.
    expect([...stepLines(apply)].sort()).toEqual([...stepLines(plan)].sort())
    expect((await runDbhook(['plan'], env)).code).toBe(0)
  })

  test('dbhook sql piped into psql by a superuser DBA makes the same databases: plan is then in sync', async () => {
    const owner = fresh('migrator')
    const app = fresh('app')
    const databases = [fresh('flightctl'), fresh('alerts')]
    // The owner and its first database exist already, with a second schema and a table of the owner's in it.
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner-pw'`)
    await server.query(`CREATE DATABASE ${databases[0]} OWNER ${owner}`)
    await server.query('CREATE SCHEMA audit', [], { database: databases[0], user: owner, password: 'owner-pw' })
    await server.query('CREATE TABLE audit.events (id serial PRIMARY KEY, what text)', [], {
      database: databases[0],
      user: owner,
      password: 'owner-pw',
    })
    const config = {
      DBHOOK_OWNER: owner,
      DBHOOK_APP_USER: app,
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_EVENT_TRIGGER: 'on',
      DBHOOK_DATABASES: databases.join(','),
    }

    const script = await runDbhook(['sql'], config)
    expect(script.code, script.stderr).toBe(0)
    for (let run = 1; run <= 2; run += 1) {
      const result = await runPsqlScript(server, script.stdout)
      expect(result.code, `psql run ${run}: ${result.output}`).toBe(0)
    }

    // No passwords given: dbhook checks what exists and does not try to log in as the roles.
    const plan = await runDbhook(['plan'], server.env(server.superuser, server.password, config))
    expect(plan.code, plan.stdout).toBe(0)
    expect(stepLines(plan)).toEqual([])

    // What a user checks: the app role reads the owner's table in the second schema.
    await server.query(`ALTER ROLE ${app} PASSWORD 'app-pw'`)
    await server.query("INSERT INTO audit.events (what) VALUES ('login')", [], {
      database: databases[0],
      user: owner,
      password: 'owner-pw',
    })
    expect(await server.query('SELECT what FROM audit.events', [], { database: databases[0], user: app, password: 'app-pw' })).toEqual([
      { what: 'login' },
    ])
  })
})

describe('PostgreSQL 18: dbhook sql in auto mode, by a DBA who may not create event triggers', () => {
  let server: PostgresServer
  beforeAll(async () => {
    server = await startPostgres(18)
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('the script leaves the trigger out where apply would skip it, and plan is in sync for that DBA', async () => {
    // A provisioning DBA as on a managed server: CREATEDB, a member of the owner, no superuser.
    await server.query("CREATE ROLE dba LOGIN CREATEDB PASSWORD 'dba-pw'")
    await server.query("CREATE ROLE migrator LOGIN PASSWORD 'owner-pw'")
    await server.query("CREATE ROLE app LOGIN PASSWORD 'app-pw'")
    await server.query('GRANT migrator TO dba')
    const config = { DBHOOK_OWNER: 'migrator', DBHOOK_APP_USER: 'app', DBHOOK_EXTENSIONS: 'pg_trgm', DBHOOK_DATABASES: 'flightctl' }
    const script = await runDbhook(['sql'], config)
    expect(script.code, script.stderr).toBe(0)
    const psql = await runPsqlScript({ ...server, superuser: 'dba', password: 'dba-pw' }, script.stdout)
    expect(psql.code, psql.output).toBe(0)
    expect(await server.query('SELECT evtname FROM pg_event_trigger', [], { database: 'flightctl' })).toEqual([])

    const plan = await runDbhook(['plan'], server.env('dba', 'dba-pw', config))
    expect(plan.code, plan.stdout).toBe(0)
    expect(plan.logs.some((line) => line.level === 'warn' && String(line.msg).includes('may not create event triggers'))).toBe(true)

    // The same script run by a superuser installs it, as apply would.
    expect((await runPsqlScript(server, script.stdout)).code).toBe(0)
    expect(await server.query('SELECT evtname FROM pg_event_trigger', [], { database: 'flightctl' })).toEqual([
      { evtname: eventTriggerName },
    ])
  })
})
