import { execFile as execFileCallback } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf, type RunResult } from '../support/dbhook.ts'
import { freePort } from '../support/ports.ts'
import { startSpannerEmulator, type SpannerEmulator } from '../support/spanner-emulator.ts'

const execFile = promisify(execFileCallback)

const project = 'dbhook-test'
const openzro = 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex'
const openzroNames = ['dex', 'openzro', 'openzro_activity', 'openzro_flow']
/** DDL only the PostgreSQL dialect parses (GoogleSQL writes INT64 and PRIMARY KEY after the columns). */
const postgresDdl = ['CREATE TABLE accounts (id bigint PRIMARY KEY, name varchar(64))']

let counter = 0
/** A fresh instance per test, so that the tests share one emulator without seeing each other's databases. */
function uniqueInstance(): string {
  counter += 1
  return `inst-${counter}`
}

function messages(result: RunResult): string[] {
  return result.logs.map((line) => String(line.msg))
}

describe('Cloud Spanner emulator (PostgreSQL dialect)', () => {
  let emulator: SpannerEmulator

  beforeAll(async () => {
    emulator = await startSpannerEmulator({ logRequests: true })
  })
  afterAll(async () => {
    await emulator?.stop()
  })

  const envFor = (instance: string, databases = openzro, extra: Record<string, string> = {}) => ({
    DBHOOK_ENGINE: 'spanner',
    DBHOOK_SPANNER_PROJECT: project,
    DBHOOK_SPANNER_INSTANCE: instance,
    DBHOOK_DATABASES: databases,
    SPANNER_EMULATOR_HOST: emulator.address,
    DBHOOK_WAIT_TIMEOUT: '60s',
    ...extra,
  })

  test("openZro's four databases are created with the PostgreSQL dialect; plan turns from 2 to 0 and a second apply changes nothing", async () => {
    const instance = uniqueInstance()
    await emulator.createInstance(project, instance)
    const env = envFor(instance)

    const missing = await runDbhook(['verify'], env)
    expect(missing.code, missing.stdout).toBe(1)
    for (const name of openzroNames)
      expect(missing.terminationMessage).toContain(`database "${name}" does not exist in projects/${project}/instances/${instance}`)

    const before = await runDbhook(['plan'], env)
    expect(before.code, before.stdout).toBe(2)
    expect(before.terminationMessage.trim()).toBe('plan: 4 changes pending')
    expect(messages(before)).toContain('plan: flow: create database "openzro_flow"')

    const first = await runDbhook(['apply'], env)
    expect(first.code, first.stdout).toBe(0)
    expect(summaryOf(first)).toMatchObject({ statements: 4 })
    expect(summaryOf(first)?.databases).toEqual([
      { key: 'management', name: 'openzro', result: 'created' },
      { key: 'flow', name: 'openzro_flow', result: 'created' },
      { key: 'activity', name: 'openzro_activity', result: 'created' },
      { key: 'dex', name: 'dex', result: 'created' },
    ])
    expect(first.terminationMessage.trim()).toBe(
      'apply: management=openzro created, flow=openzro_flow created, activity=openzro_activity created, dex=dex created',
    )
    expect(await emulator.databases(project, instance)).toEqual(openzroNames)
    // The application's PostgreSQL DDL applies in each: they are PostgreSQL-dialect databases.
    for (const name of openzroNames) expect(await emulator.applyDdl(project, instance, name, postgresDdl)).toBeUndefined()

    const after = await runDbhook(['plan'], env)
    expect(after.code, after.stdout).toBe(0)
    expect(after.terminationMessage.trim()).toBe('plan: in sync: 4 databases, nothing to do')

    const mark = emulator.mark()
    const second = await runDbhook(['apply'], env)
    expect(second.code, second.stdout).toBe(0)
    expect(await emulator.requestsSince(mark)).toMatchObject({ 'DatabaseAdmin.ListDatabases': 1 })
    expect((await emulator.requestsSince(mark))['DatabaseAdmin.CreateDatabase']).toBeUndefined()
    expect(summaryOf(second)).toMatchObject({ statements: 0 })
    expect(summaryOf(second)?.databases.map((db) => db.result)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged'])
    expect(await emulator.databases(project, instance)).toEqual(openzroNames)

    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(0)
    expect(verify.terminationMessage.trim()).toBe(
      `verify: 4 databases exist in projects/${project}/instances/${instance}, are READY and use the PostgreSQL dialect`,
    )

    const wait = await runDbhook(['wait'], { ...env, DBHOOK_DATABASES: '' })
    expect(wait.code, wait.stdout).toBe(0)
    expect(wait.terminationMessage).toContain(
      `Cloud Spanner instance projects/${project}/instances/${instance} (emulator at ${emulator.address}) answers`,
    )
  })

  test('plan makes one ListDatabases call for 12 databases as for 1, and creates nothing', async () => {
    const instance = uniqueInstance()
    await emulator.createInstance(project, instance)
    const twelve = Array.from({ length: 12 }, (_, i) => `db_${String(i + 1).padStart(2, '0')}`)
    expect((await runDbhook(['apply'], envFor(instance, twelve.join(',')))).code).toBe(0)
    for (const databases of [twelve.slice(0, 1), twelve]) {
      const mark = emulator.mark()
      const plan = await runDbhook(['plan'], envFor(instance, databases.join(',')))
      expect(plan.code, plan.stdout).toBe(0)
      const requests = await emulator.requestsSince(mark)
      expect(requests['DatabaseAdmin.ListDatabases'], JSON.stringify(requests)).toBe(1)
      expect(requests['DatabaseAdmin.CreateDatabase']).toBeUndefined()
      expect(requests['DatabaseAdmin.GetDatabase']).toBeUndefined()
    }
  })

  test('8 concurrent applies create each database once and all exit 0', async () => {
    const instance = uniqueInstance()
    await emulator.createInstance(project, instance)
    const env = envFor(instance, openzro, { DBHOOK_WAIT_TIMEOUT: '120s' })
    const runs = await Promise.all(Array.from({ length: 8 }, () => runDbhook(['apply'], env, { timeoutMs: 180_000 })))
    for (const run of runs) expect(run.code, run.stdout + run.stderr).toBe(0)
    const created = new Map<string, number>()
    for (const run of runs) {
      for (const db of summaryOf(run)?.databases ?? []) {
        if (db.result === 'created') created.set(db.name, (created.get(db.name) ?? 0) + 1)
        else expect(db.result).toBe('unchanged')
      }
    }
    expect(Object.fromEntries(created)).toEqual({ openzro: 1, openzro_flow: 1, openzro_activity: 1, dex: 1 })
    expect(await emulator.databases(project, instance)).toEqual(openzroNames)
    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(0)
  })

  test('a GoogleSQL database of the same name: plan reports it, apply refuses before creating anything, verify fails', async () => {
    const instance = uniqueInstance()
    await emulator.createInstance(project, instance)
    await emulator.createDatabase(project, instance, 'dex', 'GOOGLE_STANDARD_SQL')
    // The starting state is what it claims: PostgreSQL DDL does not apply to it.
    expect(await emulator.applyDdl(project, instance, 'dex', postgresDdl)).toMatch(/./)
    const env = envFor(instance)

    const plan = await runDbhook(['plan'], env)
    expect(plan.code, plan.stdout).toBe(1)
    expect(plan.terminationMessage).toContain(
      `dex: database "dex" exists in projects/${project}/instances/${instance} with the GoogleSQL dialect`,
    )

    const apply = await runDbhook(['apply'], env)
    expect(apply.code, apply.stdout).toBe(1)
    expect(apply.terminationMessage).toContain('dex: database "dex" exists')
    expect(apply.terminationMessage).toContain('GoogleSQL dialect')
    expect(await emulator.databases(project, instance)).toEqual(['dex'])

    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(1)
    expect(verify.terminationMessage).toContain('dex: database "dex" has the GoogleSQL dialect, not PostgreSQL')
    expect(verify.terminationMessage).toContain('management: database "openzro" does not exist')
  })

  test('an instance that does not exist ends wait, plan and apply at once with 78, naming it', async () => {
    const env = envFor('never-created', openzro, { DBHOOK_WAIT_TIMEOUT: '300s' })
    for (const command of ['wait', 'plan', 'apply']) {
      const run = await runDbhook([command], env)
      expect(run.code, run.stdout).toBe(78)
      expect(run.terminationMessage).toContain(
        `instance projects/${project}/instances/never-created does not exist: check DBHOOK_SPANNER_PROJECT and DBHOOK_SPANNER_INSTANCE`,
      )
    }
  })

  test('`dbhook sql` prints gcloud commands that, run twice against the emulator, leave a PostgreSQL-dialect database', async () => {
    const instance = uniqueInstance()
    await emulator.createInstance(project, instance)
    const env = envFor(instance, 'app=my-app')
    const sql = await runDbhook(['sql'], { ...env, SPANNER_EMULATOR_HOST: '' })
    expect(sql.code, sql.stderr).toBe(0)
    expect(sql.stdout).toContain(
      `gcloud spanner databases create my-app --instance=${instance} --project=${project} --database-dialect=POSTGRESQL`,
    )

    const dir = await mkdtemp(join(tmpdir(), 'dbhook-gcloud-'))
    try {
      await writeFile(join(dir, 'provision.sh'), sql.stdout)
      // gcloud against the emulator's REST port, with no credentials, no metadata-server probe and no telemetry.
      const gcloudEnv = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        CLOUDSDK_CONFIG: join(dir, 'gcloud'),
        CLOUDSDK_API_ENDPOINT_OVERRIDES_SPANNER: `http://${emulator.host}:${emulator.httpPort}/`,
        CLOUDSDK_AUTH_DISABLE_CREDENTIALS: 'true',
        CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
        CLOUDSDK_CORE_DISABLE_PROMPTS: 'true',
      }
      await execFile('sh', [join(dir, 'provision.sh')], { env: gcloudEnv, timeout: 120_000 })
      expect(await emulator.databases(project, instance)).toEqual(['my-app'])
      // The second run finds the database and creates nothing (a create would fail with ALREADY_EXISTS and set -e).
      await execFile('sh', [join(dir, 'provision.sh')], { env: gcloudEnv, timeout: 120_000 })
      expect(await emulator.databases(project, instance)).toEqual(['my-app'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    expect(await emulator.applyDdl(project, instance, 'my-app', postgresDdl)).toBeUndefined()
    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(0)
  })

  test('a database id with a hyphen is created by apply and checked by verify', async () => {
    const instance = uniqueInstance()
    await emulator.createInstance(project, instance)
    const env = envFor(instance, 'web=web-app')
    const apply = await runDbhook(['apply'], env)
    expect(apply.code, apply.stdout).toBe(0)
    expect(summaryOf(apply)?.databases).toEqual([{ key: 'web', name: 'web-app', result: 'created' }])
    expect(await emulator.applyDdl(project, instance, 'web-app', postgresDdl)).toBeUndefined()
    expect((await runDbhook(['verify'], env)).code).toBe(0)
  })

  test('nothing listening: wait gives up with 69 once DBHOOK_WAIT_TIMEOUT has passed', async () => {
    const port = await freePort()
    const run = await runDbhook(['wait'], {
      ...envFor('main'),
      SPANNER_EMULATOR_HOST: `127.0.0.1:${port}`,
      DBHOOK_WAIT_TIMEOUT: '3s',
      DBHOOK_CONNECT_TIMEOUT: '1s',
      DBHOOK_DATABASES: '',
    })
    expect(run.code, run.stdout).toBe(69)
    expect(run.terminationMessage).toContain(
      `Cloud Spanner instance projects/${project}/instances/main (emulator at 127.0.0.1:${port}) was not reachable before DBHOOK_WAIT_TIMEOUT ran out`,
    )
    expect(run.terminationMessage).toContain('UNAVAILABLE')
  })
})

describe('Spanner configuration', () => {
  const base = {
    DBHOOK_ENGINE: 'spanner',
    DBHOOK_SPANNER_PROJECT: project,
    DBHOOK_SPANNER_INSTANCE: 'main',
    DBHOOK_DATABASES: openzro,
    SPANNER_EMULATOR_HOST: '127.0.0.1:1',
  }

  test('every setting without meaning on Spanner is refused with 78, each named with what to do instead, and nothing is contacted', async () => {
    const refused = {
      DBHOOK_HOST: 'db',
      DBHOOK_ADMIN_USER: 'provisioner',
      DBHOOK_ADMIN_PASSWORD: 'spanner-admin-pw',
      DBHOOK_OWNER: 'openzro',
      DBHOOK_OWNER_PASSWORD: 'spanner-owner-pw',
      DBHOOK_APP_USER: 'app',
      DBHOOK_APP_PASSWORD: 'spanner-app-pw',
      DBHOOK_SSLMODE: 'verify-full',
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_EVENT_TRIGGER: 'on',
    }
    const run = await runDbhook(['apply'], { ...base, ...refused })
    expect(run.code, run.stdout).toBe(78)
    for (const name of Object.keys(refused)) expect(run.terminationMessage).toContain(`${name} has no meaning with DBHOOK_ENGINE=spanner`)
    expect(run.terminationMessage).toContain('roles/spanner.databaseUser')
    expect(run.terminationMessage).toContain('PGAdapter')
    expect(run.terminationMessage).toContain('roles/spanner.databaseAdmin')
  })

  test('backup, restore and drill are refused with 78, saying what to use instead', async () => {
    for (const args of [['backup'], ['restore', '--database', 'dex'], ['drill']]) {
      const run = await runDbhook(args, { ...base, DBHOOK_BACKUP_DIR: '/tmp' })
      expect(run.code, run.stdout).toBe(78)
      expect(run.terminationMessage).toContain(`dbhook ${args[0]} does not run on Spanner: use Spanner's managed backups`)
      expect(run.terminationMessage).toContain('DBHOOK_BACKUP_DIR has no meaning with DBHOOK_ENGINE=spanner')
    }
  })

  test('a database name Spanner would refuse, and a missing project or instance, are named before anything is contacted', async () => {
    const run = await runDbhook(['plan'], {
      ...base,
      DBHOOK_SPANNER_PROJECT: '',
      DBHOOK_SPANNER_INSTANCE: 'Main',
      DBHOOK_DATABASES: 'a=Openzro,b=x,c=ok_name,d=trailing_',
    })
    expect(run.code, run.stdout).toBe(78)
    expect(run.terminationMessage).toContain('DBHOOK_SPANNER_PROJECT is required')
    expect(run.terminationMessage).toContain('DBHOOK_SPANNER_INSTANCE "Main" is not a Spanner instance id')
    expect(run.terminationMessage).toContain('database "Openzro" must start with a lowercase letter')
    expect(run.terminationMessage).toContain('database "x" must be 2 to 30 characters long')
    expect(run.terminationMessage).toContain('database "trailing_" must not end with _ or -')
    expect(run.terminationMessage).not.toContain('ok_name')
  })
})
