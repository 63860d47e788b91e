import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
import { mysqlCapabilities } from '../../src/engines/mysql/mysql-capabilities.ts'
import { postgresCapabilities } from '../../src/engines/postgres/postgres-capabilities.ts'
import { describeStep, desiredState, isInSync, planChanges, type ObservedDatabase, type ObservedRole } from '../../src/plan.ts'

const config = loadConfig(
  {
    DBHOOK_HOST: 'h',
    DBHOOK_ADMIN_USER: 'provisioner',
    DBHOOK_OWNER: 'openzro',
    DBHOOK_OWNER_PASSWORD: 'pw',
    DBHOOK_DATABASES: 'management=openzro,dex=dex',
  },
  'apply',
  { rules: configRules },
)
const desired = desiredState(config, postgresCapabilities)

function observed(roles: Record<string, ObservedRole>, databases: Record<string, string>) {
  return {
    roles: new Map(Object.entries(roles)),
    databases: new Map(Object.entries(databases).map(([name, owner]): [string, ObservedDatabase] => [name, { owner, present: new Set() }])),
  }
}

describe('planChanges', () => {
  test.each([
    [
      'a fresh server',
      observed({}, {}),
      [
        'create owner role "openzro" (LOGIN, no extra attributes)',
        'management: create database "openzro" owned by "openzro"',
        'dex: create database "dex" owned by "openzro"',
      ],
    ],
    ['everything in place', observed({ openzro: { passwordWorks: true } }, { openzro: 'openzro', dex: 'openzro' }), []],
    [
      'a database with another owner',
      observed({ openzro: {} }, { openzro: 'openzro', dex: 'postgres' }),
      ['dex: change the owner of "dex" from "postgres" to "openzro"'],
    ],
    [
      'an owner whose password no longer works',
      observed({ openzro: { passwordWorks: false } }, { openzro: 'openzro', dex: 'openzro' }),
      ['update the password of role "openzro": a login with the given one failed'],
    ],
    ['one database missing', observed({ openzro: {} }, { dex: 'openzro' }), ['management: create database "openzro" owned by "openzro"']],
  ])('%s', (_name, state, expected) => {
    const plan = planChanges(desired, state)
    expect(plan.steps.map(describeStep)).toEqual(expected)
    expect(plan.problems).toEqual([])
    expect(isInSync(plan)).toBe(expected.length === 0)
  })

  test('a missing owner without a password is a problem, not a step', () => {
    const noPassword = desiredState({ ...config, owner: { name: 'openzro' } }, postgresCapabilities)
    const plan = planChanges(noPassword, observed({}, {}))
    expect(plan.problems).toEqual(['role "openzro" does not exist; set DBHOOK_OWNER_PASSWORD to have dbhook create it, or create it first'])
    expect(isInSync(plan)).toBe(false)
  })

  test('per-database items appear only where they are missing, in the configured order', () => {
    const withApp = loadConfig(
      {
        DBHOOK_HOST: 'h',
        DBHOOK_ADMIN_USER: 'postgres',
        DBHOOK_OWNER: 'migrator',
        DBHOOK_APP_USER: 'app',
        DBHOOK_EXTENSIONS: 'pg_trgm',
        DBHOOK_DATABASES: 'flightctl',
      },
      'apply',
      { rules: configRules },
    )
    const want = desiredState(withApp, postgresCapabilities)
    const ids = want.databases[0]!.items.map((i) => i.id)
    expect(ids).toEqual([
      'public-schema-hardened',
      'owner-schema-create',
      'extension:pg_trgm',
      'app-connect',
      'app-schema-usage',
      'app-table-privileges',
      'app-default-privileges',
      'event-trigger',
    ])
    const state = {
      roles: new Map([
        ['migrator', {}],
        ['app', {}],
      ]),
      databases: new Map([['flightctl', { owner: 'migrator', present: new Set(ids.filter((id) => id !== 'app-connect')) }]]),
    }
    expect(planChanges(want, state).steps.map(describeStep)).toEqual(['flightctl: grant CONNECT to "app"'])
  })

  test('without an app role or extensions no database item is planned, so inspection stays one query', () => {
    expect(desired.databases.every((db) => db.items.length === 0)).toBe(true)
  })

  test('a database to be created gets every item, except those the server says a new database holds already', () => {
    const withApp = loadConfig(
      {
        DBHOOK_HOST: 'h',
        DBHOOK_ADMIN_USER: 'root',
        DBHOOK_ENGINE: 'mariadb',
        DBHOOK_OWNER: 'migrator',
        DBHOOK_APP_USER: 'app',
        DBHOOK_DATABASES: 'flightctl',
      },
      'apply',
      { rules: configRules },
    )
    const want = desiredState(withApp, mysqlCapabilities)
    const roles = new Map([
      ['migrator', {}],
      ['app', {}],
    ])
    expect(planChanges(want, { roles, databases: new Map() }).steps.map(describeStep)).toEqual([
      'flightctl: create database "flightctl" owned by "migrator"',
      'flightctl: grant ALL PRIVILEGES to "migrator"',
      'flightctl: grant SELECT, INSERT, UPDATE, DELETE to "app"',
    ])
    // The app user holds its rights on *.*: a grant on the new database would add nothing.
    expect(planChanges(want, { roles, databases: new Map(), newDatabase: new Set(['app-privileges']) }).steps.map(describeStep)).toEqual([
      'flightctl: create database "flightctl" owned by "migrator"',
      'flightctl: grant ALL PRIVILEGES to "migrator"',
    ])
  })

  test('no step description holds a password', () => {
    const plan = planChanges(desired, observed({ openzro: { passwordWorks: false } }, {}))
    expect(plan.steps.map(describeStep).join('\n')).not.toContain('pw')
  })
})
