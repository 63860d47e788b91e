import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf, type RunResult } from '../support/dbhook.ts'
import { startPgBouncer, type PgBouncer, type PoolMode } from '../support/pgbouncer.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { leastPrivilegeAdmin, superuser, type Admin } from './postgres-cases.ts'
import { canActAs, databaseOwners } from '../support/postgres-catalog.ts'
import { unique } from '../support/unique.ts'
import { databaseNames, newestMajor } from './helpers.ts'
import { ms, ReliabilityReport } from './report.ts'

const major = newestMajor()
const report = new ReliabilityReport('25-postgres-pgbouncer', 'PostgreSQL behind PgBouncer 1.18 (session and transaction pooling)', 25)

// The key dbhook's lock uses (the bytes of "dbhook"): no such lock may be left on any server backend.
const advisoryLocks = async (server: PostgresServer) =>
  (await server.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'"))[0]!.n

const lockLine = (run: RunResult) =>
  run.logs.find((line) => typeof line.msg === 'string' && line.msg.includes('the provisioning lock is held in a transaction'))

describe(`PostgreSQL ${major} behind PgBouncer`, () => {
  let server: PostgresServer
  let admin: Admin
  const bouncers: PgBouncer[] = []

  beforeAll(async () => {
    // Every statement in the server log: the test checks that no role setting was sent outside a transaction.
    server = await startPostgres(major, { conf: ["log_statement = 'all'", "log_line_prefix = '%p '"] })
    admin = await leastPrivilegeAdmin(server)
    report.server = `PostgreSQL ${major}, PgBouncer 1.18`
    report.description = [
      "Debian's PgBouncer in front of the server, SCRAM logins checked against the server's own verifiers.",
      'The choice: dbhook works through transaction pooling rather than refusing it. Unless the server provably sees',
      "dbhook's own socket (the client address and port it reports are the socket's), the provisioning lock is",
      '`pg_advisory_xact_lock` in a transaction held open on a connection of its own, polled so that waiting runs pin no',
      'server connection; PgBouncer cannot move an open transaction, and ends it when its client goes away. Role',
      'settings are `SET LOCAL ROLE` inside the transaction of their statements. Pooling per transaction is reported',
      '(two statements on different server backends while the lock connection holds one); that detection can miss it',
      'when other clients share the pool, which changes only the log line. Statement pooling is refused (exit 78).',
    ].join(' ')
  })
  afterAll(async () => {
    for (const bouncer of bouncers) await bouncer.stop()
    await server?.stop()
    await report.write()
  })

  async function bouncer(mode: PoolMode, poolSize?: number): Promise<PgBouncer> {
    const started = await startPgBouncer(server, { mode, users: [server.superuser, admin.user], poolSize })
    bouncers.push(started)
    return started
  }

  function through(pool: PgBouncer, who: Admin, extra: Record<string, string>): Record<string, string> {
    return server.env(who.user, who.password, { DBHOOK_HOST: pool.host, DBHOOK_PORT: String(pool.port), ...extra })
  }

  /**
   * 16 applies of one configuration (owner, app role, pg_trgm: per-database connections, owner-run grants) at
   * once through `pool`: all exit 0, every database exists once with the owner, exactly one run says it created
   * each, no advisory lock is left on any server backend, and what dbhook creates as the owner is the owner's
   * (the role setting and the statements ran on the same server backend).
   */
  async function raceThrough(pool: PgBouncer, who: Admin): Promise<string> {
    const owner = unique('pgb_owner')
    const app = unique('pgb_app')
    const dbs = ['management', 'flow', 'activity', 'dex'].map((n) => `${unique('pgb')}_${n}`)
    const env = through(pool, who, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: `pgb-owner-${Math.random().toString(36).slice(2)}`,
      DBHOOK_APP_USER: app,
      DBHOOK_APP_PASSWORD: `pgb-app-${Math.random().toString(36).slice(2)}`,
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: dbs.join(','),
      DBHOOK_WAIT_TIMEOUT: '120s',
      DBHOOK_LOG_LEVEL: 'debug',
    })
    const started = Date.now()
    const results = await Promise.all(Array.from({ length: 16 }, () => runDbhook(['apply'], env, { timeoutMs: 150_000 })))
    const wall = Date.now() - started
    for (const result of results) expect(result.code, result.stdout.slice(-3000)).toBe(0)
    for (const result of results) expect(lockLine(result), 'every run held the lock in a transaction of its own').toBeDefined()
    expect(await databaseOwners(server, dbs)).toEqual(Object.fromEntries(dbs.map((db) => [db, owner])))
    const counts = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY($1)', [dbs])
    expect(counts[0]!.n).toBe(dbs.length)
    for (const db of dbs) {
      const creators = results.filter((result) => summaryOf(result)?.databases.find((d) => d.name === db)?.result === 'created')
      expect(creators.length, `runs that say they created ${db}`).toBe(1)
    }
    expect(await advisoryLocks(server)).toBe(0)
    for (const db of dbs) {
      // pg_trgm is trusted, so dbhook creates it as the owner: the owner owns it only if the role setting and the
      // CREATE EXTENSION ran on the same server backend.
      const ext = await server.query<{ owner: string }>(
        "SELECT extowner::regrole::text AS owner FROM pg_extension WHERE extname = 'pg_trgm'",
        [],
        { database: db },
      )
      expect(ext, `${db}: pg_trgm created as the owner`).toEqual([{ owner }])
    }
    if (who.user !== server.superuser) expect(await canActAs(server, who.user, owner)).toBe(false)
    const again = await runDbhook(['apply'], env)
    expect(again.code, again.stdout).toBe(0)
    expect(summaryOf(again)?.statements).toBe(0)
    const slowest = Math.max(...results.map((r) => r.durationMs))
    return `16 x exit 0; ${dbs.length} databases, each created once and "created" by exactly one run; 0 advisory locks left; wall ${ms(wall)}, slowest run ${ms(slowest)}; re-run 0 statements`
  }

  test('a session advisory lock taken through transaction pooling outlives its client: the hazard dbhook avoids', async () => {
    await report.measure('hazard: pg_advisory_lock through transaction pooling, client gone', async () => {
      const pool = await bouncer('transaction')
      const client = new pg.Client({
        host: pool.host,
        port: pool.port,
        user: server.superuser,
        password: server.password,
        database: 'postgres',
      })
      await client.connect()
      await client.query('SELECT pg_advisory_lock(4242)')
      await client.end()
      // The server backend that took the lock stays in PgBouncer's pool, and the lock with it.
      const stranded = await advisoryLocks(server)
      expect(stranded).toBe(1)
      await server.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")
      for (let waited = 0; (await advisoryLocks(server)) > 0; waited += 50) {
        if (waited > 5000) throw new Error('the stranded lock did not go with its backend')
        await new Promise((r) => setTimeout(r, 50))
      }
      return { runs: 1, figures: `${stranded} advisory lock left on a pooled server backend after its client disconnected` }
    })
  })

  for (const mode of ['transaction', 'session'] as const) {
    test(`through PgBouncer in ${mode} mode one run says whether it is pooled per transaction, and 16 concurrent runs each create every database once`, async () => {
      await report.measure(`pool_mode=${mode}: 16 applies at once, superuser and CREATEDB+CREATEROLE admins`, async () => {
        // Session pooling gives every client a server connection of its own for as long as it stays.
        const pool = await bouncer(mode, mode === 'session' ? 120 : 20)
        const solo = await runDbhook(['apply'], through(pool, superuser(server), { DBHOOK_DATABASES: unique('pgb_solo') }))
        expect(solo.code, solo.stdout).toBe(0)
        expect(lockLine(solo)).toMatchObject({ pooledPerTransaction: mode === 'transaction' })
        const figures: string[] = []
        for (const who of [superuser(server), admin]) figures.push(`${who.label}: ${await raceThrough(pool, who)}`)
        return {
          runs: 34,
          figures: `one run: detected ${mode === 'transaction' ? 'pooling per transaction' : 'no pooling per transaction'}; ${figures.join('; ')}`,
        }
      })
    })
  }

  test('no role setting is sent outside a transaction: SET LOCAL ROLE only', async () => {
    const log = await server.log()
    const local = (log.match(/statement: SET LOCAL ROLE/g) ?? []).length
    const bare = (log.match(/statement: SET ROLE/g) ?? []).length
    report.note({
      name: 'role settings in the server log of all runs above',
      runs: 1,
      outcome: bare === 0 && local > 0 ? 'pass' : 'FAIL',
      figures: `${local} SET LOCAL ROLE, ${bare} SET ROLE`,
    })
    expect(local).toBeGreaterThan(0)
    expect(bare).toBe(0)
  })

  test('PgBouncer in statement mode is refused with 78 naming DBHOOK_HOST, and nothing is created', async () => {
    await report.measure('pool_mode=statement', async () => {
      const pool = await bouncer('statement')
      const db = unique('pgb_statement')
      const before = await databaseNames(server)
      const run = await runDbhook(
        ['apply'],
        through(pool, superuser(server), {
          DBHOOK_DATABASES: db,
          DBHOOK_OWNER: unique('pgb_statement_owner'),
          DBHOOK_OWNER_PASSWORD: 'statement-owner-pw',
        }),
      )
      expect(run.code, run.stdout).toBe(78)
      expect(run.terminationMessage).toContain('DBHOOK_HOST')
      expect(run.terminationMessage).toContain('per statement')
      expect(await databaseNames(server)).toEqual(before)
      expect(await advisoryLocks(server)).toBe(0)
      return { runs: 1, figures: `exit 78 after ${ms(run.durationMs)}: ${run.terminationMessage.trim().slice(0, 160)}` }
    })
  })

  test('a password PgBouncer refuses exits 77 at once, not 69 at the deadline', async () => {
    await report.measure('wrong password through PgBouncer', async () => {
      const pool = await bouncer('transaction')
      const run = await runDbhook(
        ['apply'],
        through(
          pool,
          { ...superuser(server), password: 'not-the-password-7' },
          { DBHOOK_DATABASES: unique('pgb_auth'), DBHOOK_WAIT_TIMEOUT: '20s' },
        ),
      )
      expect(run.code, run.stdout).toBe(77)
      expect(run.terminationMessage).toContain('DBHOOK_ADMIN_PASSWORD')
      expect(run.durationMs).toBeLessThan(10_000)
      return { runs: 1, figures: `exit 77 after ${ms(run.durationMs)}` }
    })
  })
})
