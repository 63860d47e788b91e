import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { hostileNames, leastPrivilegeAdmin, raceApplies, syntaxErrorLogging, syntaxErrors } from './postgres-cases.ts'
import { leastPrivilegeMajors } from './helpers.ts'
import { ReliabilityReport } from './report.ts'

const majors = leastPrivilegeMajors()
const report = new ReliabilityReport(
  '30-postgres-least-privilege',
  'PostgreSQL: least privilege (admin with CREATEDB and CREATEROLE, never superuser)',
  30,
)
report.server = `PostgreSQL ${majors.join(' and ')}`

afterAll(async () => {
  await report.write()
})

describe.each(majors)('PostgreSQL %i with an admin that is not a superuser', (major) => {
  let server: PostgresServer

  beforeAll(async () => {
    server = await startPostgres(major, { conf: syntaxErrorLogging })
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('16 applies at once by a CREATEDB+CREATEROLE admin: all succeed, one creator per database, memberships taken back', async () => {
    await report.measure(`PostgreSQL ${major}: 16 applies at once`, async () => raceApplies(server, await leastPrivilegeAdmin(server)))
  })

  test('hostile names and passwords by a CREATEDB+CREATEROLE admin: created exactly or refused with 78', async () => {
    await report.measure(`PostgreSQL ${major}: hostile names and passwords (fast-check)`, async () => {
      const outcome = await hostileNames(server, await leastPrivilegeAdmin(server), 15)
      expect(await syntaxErrors(server)).toEqual([])
      return outcome
    })
  }, 300_000)
})
