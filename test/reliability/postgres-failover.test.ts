import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf, type RunResult } from '../support/dbhook.ts'
import { startReplicatedPair, waitForReplay, type ControlledServer, type ReplicatedPair } from '../support/postgres-standby.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'
import { databaseOwners } from '../support/postgres-catalog.ts'
import { unique } from '../support/unique.ts'
import { leastPrivilegeMajors } from './helpers.ts'
import { ms, ReliabilityReport } from './report.ts'

const majors = leastPrivilegeMajors()
const report = new ReliabilityReport(
  '27-postgres-failover',
  'PostgreSQL: several hosts, target_session_attrs and failover (primary + streaming standby)',
  27,
)

const connectedLine = (run: RunResult) => run.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('connected to'))

/** dbhook's environment listing both servers, `first` first. */
function bothHosts(
  pair: ReplicatedPair,
  first: ControlledServer,
  second: ControlledServer,
  extra: Record<string, string> = {},
): Record<string, string> {
  return pair.primary.env(pair.primary.superuser, pair.primary.password, {
    DBHOOK_HOST: '127.0.0.1,127.0.0.1',
    DBHOOK_PORT: `${first.port},${second.port}`,
    DBHOOK_LOG_LEVEL: 'debug',
    ...extra,
  })
}

/** A configuration that opens connections beyond the admin's: password checks, per-database grants, an extension. */
function provisioning(tag: string): { env: Record<string, string>; dbs: string[]; owner: string } {
  const owner = unique(`${tag}_owner`)
  const dbs = [unique(`${tag}_a`), unique(`${tag}_b`)]
  return {
    owner,
    dbs,
    env: {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: `failover-owner-${Math.random().toString(36).slice(2)}`,
      DBHOOK_APP_USER: unique(`${tag}_app`),
      DBHOOK_APP_PASSWORD: `failover-app-${Math.random().toString(36).slice(2)}`,
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_DATABASES: dbs.join(','),
    },
  }
}

afterAll(async () => {
  report.server = `PostgreSQL ${majors.join(' and ')}`
  report.description = [
    'A real primary and a hot standby streaming from it (a cold copy of the stopped primary: the embedded packages carry',
    'no pg_basebackup), both listed in DBHOOK_HOST. Hosts are tried in order, as libpq does; DBHOOK_TARGET_SESSION_ATTRS',
    'defaults to read-write.',
  ].join(' ')
  await report.write()
})

