import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
import { checkPrivileges } from '../../src/engines/postgres/postgres-privileges.ts'
import type { AdminFacts } from '../../src/engines/postgres/postgres-inspect.ts'
import { desiredState, planChanges } from '../../src/plan.ts'
import { postgresCapabilities } from '../../src/engines/postgres/postgres-capabilities.ts'

describe('privilege check', () => {
  const facts = (over: Partial<AdminFacts>): AdminFacts => ({
    user: 'provisioner',
    major: 16,
    passwordEncryption: 'scram-sha-256',
    superuser: false,
    createdb: true,
    createrole: false,
    mayCreateEventTriggers: false,
    extensions: new Map(),
    roles: new Map(),
    ...over,
  })
  const config = loadConfig(
    { DBHOOK_HOST: 'h', DBHOOK_ADMIN_USER: 'provisioner', DBHOOK_OWNER: 'openzro', DBHOOK_OWNER_PASSWORD: 'pw', DBHOOK_DATABASES: 'dex' },
    'apply',
    { rules: configRules },
  )
  const fresh = planChanges(desiredState(config, postgresCapabilities), { roles: new Map(), databases: new Map() })

  test('CREATEDB alone can neither create the owner role nor create databases it owns', () => {
    expect(checkPrivileges(fresh.steps, facts({})).problems).toEqual([
      'cannot create role "openzro": "provisioner" lacks CREATEROLE',
      expect.stringContaining('"provisioner" needs SET ROLE "openzro"'),
    ])
  })

  test('CREATEROLE lends itself the owner it creates, on 16+', () => {
    expect(checkPrivileges(fresh.steps, facts({ createrole: true }))).toEqual({ problems: [], temporaryMemberships: ['openzro'] })
  })

  test('a superuser needs nothing lent', () => {
    expect(checkPrivileges(fresh.steps, facts({ superuser: true, createdb: false }))).toEqual({ problems: [], temporaryMemberships: [] })
  })

  test('without CREATEDB no database can be created', () => {
    const problems = checkPrivileges(fresh.steps, facts({ createdb: false, createrole: true })).problems
    expect(problems).toEqual(['cannot create database "dex": "provisioner" lacks CREATEDB'])
  })
})
