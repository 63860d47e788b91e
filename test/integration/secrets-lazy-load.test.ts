import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { dbhookBin, runDbhook } from '../support/dbhook.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'

// The Kubernetes client is in a chunk of its own beside dist/dbhook.mjs, loaded by import() only by a run that
// generates passwords: `--version` and a PostgreSQL plan without DBHOOK_*_GENERATED_SECRET never load it.

const probe = `--import=${join(import.meta.dirname, 'secrets-lazy-load.probe.mjs')}`
const dist = dirname(dbhookBin)
let server: PostgresServer
let clientChunk: string

interface Loaded {
  readonly files: string[]
  readonly builtins: string[]
}

function loaded(stderr: string): Loaded {
  const line = stderr.split('\n').find((l) => l.startsWith('dbhook-lazy-probe '))
  if (!line) throw new Error(`the probe printed nothing: ${stderr}`)
  return JSON.parse(line.slice('dbhook-lazy-probe '.length)) as Loaded
}

beforeAll(async () => {
  // V1PodSpec is one of the client's generated models, which dbhook's own code never names.
  const holding = readdirSync(dist).filter((name) => readFileSync(join(dist, name), 'utf8').includes('V1PodSpec'))
  expect(holding).toEqual([expect.stringMatching(/^kubernetes-secret-store-\w+\.mjs$/)])
  clientChunk = holding[0] as string
  server = await startPostgres(18)
})

afterAll(async () => {
  await server?.stop()
})

test('dbhook --version loads only the entry and a few small chunks, none of the client', async () => {
  const result = await runDbhook(['--version'], { NODE_OPTIONS: probe })
  expect(result.code).toBe(0)
  const { files, builtins } = loaded(result.stderr)
  expect(files).toContain('dbhook.mjs')
  expect(files).not.toContain(clientChunk)
  expect(files.filter((name) => !name.startsWith('chunk-') && name !== 'dbhook.mjs')).toEqual([])
  expect(builtins).toEqual([])
})

test('a PostgreSQL plan without generation loads none of it', async () => {
  const env = server.env('postgres', server.password, { DBHOOK_OWNER: 'postgres', DBHOOK_DATABASES: 'app', NODE_OPTIONS: probe })
  const result = await runDbhook(['plan'], env)
  expect(result.code, result.stdout).toBe(2)
  expect(result.logs.some((l) => String(l.msg).includes('create database "app"'))).toBe(true)
  const { files, builtins } = loaded(result.stderr)
  expect(files).toEqual(expect.arrayContaining(['dbhook.mjs', expect.stringMatching(/^postgres-adapter-\w+\.mjs$/)]))
  expect(files).not.toContain(clientChunk)
  expect(builtins).toEqual([])
})

test('a run that generates loads the client chunk (so the probe can tell)', async () => {
  const env = server.env('postgres', server.password, {
    DBHOOK_OWNER: 'openzro',
    DBHOOK_DATABASES: 'app',
    DBHOOK_OWNER_GENERATED_SECRET: 'openzro-credentials',
    NODE_OPTIONS: probe,
  })
  const result = await runDbhook(['plan'], env)
  // Outside a pod it stops before any request, naming what is missing.
  expect(result.code).toBe(78)
  expect(result.terminationMessage).toContain('DBHOOK_OWNER_GENERATED_SECRET needs the Kubernetes API from inside a pod')
  const { files, builtins } = loaded(result.stderr)
  expect(files).toContain(clientChunk)
  expect(builtins).toEqual(['http', 'https'])
})
