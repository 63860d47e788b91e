import fc from 'fast-check'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf } from '../support/dbhook.ts'
import { startMariadb, type MariadbServer } from '../support/mariadb.ts'
import { unique } from '../support/unique.ts'
import { ms, ReliabilityReport } from './report.ts'

const report = new ReliabilityReport('40-mariadb', 'MariaDB: races and hostile input', 40)

async function schemata(server: MariadbServer): Promise<string[]> {
  return (await server.query<{ name: string }>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY 1')).map((r) => r.name)
}

async function accounts(server: MariadbServer): Promise<string[]> {
  return (await server.query<{ account: string }>("SELECT CONCAT(User, '@', Host) AS account FROM mysql.user ORDER BY 1")).map(
    (r) => r.account,
  )
}

/** Logs in as `user` with `password` over TCP, into `database`; returns what the server says the session is. */
async function loginAs(server: MariadbServer, user: string, password: string, database: string): Promise<{ me: string; db: string }> {
  const connection = await mysql.createConnection({ host: server.host, port: server.port, user, password, database })
  try {
    const [rows] = await connection.query('SELECT CURRENT_USER() AS me, DATABASE() AS db')
    return (rows as { me: string; db: string }[])[0]!
  } finally {
    await connection.end()
  }
}

// MariaDB's own limits (https://mariadb.com/kb/en/identifier-names/): identifiers are BMP-only utf8 without NUL;
// database names at most 64 characters, never ending in white space, and kept as a directory whose name spells
// each character other than [0-9A-Za-z_] with 3 or 5 bytes, within the file system's 255; user names lose
// trailing spaces, and dbhook keeps them to MySQL's 32 characters. Returns 'refuse', 'accept', or 'either' where
// the directory name may or may not fit (this test does not copy the server's table of 3-byte characters).
function expectedVerdict(database: string, user: string): 'refuse' | 'accept' | 'either' {
  if ([...database].length > 64 || [...user].length > 32) return 'refuse'
  if (/\s$/u.test(database) || /\s$/u.test(user)) return 'refuse'
  if (['mysql', 'information_schema', 'performance_schema', 'sys'].includes(database.toLowerCase())) return 'refuse'
  if (/[\u{10000}-\u{10FFFF}]/u.test(database + user)) return 'refuse'
  const plain = [...database].filter((c) => /[0-9A-Za-z_]/.test(c)).length
  const other = [...database].length - plain
  if (plain + 3 * other > 255) return 'refuse'
  if (plain + 5 * other > 255) return 'either'
  return 'accept'
}

const fragments = [
  "'",
  '"',
  '`',
  '\\',
  ';',
  '--',
  '#',
  '/*',
  '*/',
  ' ',
  '$$',
  '%',
  '_',
  '?',
  ',',
  '=',
  '.',
  '/',
  '@',
  'Ab',
  'MiXeD',
  'DROP DATABASE x',
  'é',
  'ß',
  '数据',
  '🦄',
  '\t',
  'a',
  'Z',
  '0',
]
const nameSpec = fc.record({
  parts: fc.array(fc.constantFrom(...fragments), { minLength: 1, maxLength: 5 }),
  // Pad to a character count just under, at, or over the limit of the kind of name (0 = no padding).
  edge: fc.oneof(
    { arbitrary: fc.constant(0), weight: 4 },
    { arbitrary: fc.constant(-1), weight: 1 },
    { arbitrary: fc.constant(1), weight: 1 },
    { arbitrary: fc.constant(-12), weight: 1 },
  ),
  padWith: fc.constantFrom('x', 'é', '数'),
})
const printableAscii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
const passwordBody = fc.array(fc.constantFrom(...printableAscii, 'é', '密'), { minLength: 4, maxLength: 40 }).map((c) => c.join(''))

function buildName(tag: string, spec: { parts: string[]; edge: number; padWith: string }, limit: number): string {
  let chars = [...`${tag}${spec.parts.join('')}`]
  if (spec.edge === 0) return chars.join('')
  const target = limit + spec.edge
  while (chars.length < target) chars.push(spec.padWith)
  chars = chars.slice(0, target)
  return chars.join('')
}

describe('MariaDB (Debian)', () => {
  let server: MariadbServer

  beforeAll(async () => {
    server = await startMariadb()
    report.server = server.version
  })
  afterAll(async () => {
    await server?.stop()
    await report.write()
  })

  test('16 applies started at once: all succeed and exactly one creates each database', async () => {
    await report.measure('16 applies at once', async () => {
      const owner = unique('race_owner')
      const ownerPassword = `race-owner-${Math.random().toString(36).slice(2)}`
      const dbs = ['openzro', 'flow', 'activity', 'dex'].map((n) => `${unique('race')}_${n}`)
      const env = server.env(server.admin, server.password, {
        DBHOOK_OWNER: owner,
        DBHOOK_OWNER_PASSWORD: ownerPassword,
        DBHOOK_DATABASES: dbs.map((db, i) => `k${i}=${db}`).join(','),
        DBHOOK_WAIT_TIMEOUT: '120s',
        DBHOOK_LOG_LEVEL: 'debug',
      })
      const started = Date.now()
      const results = await Promise.all(Array.from({ length: 16 }, () => runDbhook(['apply'], env, { timeoutMs: 120_000 })))
      const wall = Date.now() - started
      for (const result of results) expect(result.code, result.stdout).toBe(0)
      const all = await schemata(server)
      for (const db of dbs) {
        expect(all.filter((name) => name === db)).toEqual([db])
        expect(await loginAs(server, owner, ownerPassword, db)).toMatchObject({ db })
        const creators = results.filter((r) => summaryOf(r)?.databases.find((d) => d.name === db)?.result === 'created')
        expect(creators.length, `runs that say they created ${db}`).toBe(1)
      }
      expect((await accounts(server)).filter((a) => a.startsWith(`${owner}@`))).toEqual([`${owner}@%`])
      return {
        runs: 16,
        figures: `16 x exit 0; 4 databases, each "created" by exactly one run; wall ${ms(wall)}, slowest run ${ms(Math.max(...results.map((r) => r.durationMs)))}`,
      }
    })
  })

  test('hostile database names, user names and passwords are created exactly as given or refused with 78', async () => {
    await report.measure('hostile names and passwords (fast-check)', async () => {
      let created = 0
      let refused = 0
      let tag = 0
      await fc.assert(
        fc.asyncProperty(nameSpec, nameSpec, passwordBody, async (dbSpec, userSpec, body) => {
          tag += 1
          const database = buildName(`d${tag}`, dbSpec, 64)
          const user = buildName(`u${tag}`, userSpec, 32)
          const password = `P${tag}~${body}`
          const before = { schemata: await schemata(server), accounts: await accounts(server) }
          const run = await runDbhook(
            ['apply'],
            server.env(server.admin, server.password, {
              DBHOOK_DATABASES: JSON.stringify([database]),
              DBHOOK_OWNER: user,
              DBHOOK_OWNER_PASSWORD: password,
              DBHOOK_LOG_LEVEL: 'debug',
            }),
          )
          const after = { schemata: await schemata(server), accounts: await accounts(server) }
          const verdict = expectedVerdict(database, user)
          const what = `${JSON.stringify({ database, user, verdict })} ${run.stdout}`
          if (verdict === 'refuse' || (verdict === 'either' && run.code === 78)) {
            expect(run.code, what).toBe(78)
            expect(after).toEqual(before)
            refused += 1
            return
          }
          expect(run.code, what).toBe(0)
          expect(after.schemata.filter((s) => !before.schemata.includes(s))).toEqual([database])
          expect(after.accounts.filter((a) => !before.accounts.includes(a))).toEqual([`${user}@%`])
          expect(await loginAs(server, user, password, database)).toMatchObject({ db: database })
          expect(summaryOf(run)?.databases).toEqual([{ key: database, name: database, result: 'created' }])
          created += 1
        }),
        {
          numRuns: 30,
          endOnFailure: true,
          examples: [
            [{ parts: ['a'], edge: -4, padWith: '数' }, { parts: ['a'], edge: 0, padWith: 'x' }, 'x'],
            [{ parts: ['a', '\t'], edge: 0, padWith: 'x' }, { parts: ['a', ' '], edge: 0, padWith: 'x' }, 'x'],
            [
              { parts: ["'; DROP DATABASE mysql; --"], edge: 0, padWith: 'x' },
              { parts: ['`', '\\', "'"], edge: 0, padWith: 'x' },
              printableAscii.join(''),
            ],
            [{ parts: ['数据'], edge: 0, padWith: 'x' }, { parts: ['a'], edge: 0, padWith: 'é' }, printableAscii.join('')],
            [{ parts: ['a'], edge: 0, padWith: 'x' }, { parts: ['a'], edge: 1, padWith: 'x' }, 'x'],
            [{ parts: ['a'], edge: 1, padWith: '数' }, { parts: ['a'], edge: 0, padWith: 'x' }, 'x'],
          ],
        },
      )
      return { runs: created + refused, figures: `${created} created exactly as given, ${refused} refused with 78 and no change` }
    })
  }, 300_000)

  test('a 60-character CJK database name is refused with 78 before any change', async () => {
    const database = `d${'数'.repeat(59)}`
    const before = { schemata: await schemata(server), accounts: await accounts(server) }
    const run = await runDbhook(
      ['apply'],
      server.env(server.admin, server.password, {
        DBHOOK_DATABASES: JSON.stringify([database]),
        DBHOOK_OWNER: unique('cjk_owner'),
        DBHOOK_OWNER_PASSWORD: 'cjk-owner-password',
      }),
    )
    expect({ schemata: await schemata(server), accounts: await accounts(server) }).toEqual(before)
    expect(run.code, run.stdout).toBe(78)
  })

  test('a database name ending in a tab is refused with 78 before any change', async () => {
    const before = { schemata: await schemata(server), accounts: await accounts(server) }
    const run = await runDbhook(
      ['apply'],
      server.env(server.admin, server.password, {
        DBHOOK_DATABASES: JSON.stringify([`${unique('tab')}\t`]),
        DBHOOK_OWNER: unique('tab_owner'),
        DBHOOK_OWNER_PASSWORD: 'tab-owner-password',
      }),
    )
    expect({ schemata: await schemata(server), accounts: await accounts(server) }).toEqual(before)
    expect(run.code, run.stdout).toBe(78)
  })

  test('a user name ending in a space is refused with 78', async () => {
    const user = `${unique('trailing')} `
    const before = { schemata: await schemata(server), accounts: await accounts(server) }
    const run = await runDbhook(
      ['apply'],
      server.env(server.admin, server.password, {
        DBHOOK_DATABASES: unique('trailing_db'),
        DBHOOK_OWNER: user,
        DBHOOK_OWNER_PASSWORD: 'trailing-owner-password',
      }),
    )
    expect({ schemata: await schemata(server), accounts: await accounts(server) }).toEqual(before)
    expect(run.code, run.stdout).toBe(78)
  })

  test('a name with a character outside the BMP is refused with 78', async () => {
    const cases: [database: string, user: string][] = [
      [unique('bmp_db'), `u${Date.now() % 1000}🦄`],
      [`🦄${unique('d')}`, unique('bmp_user')],
    ]
    for (const [database, user] of cases) {
      const before = { schemata: await schemata(server), accounts: await accounts(server) }
      const run = await runDbhook(
        ['apply'],
        server.env(server.admin, server.password, {
          DBHOOK_DATABASES: JSON.stringify([database]),
          DBHOOK_OWNER: user,
          DBHOOK_OWNER_PASSWORD: 'bmp-owner-password',
        }),
      )
      expect({ schemata: await schemata(server), accounts: await accounts(server) }).toEqual(before)
      expect(run.code, run.stdout).toBe(78)
    }
  })
})
