import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf } from '../support/dbhook.ts'
import { runPsqlScript, startPostgres, testedMajors, type PostgresServer } from '../support/postgres.ts'

/** Connects as `user` to `database`, runs `work`, and always closes. */
async function as<T>(
  server: PostgresServer,
  user: string,
  password: string,
  database: string,
  work: (c: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ host: server.host, port: server.port, user, password, database })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (error) {
    return (error as { code?: string }).code
  }
}

/** What a migration does as the owner, then what the application does as the app role, in one database. */
async function migrateThenUse(
  server: PostgresServer,
  database: string,
  owner: string,
  app: string,
  options: { publicIsOpen?: boolean } = {},
) {
  await as(server, owner, 'owner-pw', database, async (c) => {
    // The Dex way: plain CREATE TABLE / CREATE INDEX by the owner in a fresh database.
    await c.query('CREATE TABLE IF NOT EXISTS clients (id serial PRIMARY KEY, name text NOT NULL)')
    await c.query('CREATE INDEX IF NOT EXISTS clients_name ON clients USING gin (name gin_trgm_ops)')
    await c.query('CREATE SEQUENCE IF NOT EXISTS ticket_seq')
    await c.query('CREATE SCHEMA IF NOT EXISTS audit')
    await c.query('CREATE TABLE IF NOT EXISTS audit.events (id bigint GENERATED ALWAYS AS IDENTITY, what text)')
  })
  await as(server, app, 'app-pw', database, async (c) => {
    await c.query("INSERT INTO clients (name) VALUES ('grafana')")
    await c.query("UPDATE clients SET name = 'grafana-2' WHERE name = 'grafana'")
    expect((await c.query('SELECT name FROM clients')).rows).toEqual([{ name: 'grafana-2' }])
    await c.query('DELETE FROM clients')
    expect((await c.query("SELECT nextval('ticket_seq') AS n")).rows[0].n).toBe('1')
    await c.query("INSERT INTO audit.events (what) VALUES ('login')")
    expect((await c.query('SELECT what FROM audit.events')).rows).toEqual([{ what: 'login' }])
    expect(Number((await c.query("SELECT similarity('dbhook', 'dbhooks') AS s")).rows[0].s)).toBeGreaterThan(0.5)
    // On 13/14 without a superuser, PUBLIC keeps CREATE on public (dbhook warns); everywhere else the app cannot create.
    if (!options.publicIsOpen) expect(await sqlState(c.query('CREATE TABLE intruder (x int)'))).toBe('42501')
    expect(await sqlState(c.query('DROP TABLE clients'))).toBe('42501')
  })
}

