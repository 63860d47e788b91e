import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { runDbhook } from '../support/dbhook.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'

// The Kubernetes client (embedded, compressed, in dist/dbhook.mjs) is compiled only by a run that generates
// passwords: `--version` and a PostgreSQL plan without DBHOOK_*_GENERATED_SECRET never load it.

const probe = `--import=${join(import.meta.dirname, 'secrets-lazy-load.probe.mjs')}`
let server: PostgresServer

function loaded(stderr: string): string[] {
  const line = stderr.split('\n').find((l) => l.startsWith('dbhook-lazy-probe '))
  if (!line) throw new Error(`the probe printed nothing: ${stderr}`)
  return JSON.parse(line.slice('dbhook-lazy-probe '.length)) as string[]
}

beforeAll(async () => {
  server = await startPostgres(18)
})

afterAll(async () => {
  await server?.stop()
})

test('dbhook --version loads none of it', async () => {
  const result = await runDbhook(['--version'], { NODE_OPTIONS: probe })
  expect(result.code).toBe(0)
  expect(loaded(result.stderr)).toEqual([])
})

test('a PostgreSQL plan without generation loads none of it', async () => {
  const env = server.env('postgres', server.password, { DBHOOK_OWNER: 'postgres', DBHOOK_DATABASES: 'app', NODE_OPTIONS: probe })
  const result = await runDbhook(['plan'], env)
  expect(result.code, result.stdout).toBe(2)
  expect(result.logs.some((l) => String(l.msg).includes('create database "app"'))).toBe(true)
  expect(loaded(result.stderr)).toEqual([])
})

test('a run that generates compiles and loads it (so the probe can tell)', async () => {
  const env = server.env('postgres', server.password, { DBHOOK_OWNER: 'openzro', DBHOOK_DATABASES: 'app', DBHOOK_OWNER_GENERATED_SECRET: 'openzro-credentials', NODE_OPTIONS: probe })
  const result = await runDbhook(['plan'], env)
  // Outside a pod it stops before any request, naming what is missing.
  expect(result.code).toBe(78)
  expect(result.terminationMessage).toContain('DBHOOK_OWNER_GENERATED_SECRET needs the Kubernetes API from inside a pod')
  expect(loaded(result.stderr)).toEqual(['http', 'https', 'vm', 'zlib'])
})
