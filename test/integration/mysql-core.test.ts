import { execFile as execFileCallback } from 'node:child_process'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf } from '../support/dbhook.ts'
import { startMariadb, type MariadbServer } from '../support/mariadb.ts'
import { freePort } from '../support/ports.ts'
import { unique } from '../support/unique.ts'

const execFile = promisify(execFileCallback)

/** Every printable ASCII character, space included. */
const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')

async function schemas(server: MariadbServer, names: string[]): Promise<string[]> {
  const rows = await server.query<{ name: string }>(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?) ORDER BY SCHEMA_NAME',
    [names],
  )
  return rows.map((row) => row.name)
}

async function schemaCount(server: MariadbServer): Promise<number> {
  const rows = await server.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA')
  return Number(rows[0]?.n)
}

async function userCount(server: MariadbServer): Promise<number> {
  const rows = await server.query<{ n: number }>('SELECT COUNT(*) AS n FROM mysql.user')
  return Number(rows[0]?.n)
}

/** Logs in as `user` over TCP and runs `sql` in `database`; resolves to the rows or rejects with the server's error. */
async function asUser(
  server: MariadbServer,
  user: string,
  password: string,
  database: string | undefined,
  sql: string,
  params: unknown[] = [],
) {
  const connection = await mysql.createConnection({ host: server.host, port: server.port, user, password, database })
  try {
    const [rows] = await connection.query(sql, params)
    return rows
  } finally {
    await connection.end()
  }
}

