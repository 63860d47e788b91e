import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
import { postgresCapabilities } from '../../src/engines/postgres/postgres-capabilities.ts'
import { skippedSteps } from '../../src/engines/postgres/postgres-privileges.ts'
import type { AdminFacts } from '../../src/engines/postgres/postgres-inspect.ts'
import { desiredState, planChanges } from '../../src/plan.ts'
import { groupSkippedSteps } from '../../src/skipped-steps.ts'

/** A CREATEDB+CREATEROLE admin on a managed server: no event triggers, and (on 13) no say over schema public. */
const facts = (major: number): AdminFacts => ({
  user: 'provisioner',
  major,
  passwordEncryption: 'scram-sha-256',
  superuser: false,
  createdb: true,
  createrole: true,
  mayCreateEventTriggers: false,
  extensions: new Map(),
  roles: new Map(),
})

function skippedFor(databases: string, major: number) {
  const config = loadConfig(
    {
      DBHOOK_HOST: 'h',
      DBHOOK_ADMIN_USER: 'provisioner',
      DBHOOK_OWNER: 'openzro',
      DBHOOK_OWNER_PASSWORD: 'pw',
      DBHOOK_APP_USER: 'app',
      DBHOOK_APP_PASSWORD: 'pw2',
      DBHOOK_DATABASES: databases,
    },
    'apply',
    { rules: configRules },
  )
  const plan = planChanges(desiredState(config, postgresCapabilities), { roles: new Map(), databases: new Map() })
  return skippedSteps(plan.steps, facts(major), config.eventTrigger, config.owner.name)
}

describe('steps skipped by design', () => {
  test('a step skipped in every database is one warning naming the count, not one per database', () => {
    const skipped = skippedFor('management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex', 18)
    expect(skipped).toHaveLength(4)
    const groups = groupSkippedSteps(skipped)
    expect(groups).toHaveLength(1)
    expect(groups[0]!.databases).toEqual(['management', 'flow', 'activity', 'dex'])
    expect(groups[0]!.what).toBe(
      '4 databases (management, flow, activity, dex): install the permission event trigger dbhook_grant_app_permissions_v2 for "app"',
    )
    expect(groups[0]!.reason).toContain('may not create event triggers')
  })

  test('each reason gets its own warning, in the order the steps come', () => {
    const groups = groupSkippedSteps(skippedFor('a,b,c', 13))
    expect(groups.map((g) => [g.what.split(':')[0], g.databases.length])).toEqual([
      ['3 databases (a, b, c)', 3],
      ['3 databases (a, b, c)', 3],
    ])
    expect(groups[0]!.reason).toContain('PUBLIC may create in schema public')
    expect(groups[1]!.reason).toContain('may not create event triggers')
  })

  test('one database keeps the wording of the step itself', () => {
    const [group] = groupSkippedSteps(skippedFor('dex', 18))
    expect(group).toEqual({
      what: 'dex: install the permission event trigger dbhook_grant_app_permissions_v2 for "app"',
      databases: ['dex'],
      reason: expect.stringContaining('ALTER DEFAULT PRIVILEGES FOR ROLE "openzro"'),
    })
  })

  test('many databases: the line names five and the count of the rest, the record carries every key', () => {
    const keys = Array.from({ length: 64 }, (_, i) => `db${i}`)
    const [group] = groupSkippedSteps(skippedFor(keys.join(','), 18))
    expect(group!.what.startsWith('64 databases (db0, db1, db2, db3, db4 and 59 more): ')).toBe(true)
    expect(group!.databases).toEqual(keys)
  })

  test('nothing skipped, nothing to say', () => {
    expect(groupSkippedSteps([])).toEqual([])
  })
})
