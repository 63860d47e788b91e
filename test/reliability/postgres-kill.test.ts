import { existsSync } from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf, type RunResult } from '../support/dbhook.ts'
import { StatementReader } from '../support/pg-statements.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { canActAs } from '../support/postgres-catalog.ts'
import { leastPrivilegeMajors } from './helpers.ts'
import { leastPrivilegeAdmin, type Admin } from './postgres-cases.ts'
import { ms, ReliabilityReport } from './report.ts'

const majors = leastPrivilegeMajors()
const report = new ReliabilityReport(
  '25-postgres-kill',
  'PostgreSQL: SIGKILL at every statement boundary (admin with CREATEDB and CREATEROLE)',
  25,
)
report.server = `PostgreSQL ${majors.join(' and ')}`

afterAll(async () => {
  await report.write()
})

// openZro's four databases, its runtime owner, an app user and a trusted extension. DBHOOK_PARALLEL=1 sends the
// statements one at a time in the same order on every run, so "the k-th statement" is the same one each time.
const owner = 'openzro'
const app = 'openzro_app'
const databases = { management: 'openzro', flow: 'openzro_flow', activity: 'openzro_activity', dex: 'dex' }
const names = Object.values(databases)
const settings = {
  DBHOOK_OWNER: owner,
  DBHOOK_OWNER_PASSWORD: 'kill-owner-pw-1',
  DBHOOK_APP_USER: app,
  DBHOOK_APP_PASSWORD: 'kill-app-pw-1',
  DBHOOK_EXTENSIONS: 'pg_trgm',
  DBHOOK_DATABASES: Object.entries(databases)
    .map(([key, name]) => `${key}=${name}`)
    .join(','),
  DBHOOK_PARALLEL: '1',
  DBHOOK_WAIT_TIMEOUT: '60s',
}

