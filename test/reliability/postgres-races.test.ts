import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { hostileNames, raceApplies, superuser, syntaxErrorLogging, syntaxErrors } from './postgres-cases.ts'
import { newestMajor } from './helpers.ts'
import { ReliabilityReport } from './report.ts'

const major = newestMajor()
const report = new ReliabilityReport('10-postgres-races', 'PostgreSQL: races and hostile input (superuser admin)', 10)

describe(`PostgreSQL ${major}: races and hostile input`, () => {
  let server: PostgresServer

  beforeAll(async () => {
    server = await startPostgres(major, { conf: syntaxErrorLogging })
    report.server = `PostgreSQL ${major}`
  })
  afterAll(async () => {
    await server?.stop()
    await report.write()
  })

  test('16 applies started at once on a fresh server: all succeed and exactly one creates each database', async () => {
    await report.measure('16 applies at once, fresh server', () => raceApplies(server, superuser(server)))
  })

  test('hostile database names, owner names and passwords are created exactly as given or refused with 78', async () => {
    await report.measure('hostile names and passwords (fast-check)', async () => {
      const outcome = await hostileNames(server, superuser(server), 30)
      expect(await syntaxErrors(server)).toEqual([])
      return outcome
    })
  }, 300_000)
})