describe('MariaDB (Debian) without TLS', () => {
  let server: MariadbServer

  beforeAll(async () => {
    server = await startMariadb({ generalLog: true })
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('the openZro four are created with their grants, plan turns from 2 to 0, and a second apply executes nothing', async () => {
    const owner = unique('openzro')
    const app = unique('app')
    const names = ['openzro', 'openzro_flow', 'openzro_activity', 'dex'].map((n) => `${owner}_${n}`)
    const list = `management=${names[0]},flow=${names[1]},activity=${names[2]},dex=${names[3]}`
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'Owner pw: \'"\\;--`',
      DBHOOK_APP_USER: app,
      DBHOOK_APP_PASSWORD: 'App pw: \'"\\;--`',
      DBHOOK_DATABASES: list,
    })

    const before = await runDbhook(['plan'], env)
    expect(before.code, before.stdout).toBe(2)
    expect(before.stdout).toContain(`grant ALL PRIVILEGES to \\"${owner}\\"`)

    const first = await runDbhook(['apply'], env)
    expect(first.code, first.stdout).toBe(0)
    expect(summaryOf(first)?.databases.map((d) => d.result)).toEqual(['created', 'created', 'created', 'created'])
    expect(new Set(await schemas(server, names))).toEqual(new Set(names))

    const after = await runDbhook(['plan'], env)
    expect(after.code, after.stdout).toBe(0)
    const second = await runDbhook(['apply'], env)
    expect(second.code, second.stdout).toBe(0)
    expect(summaryOf(second)).toMatchObject({ statements: 0 })
    expect(summaryOf(second)?.databases.every((d) => d.result === 'unchanged')).toBe(true)

    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(0)

    // The owner creates a table; the app user reads and writes it but may not create its own.
    await asUser(server, owner, 'Owner pw: \'"\\;--`', names[3], 'CREATE TABLE clients (id integer PRIMARY KEY, name text)')
    await asUser(server, app, 'App pw: \'"\\;--`', names[3], 'INSERT INTO clients VALUES (1, ?)', ['dex'])
    expect(await asUser(server, app, 'App pw: \'"\\;--`', names[3], 'SELECT name FROM clients')).toEqual([{ name: 'dex' }])
    await expect(asUser(server, app, 'App pw: \'"\\;--`', names[3], 'CREATE TABLE mine (id integer)')).rejects.toMatchObject({
      errno: 1142,
    })
    // The grant covers exactly this database, not look-alikes that `_` would match as a wildcard.
    const other = names[1]!.replace(/_flow$/, 'Xflow')
    await server.query(`CREATE DATABASE ${mysql.escapeId(other)}`)
    await expect(asUser(server, owner, 'Owner pw: \'"\\;--`', other, 'SELECT 1')).rejects.toMatchObject({ errno: 1044 })

    // Passwords went to the server as mysql_native_password hashes: the general log never saw them.
    const log = await server.generalLog()
    expect(log).toContain('IDENTIFIED BY PASSWORD')
    expect(log).not.toContain('Owner pw')
    expect(log).not.toContain('App pw')
  })

  test('plan sends the same number of statements for 1 database as for 12', async () => {
    const owner = unique('counted')
    const statementsOfPlan = async (count: number) => {
      const dbs = Array.from({ length: count }, () => unique('counted_db'))
      const env = server.env(server.admin, server.password, {
        DBHOOK_OWNER: owner,
        DBHOOK_OWNER_PASSWORD: 'counted-pw-1',
        DBHOOK_DATABASES: dbs.join(','),
      })
      expect((await runDbhook(['apply'], env)).code).toBe(0)
      const before = (await server.generalLog()).split('\n').filter((line) => /\tQuery\t/.test(line)).length
      const plan = await runDbhook(['plan'], { ...env, DBHOOK_OWNER_PASSWORD: '' })
      expect(plan.code, plan.stdout).toBe(0)
      return (await server.generalLog()).split('\n').filter((line) => /\tQuery\t/.test(line)).length - before
    }
    const one = await statementsOfPlan(1)
    expect(await statementsOfPlan(12)).toBe(one)
    expect(one).toBeLessThanOrEqual(6)
  })

  test('hostile names are created exactly as given: quotes, backticks, dots, Unicode, 64-character databases, 32-character users', async () => {
    const tag = unique('h')
    const names = [
      `${tag} it's "quoted"`,
      `${tag}.dot.ted`,
      `${tag}\`tick\``,
      `${tag}_ünï©ødé_数据库`,
      `${tag}%_\\x,y=z`,
      `${tag}_${'d'.repeat(64 - tag.length - 1)}`,
    ]
    expect([...names[5]!].length).toBe(64)
    const owner = `o'w\`n.ér"${tag}`.padEnd(32, 'x')
    expect([...owner].length).toBe(32)
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'hostile-owner-pw',
      DBHOOK_DATABASES: JSON.stringify(names),
    })
    const first = await runDbhook(['apply'], env)
    expect(first.code, first.stdout).toBe(0)
    expect(new Set(await schemas(server, names))).toEqual(new Set(names))
    const again = await runDbhook(['apply'], env)
    expect(summaryOf(again), again.stdout).toMatchObject({ statements: 0 })
    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(0)
    for (const name of names) {
      expect(await asUser(server, owner, 'hostile-owner-pw', name, 'SELECT DATABASE() AS db')).toEqual([{ db: name }])
    }
  })

  test('a 65-character database or a 33-character user is refused with exit 78 before anything changes', async () => {
    const schemasBefore = await schemaCount(server)
    const usersBefore = await userCount(server)
    const longDb = await runDbhook(
      ['apply'],
      server.env(server.admin, server.password, {
        DBHOOK_OWNER: unique('fine'),
        DBHOOK_OWNER_PASSWORD: 'pw-1234',
        DBHOOK_DATABASES: `ok_${unique('x')},${'d'.repeat(65)}`,
      }),
    )
    expect(longDb.code, longDb.stdout).toBe(78)
    expect(longDb.stdout).toContain('65 characters')
    const longUser = await runDbhook(
      ['apply'],
      server.env(server.admin, server.password, {
        DBHOOK_OWNER: 'u'.repeat(33),
        DBHOOK_OWNER_PASSWORD: 'pw-1234',
        DBHOOK_DATABASES: unique('ok'),
      }),
    )
    expect(longUser.code, longUser.stdout).toBe(78)
    expect(longUser.stdout).toContain('33 characters')
    expect(await schemaCount(server)).toBe(schemasBefore)
    expect(await userCount(server)).toBe(usersBefore)
  })

  test('a database name whose directory name would pass 255 bytes is refused with 78; one byte less is created', async () => {
    const owner = unique('dir_owner')
    const env = (name: string) =>
      server.env(server.admin, server.password, {
        DBHOOK_OWNER: owner,
        DBHOOK_OWNER_PASSWORD: 'dir-pw-1',
        DBHOOK_DATABASES: JSON.stringify([name]),
      })
    // The server spells '.' as '@002e' in file names: 51 of them take 255 bytes, 52 take 260.
    const tooLong = await runDbhook(['apply'], env('.'.repeat(52)))
    expect(tooLong.code, tooLong.stdout).toBe(78)
    expect(tooLong.stdout).toContain('260-byte directory name')
    const fits = await runDbhook(['apply'], env('.'.repeat(51)))
    expect(fits.code, fits.stdout).toBe(0)
    expect(await schemas(server, ['.'.repeat(51)])).toEqual(['.'.repeat(51)])
  })

  test('passwords made of every printable ASCII character work for the owner and the app user', async () => {
    const owner = unique('printable_owner')
    const app = unique('printable_app')
    const db = unique('printable')
    const appPassword = [...printable].reverse().join('')
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: printable,
      DBHOOK_APP_USER: app,
      DBHOOK_APP_PASSWORD: appPassword,
      DBHOOK_DATABASES: db,
    })
    const result = await runDbhook(['apply'], env)
    expect(result.code, result.stdout).toBe(0)
    expect(await asUser(server, owner, printable, db, 'SELECT CURRENT_USER() AS me')).toEqual([{ me: `${owner}@%` }])
    expect(await asUser(server, app, appPassword, db, 'SELECT CURRENT_USER() AS me')).toEqual([{ me: `${app}@%` }])
    const again = await runDbhook(['plan'], env)
    expect(again.code, again.stdout).toBe(0)
  })

  test('a password that no longer works is updated, and only that', async () => {
    const owner = unique('rotated')
    const db = unique('rotated_db')
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'first-password',
      DBHOOK_DATABASES: db,
    })
    expect((await runDbhook(['apply'], env)).code).toBe(0)
    const rotated = { ...env, DBHOOK_OWNER_PASSWORD: 'second-password' }
    const plan = await runDbhook(['plan'], rotated)
    expect(plan.code, plan.stdout).toBe(2)
    expect(plan.stdout).toContain('update the password')
    expect(plan.stdout).toContain('1 changes pending')
    const apply = await runDbhook(['apply'], rotated)
    expect(apply.code, apply.stdout).toBe(0)
    expect(summaryOf(apply)).toMatchObject({ statements: 1 })
    expect(await asUser(server, owner, 'second-password', db, 'SELECT 1 AS one')).toEqual([{ one: 1 }])
    await expect(asUser(server, owner, 'first-password', db, 'SELECT 1')).rejects.toMatchObject({ errno: 1045 })
  })

  test("DBHOOK_MYSQL_CHARSET and DBHOOK_MYSQL_COLLATION set the new database's defaults", async () => {
    const db = unique('collated')
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: unique('coll_owner'),
      DBHOOK_OWNER_PASSWORD: 'pw-coll-1',
      DBHOOK_DATABASES: db,
      DBHOOK_MYSQL_COLLATION: 'utf8mb4_bin',
    })
    expect((await runDbhook(['apply'], env)).code).toBe(0)
    const rows = await server.query<{ cs: string; co: string }>(
      'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [db],
    )
    expect(rows).toEqual([{ cs: 'utf8mb4', co: 'utf8mb4_bin' }])
  })

  test('a wrong admin password fails at once with exit 77, without retrying', async () => {
    const result = await runDbhook(
      ['apply'],
      server.env(server.admin, 'not-the-password', {
        DBHOOK_DATABASES: unique('never'),
        DBHOOK_OWNER: unique('o'),
        DBHOOK_WAIT_TIMEOUT: '60s',
      }),
    )
    expect(result.code, result.stdout).toBe(77)
    expect(result.stdout).toContain('DBHOOK_ADMIN_PASSWORD')
    expect(result.durationMs).toBeLessThan(5_000)
  })

  test('an admin without CREATE USER is refused with exit 77 before anything changes', async () => {
    const admin = unique('weak_admin')
    await server.query(`CREATE USER ?@'%' IDENTIFIED BY 'weak-pw-1'`, [admin])
    await server.query(`GRANT CREATE ON *.* TO ?@'%'`, [admin])
    const db = unique('refused')
    const owner = unique('refused_owner')
    const result = await runDbhook(
      ['apply'],
      server.env(admin, 'weak-pw-1', { DBHOOK_OWNER: owner, DBHOOK_OWNER_PASSWORD: 'pw-refused', DBHOOK_DATABASES: db }),
    )
    expect(result.code, result.stdout).toBe(77)
    expect(result.stdout).toContain('CREATE USER')
    expect(result.stdout).toContain('nothing was changed')
    expect(await schemas(server, [db])).toEqual([])
    expect(await server.query('SELECT User FROM mysql.user WHERE User = ?', [owner])).toEqual([])
  })

  test('the SQL printed by `dbhook sql` provisions the same state through the mariadb client', async () => {
    const owner = unique('scripted')
    const app = unique('scripted_app')
    const dbs = [unique('scripted_a'), `${unique('scripted')} it's`]
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: 'script-owner-pw',
      DBHOOK_APP_USER: app,
      DBHOOK_APP_PASSWORD: 'script-app-pw',
      DBHOOK_DATABASES: dbs.join(','),
    })
    const printed = await runDbhook(['sql'], env)
    expect(printed.code, printed.stderr).toBe(0)
    expect(printed.stdout).not.toContain('script-owner-pw')
    const client = ['--no-defaults', `--socket=${server.socket}`, '-u', 'root']
    for (let run = 0; run < 2; run += 1) {
      const child = execFile('mariadb', client)
      child.child.stdin?.end(printed.stdout)
      await child
    }
    // The users are locked until the DBA sets their passwords, as the script says.
    await expect(asUser(server, owner, '', dbs[0], 'SELECT 1')).rejects.toMatchObject({ errno: expect.any(Number) })
    await server.query(`ALTER USER ?@'%' IDENTIFIED BY 'script-owner-pw' ACCOUNT UNLOCK`, [owner])
    await server.query(`ALTER USER ?@'%' IDENTIFIED BY 'script-app-pw' ACCOUNT UNLOCK`, [app])
    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(0)
    expect((await runDbhook(['verify'], env)).code).toBe(0)
  })

  test('concurrent applies serialize on GET_LOCK: each database is created once', async () => {
    const dbs = [unique('race'), unique('race'), unique('race')]
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: unique('racer'),
      DBHOOK_OWNER_PASSWORD: 'race-pw-1',
      DBHOOK_DATABASES: dbs.join(','),
    })
    const results = await Promise.all([runDbhook(['apply'], env), runDbhook(['apply'], env), runDbhook(['apply'], env)])
    for (const result of results) expect(result.code, result.stdout).toBe(0)
    const created = results.flatMap(
      (result) =>
        summaryOf(result)
          ?.databases.filter((d) => d.result === 'created')
          .map((d) => d.name) ?? [],
    )
    expect(created.sort()).toEqual([...dbs].sort())
    expect(results.map((result) => summaryOf(result)?.statements).filter((n) => n === 0)).toHaveLength(2)
  })

  test('an apply that cannot get the provisioning lock before the deadline exits 69 and changes nothing', async () => {
    const holder = await mysql.createConnection({ host: server.host, port: server.port, user: server.admin, password: server.password })
    try {
      const [rows] = await holder.query("SELECT GET_LOCK('dbhook', 0) AS got")
      expect(rows).toEqual([{ got: 1 }])
      const db = unique('locked_out')
      const result = await runDbhook(
        ['apply'],
        server.env(server.admin, server.password, {
          DBHOOK_OWNER: unique('lo'),
          DBHOOK_OWNER_PASSWORD: 'lo-pw-1',
          DBHOOK_DATABASES: db,
          DBHOOK_WAIT_TIMEOUT: '3s',
        }),
      )
      expect(result.code, result.stdout).toBe(69)
      expect(result.stdout).toContain('provisioning lock')
      expect(await schemas(server, [db])).toEqual([])
    } finally {
      await holder.end()
    }
  })

  test('SIGTERM while waiting for the lock exits 143 at once and its session leaves the server', async () => {
    const holder = await mysql.createConnection({ host: server.host, port: server.port, user: server.admin, password: server.password })
    try {
      await holder.query("SELECT GET_LOCK('dbhook', 0)")
      let pid = 0
      const running = runDbhook(
        ['apply'],
        server.env(server.admin, server.password, {
          DBHOOK_OWNER: unique('sig'),
          DBHOOK_OWNER_PASSWORD: 'sig-pw-1',
          DBHOOK_DATABASES: unique('sig'),
          DBHOOK_WAIT_TIMEOUT: '60s',
        }),
        {
          onSpawn: (p) => (pid = p),
        },
      )
      // Wait until dbhook's session is blocked in GET_LOCK, then stop it.
      const blocked = async () =>
        (
          await server.query<{ n: number }>(
            "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT GET_LOCK(%' AND ID <> CONNECTION_ID()",
          )
        )[0]?.n
      for (let i = 0; i < 100 && Number(await blocked()) === 0; i += 1) await new Promise((r) => setTimeout(r, 100))
      const signalled = Date.now()
      process.kill(pid, 'SIGTERM')
      const result = await running
      expect(result.code, result.stdout).toBe(143)
      expect(Date.now() - signalled).toBeLessThan(2_000)
      for (let i = 0; i < 20 && Number(await blocked()) > 0; i += 1) await new Promise((r) => setTimeout(r, 100))
      expect(Number(await blocked())).toBe(0)
    } finally {
      await holder.end()
    }
  })

  test('an admin that owns the databases itself gets them without any grant', async () => {
    const dbs = [unique('self_a'), unique('self_b')]
    const env = server.env(server.admin, server.password, { DBHOOK_DATABASES: dbs.join(',') })
    const first = await runDbhook(['apply'], env)
    expect(first.code, first.stdout).toBe(0)
    expect(summaryOf(first)).toMatchObject({ statements: 2 })
    expect((await runDbhook(['plan'], env)).code).toBe(0)
    expect((await runDbhook(['verify'], env)).code).toBe(0)
  })

  test('a port where nothing listens ends with exit 69 at the deadline', async () => {
    const port = await freePort()
    const result = await runDbhook(['wait'], {
      ...server.env(server.admin, server.password),
      DBHOOK_PORT: String(port),
      DBHOOK_WAIT_TIMEOUT: '2s',
    })
    expect(result.code, result.stdout).toBe(69)
    expect(result.stdout).toContain('ECONNREFUSED')
  })
})
