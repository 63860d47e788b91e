// Every pod the chart can render, admitted by the API server under Pod Security `restricted` and run by the
// kubelet to completion: the apply hook, the verify hook, the helm test pod, and the backup and drill CronJobs'
// pods (started with `kubectl create job --from=cronjob/...`, as the chart's README tells an operator to).
import { randomBytes } from 'node:crypto'
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { ciValues } from '../chart/helm.ts'
import { applySecret, helm, kubectl, kubectlOk, localBackupImage, localImage, stateDir, type Cluster } from './cluster.ts'
import { condition, finishedJob, helmChart, podLogs, podsOfJob, terminated, type Pod } from './inspect.ts'
import { startHostPostgres } from './servers.ts'
import { withCluster } from './test-cluster.ts'

let cluster: Cluster
const cleanups: (() => Promise<unknown>)[] = []

withCluster((c) => {
  cluster = c
})

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
})

const password = (label: string) => `${label}-${randomBytes(9).toString('base64url')}`

/** The one pod of a finished Job: it must have run to completion with exit 0. */
async function completedPod(job: string): Promise<Pod> {
  const finished = await finishedJob(cluster, job)
  const pods = await podsOfJob(cluster, job)
  const pod = pods[0]
  const explain = `${JSON.stringify(finished.status)}\n${pod ? await podLogs(cluster, pod.metadata.name).catch(() => '') : 'no pod'}`
  expect(condition(finished, 'Complete')?.status, explain).toBe('True')
  expect(pods.length).toBe(1)
  expect(pod!.status.phase).toBe('Succeeded')
  expect(terminated(pod!)?.exitCode).toBe(0)
  return pod!
}

/** `kubectl create job --from=cronjob/...`, as an operator starts a run by hand; returns its completed pod. */
async function runCronJob(release: string, command: 'backup' | 'drill'): Promise<Pod> {
  const job = `${release}-${command}-now`
  const created = await kubectl(cluster, ['-n', cluster.namespace, 'create', 'job', job, `--from=cronjob/${release}-dbhook-${command}`])
  expect(created.code, created.stderr).toBe(0)
  expect(created.stderr).not.toMatch(/violate PodSecurity/)
  return completedPod(job)
}

async function testPod(release: string): Promise<void> {
  const result = await helm(cluster, ['test', release, '-n', cluster.namespace, '--timeout', '5m'])
  expect(result.code, result.stdout + result.stderr).toBe(0)
  expect(result.stdout).toMatch(new RegExp(`TEST SUITE:\\s+${release}-dbhook-test[\\s\\S]*?Phase:\\s+Succeeded`))
}

/** A claim for the backups: a hostPath volume the chart's PersistentVolumeClaim binds to, writable by 65532. */
async function backupVolume(storageClass: string, size: string): Promise<string> {
  const dir = await mkdtemp(join(stateDir, 'volume-'))
  await chown(dir, 65532, 65532)
  const name = `dbhook-e2e-${dir.slice(-6).toLowerCase()}`
  const pv = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: {
      capacity: { storage: size },
      accessModes: ['ReadWriteOnce'],
      storageClassName: storageClass,
      persistentVolumeReclaimPolicy: 'Retain',
      hostPath: { path: dir, type: 'Directory' },
    },
  }
  await kubectlOk(cluster, ['apply', '-f', '-'], { input: JSON.stringify(pv) })
  cleanups.push(async () => {
    await kubectl(cluster, ['delete', 'pv', name, '--wait=false'])
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

describe('every pod the chart renders runs in the restricted namespace', () => {
  test('backup values: the apply hook, helm test, then the backup and drill CronJobs run as Jobs', async () => {
    const server = await startHostPostgres(cluster)
    cleanups.push(() => server.stop())
    const provisioner = password('provisioner')
    const owner = password('owner')
    await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD '${provisioner}'`)
    await applySecret(cluster, 'openzro-db', { password: owner })
    await applySecret(cluster, 'openzro-backup-key', { 'aes-256-key': randomBytes(32).toString('hex') })
    const claimDir = await backupVolume('fast-ssd', '20Gi')
    const release = 'bk'
    cleanups.push(() => kubectl(cluster, ['-n', cluster.namespace, 'delete', 'pvc', `${release}-dbhook-backups`, '--wait=false']))
    cleanups.push(() => helm(cluster, ['uninstall', release, '-n', cluster.namespace, '--wait']))

    const install = await helmChart(cluster, 'install', release, [ciValues('backup-values.yaml')], {
      ...localImage,
      ...localBackupImage,
      postgres: {
        host: cluster.host,
        port: server.port,
        sslMode: 'disable',
        provisioning: { password: provisioner },
        databases: { flow: '', activity: '', dex: '' },
      },
      waitTimeout: '60s',
    })
    expect(install.code, install.stderr).toBe(0)
    await completedPod(`${release}-dbhook`)
    await testPod(release)
    // The backup and drill connect as the provisioning user, a CREATEDB+CREATEROLE role that is not the owner of
    // the runtime user's tables: they act as the owner by lending themselves the role for the run (docs/backup.md).
    await server.query(
      "CREATE TABLE peers (id int PRIMARY KEY, name text); INSERT INTO peers SELECT g, 'peer ' || g FROM generate_series(1, 40) g",
      [],
      {
        user: 'openzro',
        password: owner,
        database: 'openzro',
      },
    )

    const backup = await runCronJob(release, 'backup')
    expect(terminated(backup)?.message).toMatch(/^backup: /)
    expect((await readdir(join(claimDir, 'openzro'))).sort()).toEqual([
      expect.stringMatching(/^openzro-\d{8}T\d{6}Z\.dump$/),
      expect.stringMatching(/^openzro-\d{8}T\d{6}Z\.dump\.sha256$/),
      expect.stringMatching(/^openzro-\d{8}T\d{6}Z\.manifest$/),
    ])
    const drill = await runCronJob(release, 'drill')
    expect(terminated(drill)?.message).toMatch(/drill: passed/)
    expect(terminated(drill)?.message).toContain('40 rows')
  }, 1_200_000)

  test('provisioning disabled: the verify hook passes once a DBA created the databases, and helm test too', async () => {
    const server = await startHostPostgres(cluster)
    cleanups.push(() => server.stop())
    const owner = password('owner')
    await server.query(`CREATE ROLE openzro LOGIN PASSWORD '${owner}'`)
    for (const name of ['openzro', 'openzro_flow', 'openzro_activity', 'dex']) await server.query(`CREATE DATABASE ${name} OWNER openzro`)
    const release = 'vo'
    cleanups.push(() => helm(cluster, ['uninstall', release, '-n', cluster.namespace, '--wait']))
    const install = await helmChart(cluster, 'install', release, [ciValues('verify-only-values.yaml')], {
      ...localImage,
      postgres: { host: cluster.host, port: server.port, sslMode: 'disable', password: owner },
      waitTimeout: '60s',
    })
    expect(install.code, install.stderr).toBe(0)
    const pod = await completedPod(`${release}-dbhook-verify`)
    expect(terminated(pod)?.message).toContain('4 databases exist, are owned by "openzro"')
    await testPod(release)
  }, 1_200_000)
})