describe.each(majors)('PostgreSQL %i: a primary and a streaming standby', (major) => {
  let pair: ReplicatedPair

  beforeAll(async () => {
    pair = await startReplicatedPair(major)
  })
  afterAll(async () => {
    await pair?.stop()
  })

  test('standby listed first, primary second: apply, verify, plan and wait all work on the primary', async () => {
    await report.measure(`PostgreSQL ${major}: DBHOOK_HOST lists the standby first, the primary second`, async () => {
      const { standby, primary } = pair
      const durations: number[] = []
      for (let round = 0; round < 3; round += 1) {
        const { env, dbs, owner } = provisioning('fo_order')
        const run = await runDbhook(['apply'], bothHosts(pair, standby, primary, env))
        durations.push(run.durationMs)
        expect(run.code, run.stdout.slice(-3000)).toBe(0)
        expect(connectedLine(run)).toMatchObject({ port: primary.port, inRecovery: false })
        expect(String(connectedLine(run)?.msg)).toContain(`passed over: 127.0.0.1:${standby.port} is a standby (in recovery)`)
        expect(summaryOf(run)).toMatchObject({ host: `127.0.0.1:${primary.port}` })
        expect(await databaseOwners(primary, dbs)).toEqual(Object.fromEntries(dbs.map((db) => [db, owner])))
        await waitForReplay(pair)
        expect(await databaseOwners(standby, dbs)).toEqual(Object.fromEntries(dbs.map((db) => [db, owner])))
        for (const command of ['verify', 'plan', 'wait']) {
          const other = await runDbhook([command], bothHosts(pair, standby, primary, env))
          expect(other.code, `${command}: ${other.stdout.slice(-2000)}`).toBe(0)
          expect(connectedLine(other)).toMatchObject({ port: primary.port })
        }
        const again = await runDbhook(['apply'], bothHosts(pair, standby, primary, env))
        expect(summaryOf(again)?.statements).toBe(0)
      }
      return {
        runs: 15,
        figures: `3 rounds of apply, verify, plan, wait and a re-run: all exit 0 on the primary (2nd of 2 hosts); apply ${durations.map(ms).join(', ')}; re-runs 0 statements`,
      }
    })
  })

  test('each DBHOOK_TARGET_SESSION_ATTRS value picks the host libpq would', async () => {
    await report.measure(`PostgreSQL ${major}: the six target_session_attrs values (wait, standby listed first)`, async () => {
      const { standby, primary } = pair
      const expected: [string, ControlledServer][] = [
        ['any', standby],
        ['read-write', primary],
        ['primary', primary],
        ['read-only', standby],
        ['standby', standby],
        ['prefer-standby', standby],
      ]
      const picked: string[] = []
      for (const [attrs, server] of expected) {
        for (const [first, second] of [
          [standby, primary],
          [primary, standby],
        ] as const) {
          const run = await runDbhook(['wait'], bothHosts(pair, first, second, { DBHOOK_TARGET_SESSION_ATTRS: attrs }))
          expect(run.code, `${attrs}: ${run.stdout}`).toBe(0)
          // any takes the first listed host that answers.
          const wanted = attrs === 'any' ? first : server
          expect(run.terminationMessage, attrs).toContain(`at 127.0.0.1:${wanted.port} accepts connections`)
        }
        picked.push(`${attrs} → ${server === primary ? 'primary' : 'standby'}`)
      }
      // prefer-standby takes the primary when no standby is listed.
      const only = await runDbhook(
        ['wait'],
        pair.primary.env(pair.primary.superuser, pair.primary.password, { DBHOOK_TARGET_SESSION_ATTRS: 'prefer-standby' }),
      )
      expect(only.terminationMessage).toContain(`at 127.0.0.1:${primary.port} accepts connections`)
      const refused = await runDbhook(
        ['apply'],
        bothHosts(pair, standby, primary, { DBHOOK_TARGET_SESSION_ATTRS: 'standby', DBHOOK_DATABASES: unique('fo_never') }),
      )
      expect(refused.code).toBe(78)
      expect(refused.terminationMessage).toContain('DBHOOK_TARGET_SESSION_ATTRS=standby cannot be used with apply')
      return { runs: 14, figures: `${picked.join(', ')} (any: the first listed, either order); apply with standby: exit 78` }
    })
  })

  test('a host that accepts TCP and never answers costs DBHOOK_CONNECT_TIMEOUT, then the next host is tried', async () => {
    await report.measure(`PostgreSQL ${major}: a hung host listed first (DBHOOK_CONNECT_TIMEOUT=1s)`, async () => {
      const hung = await startTcpProxy(pair.primary)
      try {
        await hung.setMode('swallow')
        const { env, dbs, owner } = provisioning('fo_hung')
        const run = await runDbhook(
          ['apply'],
          bothHosts(pair, { ...pair.primary, port: hung.port } as ControlledServer, pair.primary, {
            ...env,
            DBHOOK_CONNECT_TIMEOUT: '1s',
            DBHOOK_WAIT_TIMEOUT: '30s',
          }),
        )
        expect(run.code, run.stdout.slice(-2000)).toBe(0)
        expect(String(connectedLine(run)?.msg)).toContain(
          `passed over: 127.0.0.1:${hung.port} did not answer within DBHOOK_CONNECT_TIMEOUT`,
        )
        expect(await databaseOwners(pair.primary, dbs)).toEqual(Object.fromEntries(dbs.map((db) => [db, owner])))
        return { runs: 1, figures: `exit 0 after ${ms(run.durationMs)} on the second host` }
      } finally {
        await hung.close()
      }
    })
  })

  if (major < 16) {
    // Debian's pg_dump is 15: it dumps servers up to 15 only.
    test('backup dumps from the host the session chose, not the first listed', async () => {
      await report.measure(`PostgreSQL ${major}: backup with the standby listed first, replay paused`, async () => {
        const { standby, primary } = pair
        const { env, dbs } = provisioning('fo_backup')
        const { mkdtemp, readdir, rm } = await import('node:fs/promises')
        const { tmpdir } = await import('node:os')
        const { join } = await import('node:path')
        const dir = await mkdtemp(join(tmpdir(), 'dbhook-failover-backup-'))
        await standby.query('SELECT pg_wal_replay_pause()')
        try {
          expect((await runDbhook(['apply'], bothHosts(pair, standby, primary, env))).code).toBe(0)
          // Replay is paused: the databases exist on the primary only, so a dump from the standby would fail.
          expect(await databaseOwners(standby, dbs)).toEqual({})
          const backup = await runDbhook(['backup'], bothHosts(pair, standby, primary, { ...env, DBHOOK_BACKUP_DIR: dir }))
          expect(backup.code, backup.stdout.slice(-2000)).toBe(0)
          for (const db of dbs) expect((await readdir(join(dir, db))).filter((f) => f.endsWith('.dump'))).toHaveLength(1)
          return {
            runs: 2,
            figures: `backup exit 0 after ${ms(backup.durationMs)}: ${dbs.length} dumps taken from the primary while the standby lacked the databases`,
          }
        } finally {
          await standby.query('SELECT pg_wal_replay_resume()')
          await rm(dir, { recursive: true, force: true })
        }
      })
    })
  }

  test('only a standby and a host that refuses: dbhook waits and exits 69 naming each host', async () => {
    await report.measure(`PostgreSQL ${major}: primary down, standby up, DBHOOK_WAIT_TIMEOUT=3s`, async () => {
      const { standby, primary } = pair
      await primary.halt()
      try {
        const run = await runDbhook(
          ['apply'],
          bothHosts(pair, standby, primary, { DBHOOK_DATABASES: unique('fo_none'), DBHOOK_WAIT_TIMEOUT: '3s' }),
        )
        expect(run.code, run.stdout.slice(-2000)).toBe(69)
        expect(run.terminationMessage).toContain(
          `127.0.0.1:${standby.port} is a standby (in recovery); 127.0.0.1:${primary.port} refused the connection`,
        )
        expect(run.terminationMessage).toContain('DBHOOK_WAIT_TIMEOUT')
        return {
          runs: 1,
          figures: `exit 69 after ${ms(run.durationMs)}: ${run.terminationMessage
            .trim()
            .replace(/^apply: /, '')
            .slice(0, 240)}`,
        }
      } finally {
        await primary.resume()
      }
    })
  })
})

