// openZro's values on PostgreSQL through a release's whole life in a real cluster: helm install --wait (the
// pre-install hook Job), helm test, helm upgrade (the pre-upgrade hook again, which must change nothing), helm
// rollback and helm uninstall, in the `restricted` namespace. Once with every password from an existing Secret,
// once with inline passwords (a hook Secret that must be gone after success).
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, test } from 'vitest'
import type { PostgresServer } from '../support/postgres.ts'
import { ciValues } from '../chart/helm.ts'
import { applySecret, deleteReleasePods, helm, kubectl, kubectlOk, localImage, type Cluster } from './cluster.ts'
import {
  eventMessages,
  expectNoSecrets,
  getOrUndefined,
  helmChart,
  podLogs,
  podsOfJob,
  releaseRecords,
  releaseStatus,
  terminated,
  type Job,
} from './inspect.ts'
import { loggedConnections, loggedDdl, startHostPostgres } from './servers.ts'
import { withCluster } from './test-cluster.ts'

const openZroDatabases = ['openzro', 'openzro_flow', 'openzro_activity', 'dex']
let cluster: Cluster
const servers: PostgresServer[] = []

withCluster((c) => {
  cluster = c
})

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
})

async function owners(server: PostgresServer): Promise<Record<string, string>> {
  const rows = await server.query<{ datname: string; owner: string }>(
    'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY($1::text[])',
    [openZroDatabases],
  )
  return Object.fromEntries(rows.map((r) => [r.datname, r.owner]))
}

const password = (label: string) => `${label}-${randomBytes(9).toString('base64url')}`

interface Lifecycle {
  readonly release: string
  readonly server: PostgresServer
  readonly files: readonly string[]
  readonly values: Record<string, unknown>
  /** The runtime user that must own the four databases. */
  readonly owner: string
  readonly secrets: readonly string[]
  /** Whether the hook Job stays after success (hook.deletePolicy without hook-succeeded). */
  readonly jobKept: boolean
  /** Whether the chart renders the inline-password hook Secret. */
  readonly hookSecret: boolean
}

/** Everything a user could read afterwards: helm's output, the pods' logs and termination messages, Events. */
async function leakSurface(release: string, outputs: string[]): Promise<Record<string, string>> {
  const pods = (
    await kubectl(cluster, ['-n', cluster.namespace, 'get', 'pods', '-l', `app.kubernetes.io/instance=${release}`, '-o', 'json'])
  ).stdout
  const names: string[] = JSON.parse(pods).items.map((p: { metadata: { name: string } }) => p.metadata.name)
  const logs = await Promise.all(names.map((name) => podLogs(cluster, name).catch(() => '')))
  return {
    'helm output': outputs.join('\n'),
    'pod logs': logs.join('\n'),
    'pods (termination messages)': pods,
    Events: await eventMessages(cluster),
  }
}

