import fc from 'fast-check'
import pg from 'pg'
import { expect } from 'vitest'
import { runDbhook, summaryOf, type RunResult } from '../support/dbhook.ts'
import type { PostgresServer } from '../support/postgres.ts'
import { canActAs, databaseOwners } from '../support/postgres-catalog.ts'
import { unique } from '../support/unique.ts'
import { databaseNames, roleNames, waitForNoDbhookSessions } from './helpers.ts'
import { ms } from './report.ts'

/** The admin a case runs as: the superuser, or a role with only the attributes it needs. */
export interface Admin {
  readonly user: string
  readonly password: string
  readonly label: string
}

/** Creates a LOGIN role with CREATEDB and CREATEROLE only (never SUPERUSER), as a cloud provisioner would be. */
export async function leastPrivilegeAdmin(server: PostgresServer): Promise<Admin> {
  const user = unique('provisioner')
  const password = `lp-admin-${Math.random().toString(36).slice(2)}`
  await server.query(
    `CREATE ROLE ${pg.escapeIdentifier(user)} LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD ${pg.escapeLiteral(password)}`,
  )
  const rows = await server.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [user])
  expect(rows[0]?.rolsuper).toBe(false)
  return { user, password, label: 'CREATEDB+CREATEROLE' }
}

export const superuser = (server: PostgresServer): Admin => ({ user: server.superuser, password: server.password, label: 'superuser' })

/**
 * 16 applies of the same configuration started at once: all exit 0, every database exists with the owner, and
 * exactly one run reports each database as created.
 */
export async function raceApplies(server: PostgresServer, admin: Admin, runs = 16): Promise<{ runs: number; figures: string }> {
  const owner = unique('race_owner')
  const dbs = ['openzro', 'openzro_flow', 'openzro_activity', 'dex'].map((n) => `${unique('race')}_${n}`)
  const env = server.env(admin.user, admin.password, {
    DBHOOK_OWNER: owner,
    DBHOOK_OWNER_PASSWORD: `race-owner-${Math.random().toString(36).slice(2)}`,
    DBHOOK_DATABASES: dbs.map((db, i) => `k${i}=${db}`).join(','),
    DBHOOK_WAIT_TIMEOUT: '120s',
    DBHOOK_LOG_LEVEL: 'debug',
  })
  const started = Date.now()
  const results = await Promise.all(Array.from({ length: runs }, () => runDbhook(['apply'], env, { timeoutMs: 120_000 })))
  const wall = Date.now() - started
  for (const result of results) expect(result.code, result.stdout).toBe(0)
  expect(await databaseOwners(server, dbs)).toEqual(Object.fromEntries(dbs.map((db) => [db, owner])))
  const existing = await server.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY datname', [
    dbs,
  ])
  expect(existing.map((row) => row.datname)).toEqual([...dbs].sort())
  for (const db of dbs) {
    const creators = results.filter((result) => summaryOf(result)?.databases.find((d) => d.name === db)?.result === 'created')
    expect(creators.length, `runs that say they created ${db}`).toBe(1)
  }
  // A lent membership is taken back by the run that lent it (a superuser holds every role anyway).
  expect(await canActAs(server, admin.user, owner)).toBe(admin.user === server.superuser)
  await waitForNoDbhookSessions(server)
  const slowest = Math.max(...results.map((r) => r.durationMs))
  return {
    runs,
    figures: `${runs} x exit 0; ${dbs.length} databases, each "created" by exactly one run; wall ${ms(wall)}, slowest run ${ms(slowest)}`,
  }
}

// Pieces that break naive quoting or parsing, in SQL, JSON, shells and logs.
const nameFragments = [
  "'",
  '"',
  '\\',
  ';',
  '--',
  '/*',
  '*/',
  ' ',
  '  ',
  '$$',
  '$1',
  '%s',
  '?',
  '`',
  ',',
  '=',
  '[',
  '{',
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
  '_',
  'pg_',
  'public',
  'postgres',
]

/** A name body, and which byte-length edge (if any) the test pads it to. */
const nameArbitrary = fc.record({
  parts: fc.array(fc.constantFrom(...nameFragments), { minLength: 1, maxLength: 5 }),
  edge: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 4 },
    { arbitrary: fc.constant(63), weight: 2 },
    { arbitrary: fc.constant(64), weight: 1 },
  ),
  padWith: fc.constantFrom('x', 'é', '数'),
})

const printableAscii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
const passwordArbitrary = fc
  .array(fc.constantFrom(...printableAscii, 'é', 'ü', '密', '🔑'), { minLength: 4, maxLength: 40 })
  .map((chars) => chars.join(''))

/**
 * Builds `tag + body` (the tag keeps names unique across runs), padded to exactly `edge` bytes when asked (a
 * multi-byte pad may end one byte short). Names the rules reserve keep their shape: `pg_…` gets the tag at the
 * end, and a lone `postgres` database or `public` role is used as is.
 */
