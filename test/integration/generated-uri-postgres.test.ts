import { execFile as execFileCallback } from 'node:child_process'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { connectionKeys, type ConnectionFacts } from '../../src/kubernetes/connection-keys.ts'
import { generatePassword } from '../../src/kubernetes/generated-password.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'

// The uri-<key> values of a generated Secret, read as they are by the three clients the issue names: libpq
// (psql), pgx (a Go program built here from the Go module proxy) and node-postgres, against a real server, with
// user and database names that need percent-encoding.

const execFile = promisify(execFileCallback)
const tools = process.env.DBHOOK_TOOLS ?? '/var/tmp/dbhook-tools'
const probeDir = resolve(import.meta.dirname, 'pgx-probe')
const probeBin = join(tools, 'pgx-probe', 'pgx-probe')

const user = 'app user;x@y:z=+'
const databases = [
  { key: 'management', name: 'openzro' },
  { key: 'odd', name: 'db name;a=b&c+d,e$f:g@h%i é' },
]
const slashed = { key: 'slashed', name: 'a/b?c#d' }

let server: PostgresServer
let password: string
let keys: Record<string, string>

/** Runs a client with the URI in its environment only, never on its command line. */
async function who(command: string, args: string[], uri: string): Promise<string[]> {
  const { stdout } = await execFile(command, args, {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: uri, HOME: '/nonexistent' },
    timeout: 60_000,
  })
  return stdout.trim().split('\n')
}

// psql takes the URI as its dbname argument; a shell hands it over from the environment.
const psql = (uri: string) =>
  who('sh', ['-c', 'exec psql -X -tA -c "SELECT current_user" -c "SELECT current_database()" "$DATABASE_URL"'], uri)

async function nodePostgres(uri: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: uri })
  await client.connect()
  try {
    const { rows } = await client.query<{ u: string; d: string }>('SELECT current_user AS u, current_database() AS d')
    return [rows[0]!.u, rows[0]!.d]
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  // Built once into the tools folder; go.sum pins every module.
  await execFile('go', ['build', '-trimpath', '-o', probeBin, '.'], {
    cwd: probeDir,
    env: {
      ...process.env,
      PATH: `/usr/local/go/bin:${process.env.PATH ?? ''}`,
      GOPATH: join(tools, 'go'),
      GOCACHE: join(tools, 'go/cache'),
      GOFLAGS: '-mod=readonly -buildvcs=false',
    },
    timeout: 600_000,
  })
  server = await startPostgres(18)
  password = generatePassword()
  const { escapeIdentifier, escapeLiteral } = pg
  await server.query(`CREATE ROLE ${escapeIdentifier(user)} LOGIN PASSWORD ${escapeLiteral(password)}`)
  for (const db of [...databases, slashed])
    await server.query(`CREATE DATABASE ${escapeIdentifier(db.name)} OWNER ${escapeIdentifier(user)}`)
  const facts: ConnectionFacts = {
    engine: 'postgres',
    host: server.host,
    port: server.port,
    sslMode: 'disable',
    username: user,
    password,
    databases: [...databases, slashed],
  }
  keys = connectionKeys(facts)
}, 600_000)

afterAll(async () => {
  await server?.stop()
})

describe('uri-<key> as libpq, pgx and node-postgres read it', () => {
  test.each(databases)('$key: every client logs in as the user, into the database', async (db) => {
    const uri = keys[`uri-${db.key}`]!
    expect(uri).toMatch(/^postgresql:\/\/[^/]+@127\.0\.0\.1:\d+\/.+\?sslmode=disable$/)
    expect(await psql(uri)).toEqual([user, db.name])
    expect(await who(probeBin, [], uri)).toEqual([user, db.name])
    expect(await nodePostgres(uri)).toEqual([user, db.name])
  })

  test('a name holding / ? or #: libpq and pgx read it; node-postgres does not, as docs/kubernetes-secrets.md says', async () => {
    const uri = keys['uri-slashed']!
    expect(await psql(uri)).toEqual([user, slashed.name])
    expect(await who(probeBin, [], uri)).toEqual([user, slashed.name])
    await expect(nodePostgres(uri)).rejects.toThrow(/database "a%2Fb%3Fc%23d" does not exist/)
  })

  test('sslmode=prefer against a server without TLS: libpq and pgx fall back to plaintext; node-postgres takes it for verify-full', async () => {
    const uri = keys['uri-management']!.replace('sslmode=disable', 'sslmode=prefer')
    expect(await psql(uri)).toEqual([user, 'openzro'])
    expect(await who(probeBin, [], uri)).toEqual([user, 'openzro'])
    await expect(nodePostgres(uri)).rejects.toThrow(/does not support SSL/)
  })
})