describe.each(majors)('PostgreSQL %i: failover while dbhook waits', (major) => {
  test('the primary is down and the standby is promoted during the wait: dbhook provisions on the new primary', async () => {
    const rounds = major === Math.max(...majors) ? 3 : 1
    await report.measure(`PostgreSQL ${major}: promote the standby while apply waits (old primary down)`, async () => {
      const figures: string[] = []
      for (let round = 0; round < rounds; round += 1) {
        const pair = await startReplicatedPair(major)
        try {
          const { primary, standby } = pair
          await primary.halt()
          const { env, dbs, owner } = provisioning('fo_promote')
          let waiting!: () => void
          const isWaiting = new Promise<void>((resolve) => (waiting = resolve))
          let output = ''
          // The old primary first, as a list written before the failover would have it.
          const running = runDbhook(['apply'], bothHosts(pair, primary, standby, { ...env, DBHOOK_WAIT_TIMEOUT: '90s' }), {
            timeoutMs: 120_000,
            onStdout: (chunk) => {
              output += chunk
              if (output.includes('is a standby (in recovery)')) waiting()
            },
          })
          await isWaiting
          const promotedAt = Date.now()
          await standby.promote()
          const run = await running
          const after = Date.now() - promotedAt
          expect(run.code, run.stdout.slice(-3000)).toBe(0)
          expect(connectedLine(run)).toMatchObject({ port: standby.port, inRecovery: false })
          expect(String(connectedLine(run)?.msg)).toContain(`passed over: 127.0.0.1:${primary.port} refused the connection`)
          expect(await databaseOwners(standby, dbs)).toEqual(Object.fromEntries(dbs.map((db) => [db, owner])))
          figures.push(`exit 0, done ${ms(after)} after the promotion`)
        } finally {
          await pair.stop()
        }
      }
      return { runs: rounds, figures: figures.join('; ') }
    })
  }, 600_000)
})
