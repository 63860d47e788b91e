// The backup and drill CronJobs as rendered, run without a cluster (rendered-pod.ts plays the kubelet: Secret
// files with their modes, the claim as a host directory, an emptyDir at /tmp) against a real PostgreSQL 15, the
// newest major Debian's pg_dump here can dump. Then the README's restore procedure: the backup CronJob's pod
// with `restore --database openzro --replace` as args.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { dbhookBin } from '../support/dbhook.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { ciValues, helmBinary, only, render, type Manifest } from './helm.ts'
import { runRenderedPod, type ClusterObjects, type PodRun } from './rendered-pod.ts'

let server: PostgresServer
let claimDir: string

function explain(run: PodRun): string {
  return `exit ${run.code}\n${run.stdout}\n${run.stderr}`
}

/** The pod of `cronJob` with other container args, as `kubectl create job --from=cronjob/...` plus an edit makes it. */
function withArgs(cronJob: Manifest, args: string[]): Manifest {
  const copy = structuredClone(cronJob)
  copy.spec.jobTemplate.spec.template.spec.containers[0].args = args
  return copy
}

beforeAll(async () => {
  helmBinary()
  if (!existsSync(dbhookBin)) throw new Error(`${dbhookBin} is missing: run npm run build first`)
  ;[server, claimDir] = await Promise.all([startPostgres(15), mkdtemp(join(tmpdir(), 'dbhook-claim-'))])
  // What fsGroup does to a PVC in the pod: writable for 65532.
  if (process.getuid?.() === 0) await chown(claimDir, 65532, 65532)
})

afterAll(async () => {
  await server?.stop()
  if (claimDir) await rm(claimDir, { recursive: true, force: true })
})

describe('the rendered backup CronJobs run against a real PostgreSQL 15', () => {
  test('apply, backup (encrypted, into the claim), drill, then the README restore with --replace brings the data back', async () => {
    const ownerPassword = `owner-${randomBytes(6).toString('hex')}`
    const cluster: ClusterObjects = {
      secrets: {
        'openzro-db': { password: ownerPassword },
        'openzro-backup-key': { 'aes-256-key': randomBytes(32).toString('hex') },
      },
      claims: { 'openzro-dbhook-backups': claimDir },
    }
    const result = await render([
      ciValues('backup-values.yaml'),
      {
        postgres: {
          host: server.host,
          port: server.port,
          sslMode: 'disable',
          provisioning: { username: 'postgres', password: server.password },
          databases: { flow: '', activity: '', dex: '' },
        },
        waitTimeout: '20s',
        connectTimeout: '5s',
      },
    ])
    expect(result.code, result.stderr).toBe(0)
    const manifests = result.manifests

    const apply = await runRenderedPod(only(manifests, 'Job', 'provision'), manifests, cluster)
    expect(apply.code, explain(apply)).toBe(0)
    const asOwner = { user: 'openzro', password: ownerPassword, database: 'openzro' }
    await server.query(
      "CREATE TABLE peers (id int PRIMARY KEY, name text); INSERT INTO peers SELECT g, 'peer ' || g FROM generate_series(1, 250) g",
      [],
      asOwner,
    )

    // After a successful install Helm deleted the hook Secret (hook-succeeded); the CronJobs run after that.
    const afterHooks = manifests.filter((m) => !(m.kind === 'Secret' && m.metadata.annotations?.['helm.sh/hook']))
    expect(afterHooks.length).toBe(manifests.length - 1)
    const backupCronJob = only(manifests, 'CronJob', 'backup')
    const backup = await runRenderedPod(backupCronJob, afterHooks, cluster, { memoryProbe: true })
    expect(backup.code, explain(backup)).toBe(0)
    console.info(`backup pod peak memory: ${JSON.stringify(backup.memory)} (KiB; node only, pg_dump is a child process)`)
    // The admin password (from the ordinary backup Secret: the hook Secret is gone by now) and the key reached
    // the pod as files with mode 0400 (plus group read from fsGroup).
    expect(backup.mountedModes).toEqual({
      '/var/run/secrets/dbhook/admin/password': expect.stringMatching(/^04[04]0$/),
      '/var/run/secrets/dbhook/backup-key/key': expect.stringMatching(/^04[04]0$/),
    })
    const files = (await readdir(join(claimDir, 'openzro'))).sort()
    expect(files).toEqual([
      expect.stringMatching(/^openzro-\d{8}T\d{6}Z\.dump$/),
      expect.stringMatching(/^openzro-\d{8}T\d{6}Z\.dump\.sha256$/),
      expect.stringMatching(/^openzro-\d{8}T\d{6}Z\.manifest$/),
    ])
    // Encrypted at rest: no pg_dump custom-format header, no row data in clear.
    const dump = await readFile(join(claimDir, 'openzro', files[0]!))
    expect(dump.subarray(0, 5).toString()).not.toBe('PGDMP')
    expect(dump.includes('peer 17')).toBe(false)

    const drill = await runRenderedPod(only(manifests, 'CronJob', 'drill'), afterHooks, cluster)
    expect(drill.code, explain(drill)).toBe(0)
    expect(drill.terminationMessage).toMatch(/drill: passed/)
    expect(drill.terminationMessage).toContain('250 rows')

    // Production changes after the backup; the README's restore (the app scaled to zero: no session is open).
    await server.query('DELETE FROM peers WHERE id > 10', [], asOwner)
    const restore = await runRenderedPod(
      withArgs(backupCronJob, ['restore', '--database', 'openzro', '--from', 'latest', '--replace']),
      afterHooks,
      cluster,
    )
    expect(restore.code, explain(restore)).toBe(0)
    expect(await server.query('SELECT count(*)::int AS n FROM peers', [], asOwner)).toEqual([{ n: 250 }])
    const owner = await server.query<{ owner: string }>(
      "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'openzro'",
    )
    expect(owner).toEqual([{ owner: 'openzro' }])

    // Without the key the same restore fails cleanly and leaves the database alone.
    const keyless: ClusterObjects = {
      ...cluster,
      secrets: { ...cluster.secrets, 'openzro-backup-key': { 'aes-256-key': randomBytes(32).toString('hex') } },
    }
    const wrongKey = await runRenderedPod(
      withArgs(backupCronJob, ['restore', '--database', 'openzro', '--into', 'openzro_wrong_key']),
      afterHooks,
      keyless,
    )
    expect(wrongKey.code, explain(wrongKey)).not.toBe(0)
    expect(wrongKey.terminationMessage).toMatch(/key|authentication/)
    expect(await server.query("SELECT datname FROM pg_database WHERE datname = 'openzro_wrong_key'")).toEqual([])
  }, 120_000)
})
