import { execFile as execFileCallback } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf } from '../support/dbhook.ts'
import { freePort } from '../support/ports.ts'
import { runPsqlScript, startPostgres, testedMajors, type PostgresServer } from '../support/postgres.ts'
import { canActAs, databaseOwners } from '../support/postgres-catalog.ts'
import { unique } from '../support/unique.ts'

const _execFile = promisify(execFileCallback)
const openZro = 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex'

describe.each(testedMajors())('PostgreSQL %i', (major) => {
  let server: PostgresServer

  beforeAll(async () => {
    server = await startPostgres(major, { conf: ["log_statement = 'all'"] })
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('a superuser admin provisions the openZro four, and a second apply executes nothing', async () => {
    const owner = unique('openzro')
    const dbs = ['openzro', 'openzro_flow', 'openzro_activity', 'dex'].map((n) => `${owner}_${n}`)
    const list = openZro.replace(/=(\w+)/g, (_m, name: string) => `=${owner}_${name}`)
    const env = server.env('postgres', server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'Owner pw: \'"\\;--',
      DBHOOK_DATABASES: list,
    })

    const before = await runDbhook(['plan'], env)
    expect(before.code, before.stdout).toBe(2)

    const first = await runDbhook(['apply'], env)
    expect(first.code, first.stdout).toBe(0)
    expect(summaryOf(first)?.databases.map((d) => d.result)).toEqual(['created', 'created', 'created', 'created'])
    expect(await databaseOwners(server, dbs)).toEqual(Object.fromEntries(dbs.map((d) => [d, owner])))

    const after = await runDbhook(['plan'], env)
    expect(after.code, after.stdout).toBe(0)
    const second = await runDbhook([], env)
    expect(second.code, second.stdout).toBe(0)
    expect(summaryOf(second)).toMatchObject({ statements: 0 })
    expect(summaryOf(second)?.databases.every((d) => d.result === 'unchanged')).toBe(true)

    // The owner logs in with the configured password, and verify agrees.
    const rows = await server.query('SELECT current_user AS me', [], { user: owner, password: 'Owner pw: \'"\\;--', database: dbs[3] })
    expect(rows[0]?.me).toBe(owner)
    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(0)

    // The password went to the server as a verifier: the statement log never saw it.
    expect(await server.log()).not.toContain('Owner pw')
  })

  test('an admin with CREATEDB and CREATEROLE only creates the owner and its databases, lending itself membership for the run', async () => {
    const admin = unique('provisioner')
    const owner = unique('owner')
    await server.query(`CREATE ROLE ${admin} LOGIN CREATEDB CREATEROLE PASSWORD 'adminpw'`)
    const dbs = [unique('db'), unique('db')]
    const env = server.env(admin, 'adminpw', { DBHOOK_OWNER: owner, DBHOOK_OWNER_PASSWORD: 'ownerpw1', DBHOOK_DATABASES: dbs.join(',') })

    const result = await runDbhook(['apply'], env)
    expect(result.code, result.stdout).toBe(0)
    expect(await databaseOwners(server, dbs)).toEqual({ [dbs[0]!]: owner, [dbs[1]!]: owner })
    const attributes = await server.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolcanlogin: boolean }>(
      'SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = $1',
      [owner],
    )
    expect(attributes[0]).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolcanlogin: true })
    // The membership lent for the run is gone again.
    expect(await canActAs(server, admin, owner)).toBe(false)
    expect(result.stdout).toContain('revoked the membership')

    const again = await runDbhook(['apply'], env)
    expect(summaryOf(again)).toMatchObject({ statements: 0 })
  })

  test('an admin with only CREATEDB provisions for an owner it was granted, and for itself', async () => {
    const admin = unique('createdb_only')
    const owner = unique('app_owner')
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'ownerpw'`)
    await server.query(`CREATE ROLE ${admin} LOGIN CREATEDB PASSWORD 'adminpw'`)
    await server.query(`GRANT ${owner} TO ${admin}`)
    const dbs = [unique('granted'), unique('granted')]
    const result = await runDbhook(['apply'], server.env(admin, 'adminpw', { DBHOOK_OWNER: owner, DBHOOK_DATABASES: dbs.join(',') }))
    expect(result.code, result.stdout).toBe(0)
    expect(await databaseOwners(server, dbs)).toEqual({ [dbs[0]!]: owner, [dbs[1]!]: owner })

    const own = unique('self')
    const self = await runDbhook(['apply'], server.env(admin, 'adminpw', { DBHOOK_DATABASES: own }))
    expect(self.code, self.stdout).toBe(0)
    expect(await databaseOwners(server, [own])).toEqual({ [own]: admin })
  })

  test('an admin that lacks a privilege is refused with exit 77 before anything changes', async () => {
    const admin = unique('weak')
    await server.query(`CREATE ROLE ${admin} LOGIN CREATEDB PASSWORD 'adminpw'`)
    const db = unique('never')
    const owner = unique('missing_owner')
    const result = await runDbhook(
      ['apply'],
      server.env(admin, 'adminpw', { DBHOOK_OWNER: owner, DBHOOK_OWNER_PASSWORD: 'x-secret-1', DBHOOK_DATABASES: db }),
    )
    expect(result.code, result.stdout).toBe(77)
    expect(result.stdout).toContain('CREATEROLE')
    expect(await databaseOwners(server, [db])).toEqual({})
    expect(await server.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [owner])).toEqual([])

    const plan = await runDbhook(
      ['plan'],
      server.env(admin, 'adminpw', { DBHOOK_OWNER: owner, DBHOOK_OWNER_PASSWORD: 'x-secret-1', DBHOOK_DATABASES: db }),
    )
    expect(plan.code).toBe(2)
    expect(plan.stdout).toContain('apply would be refused')
  })

  test('a database owned by another role is reported by plan and handed over by apply', async () => {
    const owner = unique('rightful')
    const db = unique('adopted')
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'pw'`)
    await server.query(`CREATE DATABASE ${db}`)
    const env = server.env('postgres', server.password, { DBHOOK_OWNER: owner, DBHOOK_DATABASES: `main=${db}` })
    const plan = await runDbhook(['plan'], env)
    expect(plan.code).toBe(2)
    expect(plan.stdout).toContain(`change the owner of \\"${db}\\" from \\"postgres\\" to \\"${owner}\\"`)
    const apply = await runDbhook(['apply'], env)
    expect(apply.code, apply.stdout).toBe(0)
    expect(summaryOf(apply)?.databases).toEqual([{ key: 'main', name: db, result: 'owner-fixed' }])
    expect(await databaseOwners(server, [db])).toEqual({ [db]: owner })
  })

  test('an owner password that no longer works is updated', async () => {
    const owner = unique('drifted')
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'old-password'`)
    const env = server.env('postgres', server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'new-password-1',
      DBHOOK_DATABASES: unique('pwdb'),
    })
    const plan = await runDbhook(['plan'], env)
    expect(plan.stdout).toContain(`update the password of role \\"${owner}\\"`)
    expect((await runDbhook(['apply'], env)).code).toBe(0)
    const rows = await server.query('SELECT current_user AS me', [], { user: owner, password: 'new-password-1' })
    expect(rows[0]?.me).toBe(owner)
    expect(summaryOf(await runDbhook(['apply'], env))).toMatchObject({ statements: 0 })
  })

  test('names with quotes, case, spaces and Unicode are created exactly as given', async () => {
    const tag = unique('n')
    const names = [`Mixed "Case" ${tag}`, `semi;colon --${tag}`, `back\\slash 'q' ${tag}`, `ünï ${tag} 数据`]
    const env = server.env('postgres', server.password, { DBHOOK_DATABASES: JSON.stringify(names) })
    const result = await runDbhook(['apply'], env)
    expect(result.code, result.stdout).toBe(0)
    expect(Object.keys(await databaseOwners(server, names)).sort()).toEqual([...names].sort())
    expect(summaryOf(await runDbhook(['apply'], env))).toMatchObject({ statements: 0 })
  })

  test('verify reports every problem, not just the first', async () => {
    const owner = unique('verifier')
    await server.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'verifypw'`)
    const foreign = unique('foreign')
    await server.query(`CREATE DATABASE ${foreign}`)
    const missing = unique('missing')
    const result = await runDbhook(
      ['verify'],
      server.env('postgres', server.password, {
        DBHOOK_OWNER: owner,
        DBHOOK_OWNER_PASSWORD: 'verifypw',
        DBHOOK_DATABASES: `${missing},${foreign}`,
      }),
    )
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(`database \\"${missing}\\" does not exist`)
    expect(result.stdout).toContain(`is owned by \\"postgres\\", not \\"${owner}\\"`)
  })

  test('a wrong admin password fails at once with exit 77, without retrying', async () => {
    const result = await runDbhook(['wait'], server.env('postgres', 'not-the-password', { DBHOOK_WAIT_TIMEOUT: '30s' }))
    expect(result.code).toBe(77)
    expect(result.durationMs).toBeLessThan(5000)
    expect(result.stdout).toContain('password authentication failed')
  })

  test('the SQL printed by `dbhook sql` provisions the same state through psql', async () => {
    const owner = unique('dba_owner')
    const dbs = [unique('dba'), unique('dba')]
    const env = server.env('postgres', server.password, { DBHOOK_OWNER: owner, DBHOOK_DATABASES: dbs.join(',') })
    const sql = await runDbhook(['sql'], { DBHOOK_OWNER: owner, DBHOOK_DATABASES: dbs.join(',') })
    expect(sql.code).toBe(0)
    // Twice: it is idempotent.
    for (let run = 1; run <= 2; run += 1) {
      const psql = await runPsqlScript(server, sql.stdout)
      expect(psql.code, psql.output).toBe(0)
    }
    expect(await databaseOwners(server, dbs)).toEqual({ [dbs[0]!]: owner, [dbs[1]!]: owner })
    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(0)
    expect(sql.stdout).not.toMatch(/PASSWORD/)
  })

  test('concurrent applies serialize on the lock: each database is created once', async () => {
    const dbs = [unique('race'), unique('race'), unique('race')]
    const env = server.env('postgres', server.password, { DBHOOK_DATABASES: dbs.join(',') })
    const runs = await Promise.all(Array.from({ length: 4 }, () => runDbhook(['apply'], env)))
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0])
    const created = runs.flatMap(
      (r) =>
        summaryOf(r)
          ?.databases.filter((d) => d.result === 'created')
          .map((d) => d.name) ?? [],
    )
    expect(created.sort()).toEqual([...dbs].sort())
  })
})