function buildName(tag: string, spec: { parts: string[]; edge: number | undefined; padWith: string }, reserved: string): string {
  if (spec.parts.length === 1 && spec.parts[0] === reserved && spec.edge === undefined) return reserved
  let name = spec.parts[0] === 'pg_' ? `${spec.parts.join('')}${tag}` : `${tag}${spec.parts.join('')}`
  if (spec.edge === undefined) return name
  while (Buffer.byteLength(name) + Buffer.byteLength(spec.padWith) <= spec.edge) name += spec.padWith
  while (Buffer.byteLength(name) < spec.edge) name += 'y'
  while (Buffer.byteLength(name) > spec.edge) name = [...name].slice(0, -1).join('')
  return name
}

// The rules a user can read in the docs, written here independently of src/engines/postgres/postgres-names.ts.
function expectedProblem(database: string, owner: string): string | undefined {
  if (Buffer.byteLength(database) > 63 || Buffer.byteLength(owner) > 63) return 'longer than 63 bytes'
  if (['postgres', 'template0', 'template1'].includes(database)) return 'system database'
  const lower = owner.toLowerCase()
  if (['public', 'none', 'current_user', 'session_user', 'current_role'].includes(lower) || lower.startsWith('pg_')) return 'reserved role'
  return undefined
}

let tagCounter = 0

/**
 * Property: for hostile database and owner names and passwords, apply either creates exactly that database and
 * that role (and the owner logs in with exactly that password), or refuses with 78 before any change; nothing
 * else appears on the server; no statement fails with a syntax error (checked in the server log by the caller).
 */
export async function hostileNames(server: PostgresServer, admin: Admin, numRuns: number): Promise<{ runs: number; figures: string }> {
  let created = 0
  let refused = 0
  const durations: number[] = []
  const allPrintable = printableAscii.join('')
  await fc.assert(
    fc.asyncProperty(nameArbitrary, nameArbitrary, passwordArbitrary, async (dbSpec, ownerSpec, passwordBody) => {
      tagCounter += 1
      const database = buildName(`D${tagCounter}`, dbSpec, 'postgres')
      const owner = buildName(`R${tagCounter}`, ownerSpec, 'public')
      const password = `P${tagCounter}~${passwordBody}`
      const before = { databases: await databaseNames(server), roles: await roleNames(server) }
      const env = server.env(admin.user, admin.password, {
        DBHOOK_DATABASES: JSON.stringify([database]),
        DBHOOK_OWNER: owner,
        DBHOOK_OWNER_PASSWORD: password,
        DBHOOK_LOG_LEVEL: 'debug',
      })
      const run: RunResult = await runDbhook(['apply'], env)
      durations.push(run.durationMs)
      const after = { databases: await databaseNames(server), roles: await roleNames(server) }
      const problem = expectedProblem(database, owner)
      if (problem) {
        expect(run.code, `${problem}: ${run.stdout}`).toBe(78)
        expect(after).toEqual(before)
        refused += 1
        return
      }
      expect(run.code, run.stdout).toBe(0)
      expect(after.databases.filter((d) => !before.databases.includes(d))).toEqual([database])
      expect(after.roles.filter((r) => !before.roles.includes(r))).toEqual([owner])
      expect(before.databases.filter((d) => !after.databases.includes(d))).toEqual([])
      expect(await databaseOwners(server, [database])).toEqual({ [database]: owner })
      const me = await server.query<{ me: string; db: string }>('SELECT current_user AS me, current_database() AS db', [], {
        user: owner,
        password,
        database,
      })
      expect(me[0]).toEqual({ me: owner, db: database })
      expect(summaryOf(run)?.databases).toEqual([{ key: database, name: database, result: 'created' }])
      created += 1
    }),
    {
      numRuns,
      endOnFailure: true,
      examples: [
        [
          { parts: ["'; DROP ROLE postgres; --"], edge: 63, padWith: 'é' },
          { parts: ['"', '\\', 'MiXeD'], edge: undefined, padWith: 'x' },
          allPrintable,
        ],
        [{ parts: ['/*', '*/'], edge: 64, padWith: 'x' }, { parts: ['a'], edge: undefined, padWith: 'x' }, allPrintable],
        [{ parts: ['数据'], edge: undefined, padWith: 'x' }, { parts: ['🦄', ' '], edge: 63, padWith: '数' }, `${allPrintable}é密🔑`],
        [{ parts: ['postgres'], edge: undefined, padWith: 'x' }, { parts: ['a'], edge: undefined, padWith: 'x' }, 'x'],
        [{ parts: ['a'], edge: undefined, padWith: 'x' }, { parts: ['public'], edge: undefined, padWith: 'x' }, 'x'],
        [{ parts: ['a'], edge: undefined, padWith: 'x' }, { parts: ['pg_', 'MiXeD'], edge: undefined, padWith: 'x' }, 'x'],
      ],
    },
  )
  await waitForNoDbhookSessions(server)
  return {
    runs: created + refused,
    figures: `${created} created exactly as given, ${refused} refused with 78 and no change; runs ${ms(Math.min(...durations))}-${ms(Math.max(...durations))}`,
  }
}

/** Server log lines with SQLSTATE 42601 (the log_line_prefix must start with `%e `). */
export async function syntaxErrors(server: PostgresServer): Promise<string[]> {
  return (await server.log()).split('\n').filter((line) => line.startsWith('42601 '))
}

export const syntaxErrorLogging = ["log_line_prefix = '%e '", "log_min_error_statement = 'error'"]