describe.each(testedMajors())('PostgreSQL %i: app role, default privileges, extensions, event trigger', (major) => {
  let server: PostgresServer
  let n = 0
  const fresh = (prefix: string) => `${prefix}_${++n}`

  beforeAll(async () => {
    server = await startPostgres(major)
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('with a superuser admin: everything, the event trigger included, and a second apply executes nothing', async () => {
    const owner = fresh('migrator')
    const app = fresh('app')
    const dbs = [fresh('flightctl'), fresh('dex')]
    const env = server.env('postgres', server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'owner-pw',
      DBHOOK_APP_USER: app,
      DBHOOK_APP_PASSWORD: 'app-pw',
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: dbs.join(','),
    })
    const result = await runDbhook(['apply'], env)
    expect(result.code, result.stdout).toBe(0)
    const triggers = await server.query('SELECT evtname FROM pg_event_trigger', [], { database: dbs[0] })
    expect(triggers).toEqual([{ evtname: 'dbhook_grant_app_permissions_v2' }])
    for (const db of dbs) await migrateThenUse(server, db, owner, app)
    expect(summaryOf(await runDbhook(['apply'], env))).toMatchObject({ statements: 0 })
    expect((await runDbhook(['plan'], env)).code).toBe(0)

    // The trigger never breaks the owner's DDL, even once the app role is gone, and says why it granted nothing.
    for (const db of dbs) await server.query(`DROP OWNED BY ${app}`, [], { database: db })
    await server.query(`DROP OWNED BY ${app}`)
    await server.query(`DROP ROLE ${app}`)
    const notices: string[] = []
    await as(server, owner, 'owner-pw', dbs[0]!, async (c) => {
      c.on('notice', (notice) => notices.push(`${notice.severity}: ${notice.message}`))
      await c.query('CREATE TABLE after_app_dropped (id serial PRIMARY KEY)')
    })
    expect(notices).toContain(
      `WARNING: dbhook: role ${app} does not exist, so it was granted no rights on public.after_app_dropped; dbhook apply creates it again, DROP EVENT TRIGGER dbhook_grant_app_permissions_v2 stops this`,
    )
    // The table and its sequence (created, then owned by the column): each warning names the missing role.
    expect(notices.filter((notice) => !notice.includes(`role ${app} does not exist`))).toEqual([])
  })

  test('with an admin that has CREATEDB and CREATEROLE: default privileges instead of the trigger, with a warning', async () => {
    const admin = fresh('provisioner')
    await server.query(`CREATE ROLE ${admin} LOGIN CREATEDB CREATEROLE PASSWORD 'admin-pw'`)
    const owner = fresh('migrator')
    const app = fresh('app')
    const dbs = [fresh('flightctl')]
    const env = server.env(admin, 'admin-pw', {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'owner-pw',
      DBHOOK_APP_USER: app,
      DBHOOK_APP_PASSWORD: 'app-pw',
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: dbs.join(','),
    })
    const result = await runDbhook(['apply'], env)
    expect(result.code, result.stdout).toBe(0)
    expect(result.stdout).toContain('may not create event triggers')
    expect(result.stdout).toContain('ALTER DEFAULT PRIVILEGES FOR ROLE')
    if (major <= 14) expect(result.stdout).toContain('REVOKE CREATE ON SCHEMA public FROM PUBLIC')
    for (const db of dbs) await migrateThenUse(server, db, owner, app, { publicIsOpen: major <= 14 })
    const again = await runDbhook(['apply'], env)
    expect(summaryOf(again), again.stdout).toMatchObject({ statements: 0 })
    expect((await runDbhook(['plan'], env)).code).toBe(0)

    const on = await runDbhook(['apply'], { ...env, DBHOOK_EVENT_TRIGGER: 'on' })
    expect(on.code).toBe(77)
    expect(on.stdout).toContain('superuser')
  })

  test('with an admin that has only CREATEDB, owner and app roles made by a DBA beforehand', async () => {
    const admin = fresh('createdb_only')
    const owner = fresh('migrator')
    const app = fresh('app')
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner-pw'`)
    await server.query(`CREATE ROLE ${app} LOGIN PASSWORD 'app-pw'`)
    await server.query(`CREATE ROLE ${admin} LOGIN CREATEDB PASSWORD 'admin-pw'`)
    await server.query(`GRANT ${owner} TO ${admin}`)
    const dbs = [fresh('flightctl'), fresh('dex')]
    const env = server.env(admin, 'admin-pw', {
      DBHOOK_OWNER: owner,
      DBHOOK_APP_USER: app,
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: dbs.join(','),
    })
    const result = await runDbhook(['apply'], env)
    expect(result.code, result.stdout).toBe(0)
    for (const db of dbs) await migrateThenUse(server, db, owner, app, { publicIsOpen: major <= 14 })
    expect(summaryOf(await runDbhook(['apply'], env))).toMatchObject({ statements: 0 })
  })

  test('grants reach tables that existed before dbhook ran', async () => {
    const owner = fresh('legacy_owner')
    const app = fresh('app')
    const db = fresh('legacy')
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner-pw'`)
    await server.query(`CREATE DATABASE ${db} OWNER ${owner}`)
    await as(server, owner, 'owner-pw', db, (c) => c.query('CREATE TABLE old_table (id serial PRIMARY KEY)'))
    const env = server.env('postgres', server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_APP_USER: app,
      DBHOOK_APP_PASSWORD: 'app-pw',
      DBHOOK_EVENT_TRIGGER: 'off',
      DBHOOK_DATABASES: db,
    })
    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(2)
    expect(plan.stdout).toContain('on existing tables')
    expect((await runDbhook(['apply'], env)).code).toBe(0)
    await as(server, app, 'app-pw', db, (c) => c.query('INSERT INTO old_table DEFAULT VALUES'))
    expect(await server.query('SELECT evtname FROM pg_event_trigger', [], { database: db })).toEqual([])
  })

  test('the SQL from `dbhook sql`, run by a DBA with psql, leaves what apply would', async () => {
    const owner = fresh('dba_owner')
    const app = fresh('dba_app')
    const dbs = [fresh('dba_db')]
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner-pw'`)
    await server.query(`CREATE ROLE ${app} LOGIN PASSWORD 'app-pw'`)
    const settings = {
      DBHOOK_OWNER: owner,
      DBHOOK_APP_USER: app,
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_EVENT_TRIGGER: 'off',
      DBHOOK_DATABASES: dbs.join(','),
    }
    const sql = await runDbhook(['sql'], settings)
    expect(sql.code, sql.stderr).toBe(0)
    const psql = await runPsqlScript(server, sql.stdout)
    expect(psql.code, psql.output).toBe(0)
    const plan = await runDbhook(['plan'], server.env('postgres', server.password, settings))
    expect(plan.code, plan.stdout).toBe(0)
    for (const db of dbs) await migrateThenUse(server, db, owner, app)
  })
})