describe('waiting for a server', () => {
  test('a port where nothing listens ends with exit 69 at the deadline', async () => {
    const port = await freePort()
    const result = await runDbhook(['wait'], {
      DBHOOK_HOST: '127.0.0.1',
      DBHOOK_PORT: String(port),
      DBHOOK_ADMIN_USER: 'postgres',
      DBHOOK_WAIT_TIMEOUT: '2s',
      DBHOOK_SSLMODE: 'disable',
    })
    expect(result.code).toBe(69)
    expect(result.durationMs).toBeGreaterThanOrEqual(1900)
    expect(result.durationMs).toBeLessThan(6000)
    expect(result.stdout).toContain('DBHOOK_WAIT_TIMEOUT')
  })

  test('SIGTERM ends a wait at once with exit 143', async () => {
    const port = await freePort()
    let pid = 0
    // The signal goes once dbhook says it is waiting (its handlers are in place by then), not after a guessed sleep.
    let waiting!: () => void
    const saysWaiting = new Promise<void>((resolve) => (waiting = resolve))
    let output = ''
    const running = runDbhook(
      ['wait'],
      { DBHOOK_HOST: '127.0.0.1', DBHOOK_PORT: String(port), DBHOOK_ADMIN_USER: 'postgres', DBHOOK_WAIT_TIMEOUT: '60s' },
      {
        onSpawn: (p) => {
          pid = p
        },
        onStdout: (chunk) => {
          output += chunk
          if (output.includes('waiting for PostgreSQL')) waiting()
        },
      },
    )
    await saysWaiting
    process.kill(pid, 'SIGTERM')
    const result = await running
    expect(result.code).toBe(143)
    expect(result.terminationMessage.trim()).toBe('wait: interrupted by SIGTERM')
    // Well within the 60 s wait: the signal ended it, not the deadline (the exit latency is measured in bench/).
    expect(result.durationMs).toBeLessThan(30_000)
  })

  test('apply waits for a server that starts late and then provisions it', async () => {
    const major = Math.max(...testedMajors())
    const port = await freePort()
    const password = 'late-server-pw'
    const running = runDbhook(['apply'], {
      DBHOOK_HOST: '127.0.0.1',
      DBHOOK_PORT: String(port),
      DBHOOK_ADMIN_USER: 'postgres',
      DBHOOK_ADMIN_PASSWORD: password,
      DBHOOK_DATABASES: 'late_db',
      DBHOOK_WAIT_TIMEOUT: '60s',
      DBHOOK_SSLMODE: 'disable',
    })
    await new Promise((r) => setTimeout(r, 1500))
    const server = await startPostgres(major, { port, password })
    try {
      const result = await running
      expect(result.code, result.stdout).toBe(0)
      expect(summaryOf(result)?.databases).toEqual([{ key: 'late_db', name: 'late_db', result: 'created' }])
    } finally {
      await server.stop()
    }
  })
})
