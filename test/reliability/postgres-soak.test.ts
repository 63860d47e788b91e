import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf } from '../support/dbhook.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { databaseOwners } from '../support/postgres-catalog.ts'
import { unique } from '../support/unique.ts'
import { dbhookSessions, newestMajor, waitForNoDbhookSessions } from './helpers.ts'
import { ms, quantile, ReliabilityReport } from './report.ts'

const major = newestMajor()
const report = new ReliabilityReport('15-postgres-soak', 'PostgreSQL: soak', 15)

describe(`PostgreSQL ${major}: a soak`, () => {
  let server: PostgresServer

  beforeAll(async () => {
    server = await startPostgres(major)
    report.server = `PostgreSQL ${major}`
  })
  afterAll(async () => {
    await server?.stop()
    await report.write()
  })

  test('200 consecutive applies against one server: all exit 0, no DDL after the first, no session left', async () => {
    await report.measure('soak: 200 consecutive applies', async () => {
      const owner = unique('soak_owner')
      const dbs = ['openzro', 'flow', 'activity', 'dex'].map((n) => `${unique('soak')}_${n}`)
      const env = server.env(server.superuser, server.password, {
        DBHOOK_OWNER: owner,
        DBHOOK_OWNER_PASSWORD: 'soak-owner-password',
        DBHOOK_DATABASES: dbs.join(','),
      })
      const backendsBefore = (await server.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity')).at(0)?.n
      const durations: number[] = []
      let sessionWaits = 0
      const started = Date.now()
      for (let i = 0; i < 200; i += 1) {
        const run = await runDbhook(['apply'], env)
        expect(run.code, `run ${i + 1}: ${run.stdout}`).toBe(0)
        const summary = summaryOf(run)
        if (i === 0) expect(summary?.databases.map((d) => d.result)).toEqual(['created', 'created', 'created', 'created'])
        else expect(summary?.statements, `run ${i + 1} executed statements`).toBe(0)
        durations.push(run.durationMs)
        if ((await dbhookSessions(server)) !== 0) {
          sessionWaits += 1
          await waitForNoDbhookSessions(server)
        }
      }
      const total = Date.now() - started
      expect(await databaseOwners(server, dbs)).toEqual(Object.fromEntries(dbs.map((d) => [d, owner])))
      const backendsAfter = (await server.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity')).at(0)?.n
      expect(backendsAfter).toBe(backendsBefore)
      return {
        runs: 200,
        figures: `all exit 0, 0 statements after the first; per run p50 ${ms(quantile(durations, 0.5))}, p95 ${ms(quantile(durations, 0.95))}, max ${ms(Math.max(...durations))}; total ${ms(total)}; server backends ${backendsBefore} before, ${backendsAfter} after; ${sessionWaits} runs' sessions took a moment to leave pg_stat_activity`,
      }
    })
  }, 600_000)
})
