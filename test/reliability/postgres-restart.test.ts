import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf, type RunResult } from '../support/dbhook.ts'
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { unique } from '../support/unique.ts'
import { newestMajor, restartPostgres } from './helpers.ts'
import { ms, ReliabilityReport } from './report.ts'

const major = newestMajor()
const report = new ReliabilityReport(
  '22-postgres-restart',
  'PostgreSQL: server restarted (pg_ctl restart -m fast) in the middle of apply',
  22,
)

const databaseCount = 32

interface Names {
  readonly owner: string
  readonly app: string
  readonly dbs: readonly string[]
}

function freshNames(): Names {
  const tag = unique('rs')
  return { owner: `${tag}_owner`, app: `${tag}_app`, dbs: Array.from({ length: databaseCount }, (_, i) => `${tag}_db${i}`) }
}

/**
 * Everything apply makes, with the run's own names replaced by placeholders, so that the state one run left can
 * be compared with another's: roles and memberships, and per database its owner, ACL, schema public, extensions,
 * default privileges, event triggers and functions.
 */
async function snapshot(server: PostgresServer, names: Names): Promise<string> {
  const roles = await server.query(
    `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolpassword IS NOT NULL AS has_password
       FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname`,
    [[names.owner, names.app]],
  )
  const memberships = await server.query(
    `SELECT r.rolname AS role, m.rolname AS member, a.admin_option FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
      WHERE r.rolname = ANY($1) OR m.rolname = ANY($1) ORDER BY 1, 2, 3`,
    [[names.owner, names.app]],
  )
  const databases = []
  for (const db of names.dbs) {
    const [row] = await server.query('SELECT pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname = $1', [
      db,
    ])
    const inside = async (sql: string) => server.query(sql, [], { database: db })
    databases.push({
      ...row,
      public: await inside("SELECT nspowner::regrole::text AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = 'public'"),
      extensions: await inside("SELECT extname, extowner::regrole::text AS owner FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1"),
      defaults: await inside(
        'SELECT defaclrole::regrole::text AS role, defaclnamespace, defaclobjtype, defaclacl::text AS acl FROM pg_default_acl ORDER BY 1, 2, 3',
      ),
      triggers: await inside('SELECT evtname, evtenabled, evtfoid::regprocedure::text AS fn FROM pg_event_trigger ORDER BY 1'),
      functions: await inside(
        "SELECT proname, proowner::regrole::text AS owner, proacl::text AS acl FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'dbhook%' ORDER BY 1",
      ),
    })
  }
  let text = JSON.stringify({ roles, memberships, databases })
  const tokens: [string, string][] = [
    [names.owner, 'OWNER'],
    [names.app, 'APP'],
    ...names.dbs.map((db, i): [string, string] => [db, `DB${i}`]),
  ]
  for (const [name, token] of tokens.sort((a, b) => b[0].length - a[0].length)) text = text.split(name).join(token)
  return text
}