describe.each(majors)('PostgreSQL %i: dbhook killed with SIGKILL after each statement of an apply', (major) => {
  let server: PostgresServer
  let proxy: TcpProxy
  let admin: Admin
  // One superuser session for the checks between runs (a connection per check would cost more than the runs).
  let su: pg.Client
  const rows = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await su.query<T>(sql, params)).rows

  beforeAll(async () => {
    // Every kill point creates four databases: on tmpfs that is a matter of milliseconds even on a busy disk.
    server = await startPostgres(major, { parentDir: existsSync('/dev/shm') ? '/dev/shm' : undefined })
    proxy = await startTcpProxy(server)
    admin = await leastPrivilegeAdmin(server)
    su = new pg.Client({ host: server.host, port: server.port, user: server.superuser, password: server.password, database: 'postgres' })
    await su.connect()
  })
  afterAll(async () => {
    await su?.end()
    await proxy?.close()
    await server?.stop()
  })

  const direct = () => server.env(admin.user, admin.password, settings)
  const viaProxy = () => ({ ...direct(), DBHOOK_HOST: proxy.host, DBHOOK_PORT: String(proxy.port) })

  /** Back to a server without the databases and roles, as before a first install. */
  async function reset(): Promise<void> {
    for (const name of names) await su.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
    for (const role of [app, owner]) await su.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`)
  }

  /** Waits until the killed dbhook's sessions are gone from the server, and with them any transaction it had open. */
  async function sessionsGone(): Promise<void> {
    for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 20))) {
      const n = (await rows<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'dbhook'"))[0]?.n
      if (n === 0) return
      if (Date.now() - started > 10_000) throw new Error(`${n} sessions of the killed dbhook still open after 10 s`)
    }
  }

  /** Whether the admin can act as the owner (SET on 16+, membership before): a lent membership left behind. */
  async function adminActsAsOwner(): Promise<boolean> {
    return canActAs({ major, query: rows }, admin.user, owner)
  }

  /**
   * The admin's memberships, except PostgreSQL 16+'s own ADMIN-only grant to the role that created a role
   * (grantor the bootstrap superuser, no SET, no INHERIT): that one is not lent and lets the admin act as nobody.
   */
  async function adminMemberships(): Promise<string[]> {
    const found = await rows<{ line: string }>(
      `SELECT m.roleid::regrole::text || ' grantor=' || m.grantor::regrole::text || ' admin=' || m.admin_option
              || ' inherit=' || coalesce(to_jsonb(m) ->> 'inherit_option', '-') || ' set=' || coalesce(to_jsonb(m) ->> 'set_option', '-') AS line
         FROM pg_auth_members m
        WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)
          AND NOT (m.grantor = 10 AND m.admin_option AND to_jsonb(m) ->> 'set_option' = 'false' AND to_jsonb(m) ->> 'inherit_option' = 'false')
        ORDER BY 1`,
      [admin.user],
    )
    return found.map((r) => r.line)
  }

  /**
   * What a person would compare after a run: databases with owners and ACLs, the roles with their attributes and
   * memberships, and in each database the schema ACLs, default ACLs, extensions and event triggers.
   */
  async function catalogState(): Promise<unknown> {
    const sorted = (column: string) => `CASE WHEN ${column} IS NULL THEN NULL ELSE ARRAY(SELECT unnest(${column})::text ORDER BY 1) END`
    const global = await rows(
      `SELECT json_build_object(
         'databases', (SELECT json_agg(json_build_object('name', datname, 'owner', pg_get_userbyid(datdba), 'acl', ${sorted('datacl')}) ORDER BY datname)
                         FROM pg_database WHERE datname = ANY($1)),
         'roles', (SELECT json_agg(json_build_object('name', r.rolname, 'super', r.rolsuper, 'inherit', r.rolinherit, 'createrole', r.rolcreaterole,
                                                     'createdb', r.rolcreatedb, 'login', r.rolcanlogin, 'replication', r.rolreplication,
                                                     'connlimit', r.rolconnlimit, 'bypassrls', r.rolbypassrls, 'password', a.rolpassword IS NOT NULL) ORDER BY r.rolname)
                     FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = ANY($2)),
         'memberships', (SELECT json_agg(json_build_object('role', m.roleid::regrole::text, 'member', m.member::regrole::text, 'grantor', m.grantor::regrole::text,
                                                           'admin', m.admin_option, 'inherit', to_jsonb(m) ->> 'inherit_option', 'set', to_jsonb(m) ->> 'set_option')
                                         ORDER BY m.roleid::regrole::text, m.member::regrole::text, m.grantor::regrole::text)
                           FROM pg_auth_members m
                          WHERE m.roleid IN (SELECT oid FROM pg_roles WHERE rolname = ANY($2)) OR m.member IN (SELECT oid FROM pg_roles WHERE rolname = ANY($2)))
       ) AS state`,
      [names, [owner, app, admin.user]],
    )
    const inside: Record<string, unknown> = {}
    for (const name of names) {
      const state = await server.query(
        `SELECT json_build_object(
           'schemas', (SELECT json_agg(json_build_object('name', nspname, 'owner', pg_get_userbyid(nspowner), 'acl', ${sorted('nspacl')}) ORDER BY nspname)
                         FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'),
           'defaultAcls', (SELECT json_agg(json_build_object('role', pg_get_userbyid(defaclrole), 'schema', CASE WHEN defaclnamespace = 0 THEN NULL ELSE defaclnamespace::regnamespace::text END,
                                                             'type', defaclobjtype, 'acl', ${sorted('defaclacl')}) ORDER BY pg_get_userbyid(defaclrole), defaclnamespace, defaclobjtype)
                             FROM pg_default_acl),
           'extensions', (SELECT json_agg(json_build_object('name', extname, 'owner', pg_get_userbyid(extowner), 'version', extversion, 'schema', extnamespace::regnamespace::text) ORDER BY extname)
                            FROM pg_extension),
           'eventTriggers', (SELECT json_agg(json_build_object('name', evtname, 'owner', pg_get_userbyid(evtowner), 'function', evtfoid::regprocedure::text, 'enabled', evtenabled) ORDER BY evtname)
                               FROM pg_event_trigger)
         ) AS state`,
        [],
        { database: name },
      )
      inside[name] = state[0]?.state
    }
    // Both roles log in with the configured passwords (a verifier's salt differs from run to run, so compare logins).
    const logins: Record<string, boolean> = {}
    for (const [role, password] of [
      [owner, settings.DBHOOK_OWNER_PASSWORD],
      [app, settings.DBHOOK_APP_PASSWORD],
    ] as const) {
      logins[role] = await server.query('SELECT 1', [], { user: role, password, database: databases.dex }).then(
        () => true,
        () => false,
      )
    }
    return { global: global[0]?.state, inside, logins }
  }

  /**
   * Runs apply through the proxy; with `killAfter` = k, dbhook is killed with SIGKILL the moment it sends its
   * (k+1)-th statement, which the server never gets: statements 1..k have completed, k+1 never starts.
   */
  async function applyKilledAfter(killAfter: number | undefined): Promise<{ run: RunResult; statements: string[]; killed: boolean }> {
    const statements: string[] = []
    const readers = new Map<number, StatementReader>()
    let pid: number | undefined
    let killed = false
    proxy.cutWhen = (chunk, connection) => {
      if (killed) return true
      const reader = readers.get(connection.index) ?? new StatementReader()
      readers.set(connection.index, reader)
      for (const sql of reader.push(chunk)) {
        if (killAfter !== undefined && statements.length === killAfter) {
          process.kill(pid!, 'SIGKILL')
          killed = true
          return true
        }
        statements.push(sql)
      }
      return false
    }
    try {
      const run = await runDbhook(['apply'], viaProxy(), { onSpawn: (p) => (pid = p), timeoutMs: 120_000 })
      return { run, statements, killed }
    } finally {
      proxy.cutWhen = undefined
    }
  }

  test('databases someone created as the admin (what a kill between CREATE DATABASE and the hand-over leaves) are handed over as if fresh', async () => {
    await report.measure(`PostgreSQL ${major}: the four databases made by hand, owned by the admin, roles missing`, async () => {
      await reset()
      const fresh = await runDbhook(['apply'], direct())
      expect(fresh.code, fresh.stdout).toBe(0)
      const expected = await catalogState()

      await reset()
      for (const name of names) {
        await server.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`, [], { user: admin.user, password: admin.password })
      }
      const plan = await runDbhook(['plan'], direct())
      expect(plan.code, plan.stdout).toBe(2)
      const planned = plan.logs.filter((line) => typeof line.step === 'string').map((line) => String(line.msg))
      for (const [key, name] of Object.entries(databases)) {
        expect(planned).toContain(
          `plan: ${key}: change the owner of ${JSON.stringify(name)} from ${JSON.stringify(admin.user)} to ${JSON.stringify(owner)}`,
        )
      }
      const apply = await runDbhook(['apply'], direct())
      expect(apply.code, apply.stdout).toBe(0)
      expect(summaryOf(apply)?.databases.map((d) => d.result)).toEqual(['owner-fixed', 'owner-fixed', 'owner-fixed', 'owner-fixed'])
      expect(await catalogState()).toEqual(expected)
      expect(await adminMemberships()).toEqual([])
      // What plan showed is what apply did: every planned step has its log line in the apply.
      const done = new Set(apply.logs.map((line) => String(line.msg)))
      expect(planned.map((line) => line.replace(/^plan: /, '')).filter((line) => !done.has(line))).toEqual([])
      const again = await runDbhook(['apply'], direct())
      expect(summaryOf(again), again.stdout).toMatchObject({ statements: 0 })
      return {
        runs: 4,
        figures: `plan: exit 2, ${planned.length} steps (the roles, 4 changes of owner from the admin, the missing items); apply: exit 0, every planned step done, 4 x owner-fixed, catalog state equal to a fresh run's; re-run 0 statements`,
      }
    })
  })

  test('after a kill at any statement no lent membership is left, the next run converges and the one after executes nothing', async () => {
    await report.measure(
      `PostgreSQL ${major}: SIGKILL after each statement of an openZro apply (4 databases, app user, pg_trgm), then two applies`,
      async () => {
        const started = Date.now()
        await reset()
        const before = await adminMemberships()
        const baseline = await applyKilledAfter(undefined)
        expect(baseline.run.code, baseline.run.stdout).toBe(0)
        const total = baseline.statements.length
        // The run does lend: the admin is neither superuser nor a member of the owner it creates.
        const lendings = baseline.statements.filter((sql) => /^GRANT .* TO CURRENT_USER/.test(sql)).length
        expect(lendings).toBeGreaterThan(0)
        const expected = await catalogState()
        expect(await adminMemberships()).toEqual(before)
        const settled = await runDbhook(['apply'], direct())
        expect(summaryOf(settled), settled.stdout).toMatchObject({ statements: 0 })

        // Kill points at which the killed run held a lent membership: after a GRANT ... TO CURRENT_USER, before its REVOKE.
        let holding = false
        const heldAt = baseline.statements.map(
          (sql) => (holding = /^GRANT .* TO CURRENT_USER/.test(sql) || (holding && !/^REVOKE .* FROM CURRENT_USER/.test(sql))),
        )
        let whileLent = 0
        let leftOwnedByAdmin = 0
        for (let k = 0; k < total; k += 1) {
          await reset()
          const killed = await applyKilledAfter(k)
          const at = `killed after statement ${k} of ${total} (next: ${baseline.statements[k]!.replace(/ PASSWORD '.*/, ' PASSWORD …').slice(0, 60)})`
          expect(killed.killed, at).toBe(true)
          expect(killed.run.signal, at).toBe('SIGKILL')
          if (k > 0 && heldAt[k - 1]) whileLent += 1
          // Its sessions end on the server, and with them any transaction it had open.
          await sessionsGone()
          expect(await adminMemberships(), at).toEqual(before)
          expect(await adminActsAsOwner(), at).toBe(false)

          const second = await runDbhook(['apply'], direct())
          expect(second.code, `${at}: ${second.stdout}`).toBe(0)
          expect(await catalogState(), at).toEqual(expected)
          expect(await adminMemberships(), at).toEqual(before)
          const third = await runDbhook(['apply'], direct())
          expect(summaryOf(third), `${at}: ${third.stdout}`).toMatchObject({ statements: 0 })
          if (summaryOf(second)!.databases.some((d) => d.result === 'owner-fixed')) leftOwnedByAdmin += 1
        }
        expect(whileLent).toBeGreaterThan(0)
        const took = Date.now() - started
        return {
          runs: 2 + total * 3,
          figures:
            `${total} kill points (after each statement of the apply; ${whileLent} while a lent membership was held); after each: no membership of the admin left, ` +
            `the second apply exit 0 with the uninterrupted run's catalog state (handing over databases the kill left owned by the admin after ${leftOwnedByAdmin} of them), ` +
            `the third 0 statements; ${ms(took)} in all, ${ms(took / total)} per kill point`,
        }
      },
    )
  }, 1_800_000)
})
