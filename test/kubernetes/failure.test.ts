// A failed install as an operator meets it: a wrong password in an existing Secret makes `helm install` fail
// because the hook pod exited (not because the Job's deadline ran out), the release is `failed`, the Job and its
// pod stay for `kubectl logs`, the pod's termination message gives the reason in one line without any secret,
// and once the Secret is fixed `helm upgrade --install` succeeds.
import { randomBytes } from 'node:crypto'
import { afterAll, expect, test } from 'vitest'
import type { PostgresServer } from '../support/postgres.ts'
import { ciValues } from '../chart/helm.ts'
import { applySecret, localImage, removeRelease, type Cluster } from './cluster.ts'
import {
  condition,
  eventMessages,
  expectNoSecrets,
  finishedJob,
  getOrUndefined,
  helmChart,
  podLogs,
  podsOfJob,
  releaseStatus,
  terminated,
  type Job,
} from './inspect.ts'
import { startHostPostgres } from './servers.ts'
import { withCluster } from './test-cluster.ts'

let cluster: Cluster
let server: PostgresServer
const release = 'failing'

withCluster(async (c) => {
  cluster = c
  server ??= await startHostPostgres(c)
})

afterAll(async () => {
  await server?.stop()
  if (!cluster) return
  await removeRelease(cluster, release)
})

test('a wrong provisioning password fails the install at once, keeps the Job with a one-line reason, and a fixed Secret then installs', async () => {
  const provisioner = `provisioner-${randomBytes(9).toString('base64url')}`
  const wrong = `wrong-${randomBytes(9).toString('base64url')}`
  const owner = `owner-${randomBytes(9).toString('base64url')}`
  await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD '${provisioner}'`)
  await applySecret(cluster, 'failing-openzro-db', { password: owner, 'app-password': `app-${randomBytes(9).toString('base64url')}` })
  await applySecret(cluster, 'failing-postgres-admin', { 'admin-password': wrong })
  const files = [ciValues('existing-secrets-values.yaml')]
  const values = {
    ...localImage,
    postgres: {
      host: cluster.host,
      port: server.port,
      sslMode: 'disable',
      existingSecret: 'failing-openzro-db',
      provisioning: { existingSecret: 'failing-postgres-admin' },
      appUser: { existingSecret: 'failing-openzro-db' },
      extensions: [],
    },
    imagePullSecrets: [],
    // The chart's defaults: dbhook would wait up to 300 s for a server that is down, the Job may run 600 s.
    waitTimeout: '300s',
    hook: { activeDeadlineSeconds: 600 },
  }

  const install = await helmChart(cluster, 'install', release, files, values, ['--timeout', '15m'])
  expect(install.code).not.toBe(0)
  expect(install.stderr).toMatch(/failed pre-install/)
  expect((await releaseStatus(cluster, release)).info.status).toBe('failed')

  // The Job failed because its one pod exited 77 (a permanent error ends dbhook's wait at once), long before the
  // deadline: that would read DeadlineExceeded.
  const job = await finishedJob(cluster, `${release}-dbhook`)
  expect(condition(job, 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' })
  const pods = await podsOfJob(cluster, `${release}-dbhook`)
  expect(pods.length).toBe(1)
  const state = terminated(pods[0]!)
  expect(state?.exitCode).toBe(77)
  const message = state?.message ?? ''
  expect(message.trimEnd().split('\n')).toEqual([expect.stringContaining('password authentication failed for role "provisioner"')])
  const logs = await podLogs(cluster, pods[0]!.metadata.name)
  expect(logs).toContain('password authentication failed')
  expectNoSecrets(
    {
      'termination message': message,
      'pod logs': logs,
      'helm output': install.stdout + install.stderr,
      Events: await eventMessages(cluster),
    },
    [provisioner, wrong, owner],
  )
  expect(await server.query("SELECT datname FROM pg_database WHERE datname LIKE 'openzro%' OR datname = 'dex'")).toEqual([])

  await applySecret(cluster, 'failing-postgres-admin', { 'admin-password': provisioner })
  const retry = await helmChart(cluster, 'upgrade --install', release, files, values)
  expect(retry.code, retry.stderr).toBe(0)
  expect((await releaseStatus(cluster, release)).info.status).toBe('deployed')
  const fixed = await getOrUndefined<Job>(cluster, 'job', `${release}-dbhook`)
  expect(fixed?.status.succeeded).toBe(1)
  const databases = await server.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE pg_get_userbyid(datdba) = 'openzro' ORDER BY datname",
  )
  expect(databases.map((d) => d.datname)).toEqual(['dex', 'openzro', 'openzro_activity', 'openzro_flow'])
}, 1_200_000)
