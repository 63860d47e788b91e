import { execFileSync } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
import { readDatabase } from '../../src/engines/spanner/spanner-client.ts'
import { classifySpannerError } from '../../src/engines/spanner/spanner-errors.ts'
import { spannerDatabaseNameProblem, spannerInstanceProblem, spannerProjectProblem } from '../../src/engines/spanner/spanner-names.ts'
import { shellWord, spannerScript } from '../../src/engines/spanner/spanner-script.ts'
import { ConfigError, ExitCode } from '../../src/errors.ts'

const base = {
  DBHOOK_ENGINE: 'spanner',
  DBHOOK_SPANNER_PROJECT: 'my-project',
  DBHOOK_SPANNER_INSTANCE: 'main',
  DBHOOK_DATABASES: 'management=openzro,dex=dex',
}

function problemsOf(env: Record<string, string>, command: Parameters<typeof loadConfig>[1] = 'apply'): string[] {
  try {
    loadConfig(env, command, { rules: configRules })
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  return []
}

describe('Spanner configuration', () => {
  test('project, instance and databases are all a Spanner run needs; Google endpoint without SPANNER_EMULATOR_HOST', () => {
    const config = loadConfig(base, 'apply', { rules: configRules })
    expect(config).toMatchObject({
      engine: 'spanner',
      host: 'spanner.googleapis.com',
      port: 443,
      spanner: { project: 'my-project', instance: 'main' },
      secrets: [],
      warnings: [],
    })
    expect(config.spanner?.emulatorHost).toBeUndefined()
    expect(config.databases).toEqual([
      { key: 'management', name: 'openzro' },
      { key: 'dex', name: 'dex' },
    ])
    expect(loadConfig({ ...base, SPANNER_EMULATOR_HOST: 'localhost:9010' }, 'apply', { rules: configRules })).toMatchObject({
      host: 'localhost',
      port: 9010,
      spanner: { emulatorHost: 'localhost:9010' },
    })
    expect(loadConfig({ ...base, DBHOOK_DATABASES: '' }, 'wait', { rules: configRules }).databases).toEqual([])
  })

  test('each setting without meaning is refused by name, _FILE variants and MySQL settings included, never with its value', () => {
    const problems = problemsOf({
      ...base,
      DBHOOK_PORT: '5432',
      DBHOOK_ADMIN_PASSWORD_FILE: '/nonexistent',
      DBHOOK_ADMIN_DATABASE: 'postgres',
      DBHOOK_OWNER_PASSWORD: 'unit-secret-value',
      DBHOOK_SSLROOTCERT: '/ca.pem',
      DBHOOK_CONNECTION_LIMIT: '5',
      DBHOOK_MYSQL_CHARSET: 'utf8mb4',
    })
    for (const name of [
      'DBHOOK_PORT',
      'DBHOOK_ADMIN_PASSWORD_FILE',
      'DBHOOK_ADMIN_DATABASE',
      'DBHOOK_OWNER_PASSWORD',
      'DBHOOK_SSLROOTCERT',
      'DBHOOK_CONNECTION_LIMIT',
      'DBHOOK_MYSQL_CHARSET',
    ]) {
      expect(
        problems.some((p) => p.startsWith(`${name} has no meaning with DBHOOK_ENGINE=spanner`)),
        name,
      ).toBe(true)
    }
    expect(problems.join('\n')).not.toContain('unit-secret-value')
    expect(problems.find((p) => p.startsWith('DBHOOK_MYSQL_CHARSET'))).toContain('MySQL/MariaDB setting')
  })

  test('empty variables count as unset (Helm renders absent values as empty strings), unknown ones warn', () => {
    const config = loadConfig({ ...base, DBHOOK_HOST: '', DBHOOK_OWNER: '', DBHOOK_TYPO: 'x' }, 'apply', { rules: configRules })
    expect(config.warnings).toEqual(['DBHOOK_TYPO is not a dbhook variable and is ignored'])
  })

  test('an invalid project, instance or SPANNER_EMULATOR_HOST is named', () => {
    const problems = problemsOf({
      ...base,
      DBHOOK_SPANNER_PROJECT: 'projects/x',
      DBHOOK_SPANNER_INSTANCE: 'projects/p/instances/i',
      SPANNER_EMULATOR_HOST: 'http://localhost:9010',
    })
    expect(problems).toEqual([
      'DBHOOK_SPANNER_PROJECT "projects/x" must be the project id alone, without "projects/"',
      'DBHOOK_SPANNER_INSTANCE "projects/p/instances/i" must be the instance id alone, without "projects/…/instances/"',
      'SPANNER_EMULATOR_HOST "http://localhost:9010" must be host:port without a scheme, e.g. localhost:9010',
    ])
  })

  test('DBHOOK_SPANNER_* set for another engine is known and ignored', () => {
    const config = loadConfig(
      { DBHOOK_HOST: 'db', DBHOOK_ADMIN_USER: 'u', DBHOOK_DATABASES: 'a', DBHOOK_SPANNER_PROJECT: 'my-project' },
      'apply',
      { rules: configRules },
    )
    expect(config.engine).toBe('postgres')
    expect(config.warnings).toEqual([])
  })
})

describe('Spanner ids', () => {
  test('database ids: 2-30 characters, lowercase, digits, _ and -, a letter first, no _ or - last', () => {
    for (const ok of ['ab', 'openzro_flow', 'web-app', 'a1', 'a'.repeat(30)]) expect(spannerDatabaseNameProblem(ok), ok).toBeUndefined()
    for (const bad of ['a', 'a'.repeat(31), '1db', '_db', 'Db', 'db.x', 'db name', 'db-', 'db_', 'dé'])
      expect(spannerDatabaseNameProblem(bad), bad).toBeDefined()
  })

  test('project and instance ids', () => {
    for (const ok of ['my-project', 'dbhook-test', 'example.com:my-project']) expect(spannerProjectProblem(ok), ok).toBeUndefined()
    for (const bad of ['short', 'My-project', 'my-project-', '1project', 'projects/my-project'])
      expect(spannerProjectProblem(bad), bad).toBeDefined()
    for (const ok of ['main', 'ab', 'prod-1']) expect(spannerInstanceProblem(ok), ok).toBeUndefined()
    for (const bad of ['a', 'Main', 'main-', '1main', 'a'.repeat(65)]) expect(spannerInstanceProblem(bad), bad).toBeDefined()
  })
})

describe('Spanner error classification', () => {
  const call = {
    action: 'create database "dex" in projects/p/instances/i',
    permission: 'spanner.databases.create',
    instancePath: 'projects/p/instances/i',
  }
  const grpc = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details })

  test('UNAVAILABLE and DEADLINE_EXCEEDED are retried', () => {
    expect(classifySpannerError(grpc(14, 'No connection established'), call)).toEqual({
      retry: true,
      reason: 'UNAVAILABLE: No connection established',
    })
    expect(classifySpannerError(grpc(4, 'Deadline exceeded'), call)).toMatchObject({
      retry: true,
      reason: 'DEADLINE_EXCEEDED: Deadline exceeded',
    })
  })

  test('PERMISSION_DENIED and UNAUTHENTICATED exit 77 at once, naming the permission or the credentials to check', () => {
    const denied = classifySpannerError(
      grpc(7, 'Caller is missing IAM permission spanner.databases.create on resource projects/p/instances/i.'),
      call,
    )
    expect(denied.retry).toBe(false)
    if (denied.retry) return
    expect(denied.error.exitCode).toBe(ExitCode.noPermission)
    expect(denied.error.message).toContain('lacks spanner.databases.create (PERMISSION_DENIED)')
    const listing = classifySpannerError(grpc(7, 'denied'), {
      ...call,
      action: 'list the databases of projects/p/instances/i',
      permission: 'spanner.databases.list',
    })
    expect(!listing.retry && listing.error.message).toContain('lacks spanner.databases.list')
    const unauthenticated = classifySpannerError(grpc(16, 'Request had invalid authentication credentials.'), call)
    expect(!unauthenticated.retry && unauthenticated.error.exitCode).toBe(ExitCode.noPermission)
    expect(!unauthenticated.retry && unauthenticated.error.message).toContain('GOOGLE_APPLICATION_CREDENTIALS')
    const noAdc = classifySpannerError(
      new Error(
        'Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.',
      ),
      call,
    )
    expect(!noAdc.retry && noAdc.error.exitCode).toBe(ExitCode.noPermission)
  })

  test("NOT_FOUND for the instance exits 78; other failures exit 1 with Google's text", () => {
    const missing = classifySpannerError(grpc(5, 'Instance not found: projects/p/instances/i'), call)
    expect(!missing.retry && missing.error.exitCode).toBe(ExitCode.config)
    expect(!missing.retry && missing.error.message).toContain('instance projects/p/instances/i does not exist')
    const exhausted = classifySpannerError(grpc(8, 'Quota exceeded'), call)
    expect(!exhausted.retry && exhausted.error.exitCode).toBe(ExitCode.failed)
    expect(!exhausted.retry && exhausted.error.message).toBe(
      'cannot create database "dex" in projects/p/instances/i: RESOURCE_EXHAUSTED: Quota exceeded',
    )
  })
})