async function lifecycle(c: Lifecycle): Promise<void> {
  const job = `${c.release}-dbhook`
  const outputs: string[] = []

  const install = await helmChart(cluster, 'install', c.release, c.files, c.values)
  outputs.push(install.stdout, install.stderr)
  expect(install.code, install.stderr).toBe(0)
  expect((await releaseStatus(cluster, c.release)).info.status).toBe('deployed')
  expect(await owners(c.server)).toEqual(Object.fromEntries(openZroDatabases.map((d) => [d, c.owner])))
  // The hook Secret with the inline passwords is deleted once the hooks succeeded (hook.resourceDeletePolicy).
  expect(await getOrUndefined(cluster, 'secret', `${c.release}-dbhook-credentials`)).toBeUndefined()
  const installedJob = await getOrUndefined<Job>(cluster, 'job', job)
  if (c.jobKept) {
    expect(installedJob?.status.succeeded).toBe(1)
    const [pod] = await podsOfJob(cluster, job)
    expect(terminated(pod!)?.exitCode).toBe(0)
    expect(terminated(pod!)?.message).toMatch(/^apply: /)
  } else {
    expect(installedJob).toBeUndefined()
  }

  // What NOTES.txt tells the user to run to check the release again, run as printed.
  const notes = install.stdout.slice(install.stdout.indexOf('NOTES:'))
  const check = [...notes.matchAll(/^ {2}((?:helm|kubectl) .+)$/gm)].map((m) => m[1]!.split(' '))
  expect(check.map((command) => command.slice(0, 2))).toEqual([
    ['helm', 'test'],
    ['kubectl', 'logs'],
  ])
  const helmTest = await helm(cluster, [...check[0]!.slice(1), '--timeout', '5m'])
  outputs.push(helmTest.stdout, helmTest.stderr)
  expect(helmTest.code, helmTest.stdout + helmTest.stderr).toBe(0)
  expect(helmTest.stdout).toMatch(new RegExp(`TEST SUITE:\\s+${c.release}-dbhook-test[\\s\\S]*?Phase:\\s+Succeeded`))
  const testLogs = await kubectlOk(cluster, check[1]!.slice(1))
  expect(testLogs).toContain(`4 databases exist, are owned by \\"${c.owner}\\"`)

  const ddlBefore = await loggedDdl(c.server)
  expect(ddlBefore.join('\n'), 'the server logs DDL').toContain('CREATE DATABASE')
  const provisionerSessions = await loggedConnections(c.server, 'provisioner')
  const upgrade = await helmChart(cluster, 'upgrade', c.release, c.files, c.values)
  outputs.push(upgrade.stdout, upgrade.stderr)
  expect(upgrade.code, upgrade.stderr).toBe(0)
  expect((await releaseStatus(cluster, c.release)).version).toBe(2)
  // The pre-upgrade hook ran (its provisioning user logged in again) and changed nothing.
  expect(await loggedConnections(c.server, 'provisioner')).toBeGreaterThan(provisionerSessions)
  expect(await loggedDdl(c.server)).toEqual(ddlBefore)
  if (c.jobKept) {
    const [pod] = await podsOfJob(cluster, job)
    expect(await podLogs(cluster, pod!.metadata.name)).toContain('"statements":0')
  }

  const rollback = await helm(cluster, ['rollback', c.release, '1', '-n', cluster.namespace, '--wait', '--timeout', '5m'])
  outputs.push(rollback.stdout, rollback.stderr)
  expect(rollback.code, rollback.stderr).toBe(0)
  const afterRollback = await releaseStatus(cluster, c.release)
  expect([afterRollback.version, afterRollback.info.status, afterRollback.info.description]).toEqual([3, 'deployed', 'Rollback to 1'])

  const records = await releaseRecords(cluster, c.release)
  expect(records.length).toBe(3)
  const surface = await leakSurface(c.release, outputs)
  // Inline passwords are values, and Helm keeps a release's values and manifests in its record by design.
  expectNoSecrets(c.hookSecret ? surface : { ...surface, "Helm's release records": records.join('\n') }, c.secrets)

  const uninstall = await helm(cluster, ['uninstall', c.release, '-n', cluster.namespace, '--wait', '--timeout', '5m'])
  expect(uninstall.code, uninstall.stderr).toBe(0)
  expect(await owners(c.server)).toEqual(Object.fromEntries(openZroDatabases.map((d) => [d, c.owner])))
  // Helm leaves hook resources behind on uninstall: the kept Job goes with the test, not with the release.
  await deleteReleasePods(cluster, c.release)
}

describe('openZro on PostgreSQL through install, test, upgrade, rollback and uninstall', () => {
  test('every password from an existing Secret: a CREATEDB+CREATEROLE provisioning user creates the runtime and app users; no password reaches Helm, logs or Events', async () => {
    const server = await startHostPostgres(cluster, { logDdl: true })
    servers.push(server)
    const provisioner = password('provisioner')
    const owner = password('owner')
    const app = password('app')
    await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD '${provisioner}'`)
    await applySecret(cluster, 'es-openzro-db', { password: owner, 'app-password': app })
    await applySecret(cluster, 'es-postgres-admin', { 'admin-password': provisioner })
    await lifecycle({
      release: 'es',
      server,
      files: [ciValues('existing-secrets-values.yaml')],
      values: {
        ...localImage,
        postgres: {
          host: cluster.host,
          port: server.port,
          sslMode: 'disable',
          existingSecret: 'es-openzro-db',
          provisioning: { existingSecret: 'es-postgres-admin' },
          appUser: { existingSecret: 'es-openzro-db' },
          // pg_trgm is not in the embedded PostgreSQL's contrib.
          extensions: [],
        },
        // The file's pull secret names a registry these images never come from.
        imagePullSecrets: [],
        waitTimeout: '60s',
      },
      owner: 'openzro',
      secrets: [provisioner, owner, app],
      jobKept: true,
      hookSecret: false,
    })
    const appLogin = await server.query('SELECT current_user AS me', [], { user: 'openzro_app', password: app, database: 'openzro_flow' })
    expect(appLogin).toEqual([{ me: 'openzro_app' }])
  }, 1_200_000)

  test('inline passwords: the hook Secret is deleted after success, and with hook-succeeded so is the Job', async () => {
    const server = await startHostPostgres(cluster, { logDdl: true })
    servers.push(server)
    const provisioner = password('provisioner')
    const owner = password('owner')
    await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD '${provisioner}'`)
    await lifecycle({
      release: 'inline',
      server,
      files: [ciValues('openzro-postgres-values.yaml')],
      values: {
        ...localImage,
        postgres: {
          host: cluster.host,
          port: server.port,
          sslMode: 'disable',
          password: owner,
          provisioning: { username: 'provisioner', password: provisioner },
        },
        hook: { deletePolicy: 'before-hook-creation,hook-succeeded' },
        waitTimeout: '60s',
      },
      owner: 'openzro',
      secrets: [provisioner, owner],
      jobKept: false,
      hookSecret: true,
    })
  }, 1_200_000)
})