describe(`PostgreSQL ${major} restarted while apply runs`, () => {
  let server: PostgresServer
  let reference: string
  let referenceStatements = 0
  let bouncer: PgBouncer | undefined

  function envFor(names: Names, target: { host: string; port: number } = server): Record<string, string> {
    return server.env(server.superuser, server.password, {
      DBHOOK_HOST: target.host,
      DBHOOK_PORT: String(target.port),
      DBHOOK_OWNER: names.owner,
      DBHOOK_OWNER_PASSWORD: 'restart-owner-password',
      DBHOOK_APP_USER: names.app,
      DBHOOK_APP_PASSWORD: 'restart-app-password',
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: names.dbs.join(','),
      // One database at a time: the run is long enough to be cut at the statement the test picks.
      DBHOOK_PARALLEL: '1',
      DBHOOK_WAIT_TIMEOUT: '90s',
      DBHOOK_LOG_LEVEL: 'debug',
    })
  }

  beforeAll(async () => {
    server = await startPostgres(major)
    report.server = `PostgreSQL ${major}`
    report.description = [
      `An openZro-like apply (owner and app role with passwords, pg_trgm, ${databaseCount} databases, DBHOOK_PARALLEL=1, superuser admin)`,
      'is cut by `pg_ctl restart -m fast` when its log shows the chosen point. apply reconnects within DBHOOK_WAIT_TIMEOUT',
      'and starts over from inspection; the end state is compared with that of an uninterrupted run (names replaced).',
    ].join(' ')
    const names = freshNames()
    const run = await runDbhook(['apply'], envFor(names), { timeoutMs: 120_000 })
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    referenceStatements = summaryOf(run)?.statements ?? 0
    expect(referenceStatements).toBeGreaterThan(databaseCount * 3)
    reference = await snapshot(server, names)
  })
  afterAll(async () => {
    await bouncer?.stop()
    await server?.stop()
    await report.write()
  })

  /**
   * Runs apply and restarts the server once `when` says so (given every stdout chunk so far); returns the run
   * and the restart's duration. dbhook is held (SIGSTOP) from that moment until the server is back and resumed
   * after, so the restart falls at that point of the run however loaded the machine is, instead of racing a
   * run that may finish its last statements before pg_ctl has stopped anything.
   */
  async function applyWithRestart(
    names: Names,
    when: (output: string) => boolean,
    target?: { host: string; port: number },
  ): Promise<{ run: RunResult; restartMs: number }> {
    let output = ''
    let pid = 0
    let restart: Promise<number> | undefined
    const run = await runDbhook(['apply'], envFor(names, target), {
      timeoutMs: 150_000,
      onSpawn: (p) => (pid = p),
      onStdout: (chunk) => {
        output += chunk
        if (!restart && when(output)) {
          const started = Date.now()
          const signal = (name: NodeJS.Signals) => {
            try {
              process.kill(pid, name)
            } catch {
              // already exited: the assertions below say the restart came too late
            }
          }
          signal('SIGSTOP')
          restart = restartPostgres(server)
            .finally(() => signal('SIGCONT'))
            .then(() => Date.now() - started)
        }
      },
    })
    expect(restart, 'the restart was triggered while apply ran').toBeDefined()
    return { run, restartMs: await restart! }
  }

  const statementsLogged = (output: string) => output.split('"msg":"executing"').length - 1

  async function expectRecovered(names: Names, run: RunResult, target?: { host: string; port: number }): Promise<string> {
    expect(run.code, run.stdout.slice(-3000)).toBe(0)
    const summary = summaryOf(run) as { reconnects?: number } | undefined
    expect(summary?.reconnects, 'apply reconnected at least once').toBeGreaterThanOrEqual(1)
    expect(run.logs.some((line) => String(line.msg).startsWith('lost the connection to the server during apply'))).toBe(true)
    expect(summaryOf(run)?.databases.map((d) => d.result)).toEqual(names.dbs.map(() => 'created'))
    expect(await snapshot(server, names)).toEqual(reference)
    const again = await runDbhook(['apply'], envFor(names, target))
    expect(again.code, again.stdout.slice(-2000)).toBe(0)
    expect(summaryOf(again)?.statements).toBe(0)
    return `${summary?.reconnects} reconnect(s), exit 0 after ${ms(run.durationMs)}`
  }

  const points: [label: string, when: (output: string) => boolean][] = [
    ['right after inspection (before any statement)', (output) => output.includes('"msg":"inspected the server"')],
    ['after the 3rd statement (creating databases)', (output) => statementsLogged(output) >= 3],
    ['half-way (granting in the databases)', (output) => statementsLogged(output) >= Math.floor(referenceStatements / 2)],
    ['near the end', (output) => statementsLogged(output) >= referenceStatements - 12],
  ]

  test('restarted at four points of the run: each run reconnects, finishes with the state of an uninterrupted run, and a re-run executes nothing', async () => {
    await report.measure(`4 restarts at different points, ${databaseCount} databases, DBHOOK_PARALLEL=1`, async () => {
      const figures: string[] = []
      for (const [label, when] of points) {
        const names = freshNames()
        const { run, restartMs } = await applyWithRestart(names, when)
        figures.push(`${label}: ${await expectRecovered(names, run)} (restart took ${ms(restartMs)})`)
      }
      return {
        runs: points.length * 2,
        figures: `reference run ${referenceStatements} statements; ${figures.join('; ')}; every end state equal to the uninterrupted run's, every re-run 0 statements`,
      }
    })
  }, 900_000)

  test('restarted behind PgBouncer in transaction mode: the lock connection is lost, apply starts over and finishes', async () => {
    await report.measure('restart behind PgBouncer (pool_mode=transaction), half-way', async () => {
      bouncer = await startPgBouncer(server, { mode: 'transaction', users: [server.superuser] })
      const names = freshNames()
      const { run, restartMs } = await applyWithRestart(
        names,
        (output) => statementsLogged(output) >= Math.floor(referenceStatements / 2),
        bouncer,
      )
      return {
        runs: 2,
        figures: `${await expectRecovered(names, run, bouncer)} (restart took ${ms(restartMs)}; PgBouncer's server_login_retry is 15 s)`,
      }
    })
  }, 300_000)
})