describe('Spanner admin API messages', () => {
  test('enums read the same whether the library gives names or numbers; an unset dialect is "unreported"', () => {
    expect(readDatabase({ name: 'projects/p/instances/i/databases/dex', state: 'READY', databaseDialect: 'POSTGRESQL' })).toEqual({
      id: 'dex',
      state: 'READY',
      dialect: 'POSTGRESQL',
    })
    expect(readDatabase({ name: 'projects/p/instances/i/databases/dex', state: 1, databaseDialect: 1 })).toEqual({
      id: 'dex',
      state: 'CREATING',
      dialect: 'GOOGLE_STANDARD_SQL',
    })
    expect(
      readDatabase({ name: 'projects/p/instances/i/databases/dex', state: 'READY', databaseDialect: 'DATABASE_DIALECT_UNSPECIFIED' }),
    ).toMatchObject({ dialect: 'unreported' })
  })
})

describe('dbhook sql for Spanner', () => {
  test('every word survives a POSIX shell unchanged', () => {
    const words = ['plain', "it's", 'a b', '$HOME', '`id`', 'x;y', 'example.com:my-project', '--instance=main', '', '"q"', 'back\\slash']
    const echoed = execFileSync('sh', ['-c', `printf '%s\\n' ${words.map(shellWord).join(' ')}`], { encoding: 'utf8' })
    expect(echoed).toBe(`${words.join('\n')}\n`)
  })

  test('one describe-or-create per database, with the PostgreSQL dialect', () => {
    const script = spannerScript(loadConfig(base, 'sql', { rules: configRules }))
    expect(script).toContain(
      'gcloud spanner databases describe openzro --instance=main --project=my-project >/dev/null 2>&1 ||\n  gcloud spanner databases create openzro --instance=main --project=my-project --database-dialect=POSTGRESQL',
    )
    expect(script.match(/databases create/g)).toHaveLength(2)
    expect(execFileSync('sh', ['-n'], { input: script, encoding: 'utf8' })).toBe('')
  })
})
