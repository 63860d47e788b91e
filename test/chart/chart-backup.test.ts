// The backup and drill CronJobs (backup.*): rendered, linted, validated against the Kubernetes schemas, hardened
// like the hook, and refused with a clear message when their values make no sense.
import { beforeAll, describe, expect, test } from 'vitest'
import { byKind, ciValues, envOf, helmBinary, lint, only, podSpecOf, render, type Manifest, type Rendered } from './helm.ts'
import { schemaProblems, unknownFieldProblems } from './kubernetes-schema.ts'

const backupValues = ciValues('backup-values.yaml')
const openZroPostgres = { postgres: { enabled: true, host: 'db.internal', username: 'openzro', password: 'pg-secret-1' } }

async function rendered(values: Parameters<typeof render>[0]): Promise<Rendered> {
  const result = await render(values)
  expect(result.code, result.stderr).toBe(0)
  return result
}

type Volume = {
  name: string
  secret?: { secretName: string; defaultMode: number; items: { key: string; path: string; mode: number }[] }
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean }
  emptyDir?: object
}
type Mount = { name: string; mountPath: string; readOnly?: boolean }

function mountOf(cronJob: Manifest, path: string): { mount: Mount; volume: Volume } {
  const spec = podSpecOf(cronJob)
  const mount = (spec.containers[0].volumeMounts as Mount[]).find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
  if (!mount) throw new Error(`${cronJob.metadata.name}: nothing is mounted at ${path}`)
  return { mount, volume: (spec.volumes as Volume[]).find((v) => v.name === mount.name)! }
}

beforeAll(() => {
  helmBinary()
})

describe('backup CronJobs', () => {
  let manifests: Manifest[]
  beforeAll(async () => {
    manifests = (await rendered([backupValues])).manifests
  })

  test('helm lint --strict passes with chart/ci/backup-values.yaml', async () => {
    const result = await lint([backupValues])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed')
  })

  test('backup off by default: no CronJob, PVC or backup Secret', async () => {
    const { manifests: plain } = await rendered([openZroPostgres])
    expect(plain.filter((m) => ['CronJob', 'PersistentVolumeClaim'].includes(m.kind))).toEqual([])
    expect(plain.filter((m) => m.metadata.labels?.['app.kubernetes.io/component'] === 'backup')).toEqual([])
  })

  test('the CronJobs, the PVC and the backup Secret validate against the Kubernetes schemas and know no stray field', async () => {
    const scheduled = manifests.filter(
      (m) => m.kind === 'CronJob' || m.kind === 'PersistentVolumeClaim' || m.metadata.labels?.['app.kubernetes.io/component'] === 'backup',
    )
    expect(scheduled.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'CronJob/openzro-dbhook-backup',
      'CronJob/openzro-dbhook-drill',
      'PersistentVolumeClaim/openzro-dbhook-backups',
      'Secret/openzro-dbhook-backup-credentials',
    ])
    expect(await schemaProblems(manifests)).toEqual([])
    expect(await unknownFieldProblems({ backup: manifests })).toEqual([])
  }, 60_000)

  test('the backup CronJob: schedule, time zone, Forbid, history limits, dbhook backup in the -pgtools image', () => {
    const cronJob = only(manifests, 'CronJob', 'backup')
    expect(cronJob.metadata.annotations?.['helm.sh/hook']).toBeUndefined()
    expect(cronJob.spec).toMatchObject({
      schedule: '30 1 * * *',
      timeZone: 'Europe/Berlin',
      concurrencyPolicy: 'Forbid',
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      startingDeadlineSeconds: 3600,
    })
    expect(cronJob.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 7200 })
    const container = podSpecOf(cronJob).containers[0]
    expect(container.args).toEqual(['backup'])
    expect(container.command).toBeUndefined()
    expect(container.image).toBe('ghcr.io/dbhook/dbhook:0.1.0-pgtools')
    expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } })
    expect(envOf(cronJob)).toMatchObject({
      DBHOOK_ENGINE: 'postgres',
      DBHOOK_HOST: '10.0.0.5',
      DBHOOK_ADMIN_USER: 'provisioner',
      DBHOOK_ADMIN_PASSWORD_FILE: '/var/run/secrets/dbhook/admin/password',
      DBHOOK_OWNER: 'openzro',
      DBHOOK_SSLMODE: 'require',
      DBHOOK_BACKUP_DIR: '/var/backups/dbhook',
      DBHOOK_BACKUP_KEEP_DAYS: '14',
      DBHOOK_BACKUP_KEY_FILE: '/var/run/secrets/dbhook/backup-key/key',
      TMPDIR: '/tmp',
    })
    // The same databases as the provisioning hook.
    expect(envOf(cronJob).DBHOOK_DATABASES).toBe(envOf(only(manifests, 'Job')).DBHOOK_DATABASES)
    // backup, drill and restore connect only as the admin user: the runtime user's password stays out of the pod.
    expect(envOf(cronJob).DBHOOK_OWNER_PASSWORD_FILE).toBeUndefined()
    expect(envOf(cronJob).DBHOOK_APP_PASSWORD_FILE).toBeUndefined()
    expect(podSpecOf(cronJob).volumes.map((v: Volume) => v.name)).toEqual(['admin-password', 'backups', 'backup-key', 'tmp'])
  })

  test('the drill CronJob runs dbhook drill weekly with the same settings, the backups mounted read-only', () => {
    const drill = only(manifests, 'CronJob', 'drill')
    const backup = only(manifests, 'CronJob', 'backup')
    expect(drill.spec).toMatchObject({ schedule: '0 4 * * 0', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid' })
    expect(podSpecOf(drill).containers[0].args).toEqual(['drill'])
    expect(podSpecOf(drill).containers[0].image).toBe(podSpecOf(backup).containers[0].image)
    expect(envOf(drill)).toEqual(envOf(backup))
    expect(mountOf(drill, '/var/backups/dbhook')).toEqual({
      mount: { name: 'backups', mountPath: '/var/backups/dbhook', readOnly: true },
      volume: { name: 'backups', persistentVolumeClaim: { claimName: 'openzro-dbhook-backups', readOnly: true } },
    })
    expect(mountOf(backup, '/var/backups/dbhook').mount.readOnly).toBe(false)
  })

  test('both pods are hardened like the hook: non-root 65532, read-only root, no escalation, no capabilities, seccomp, no token', () => {
    for (const cronJob of byKind(manifests, 'CronJob')) {
      const spec = podSpecOf(cronJob)
      const container = spec.containers[0]
      const where = cronJob.metadata.name
      expect(spec.securityContext, where).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        fsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      })
      expect(container.securityContext, where).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ['ALL'] },
      })
      expect(spec.automountServiceAccountToken, where).toBe(false)
      expect(spec.enableServiceLinks, where).toBe(false)
      expect(spec.restartPolicy, where).toBe('Never')
      expect(container.terminationMessagePolicy, where).toBe('FallbackToLogsOnError')
      // The only writable places: the backup volume (backup only) and an emptyDir for temporary files.
      expect(mountOf(cronJob, '/tmp').volume).toEqual({ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } })
      for (const mount of container.volumeMounts as Mount[]) {
        const writable = mount.readOnly !== true
        expect([mount.name, writable], where).toEqual([
          mount.name,
          mount.name === 'tmp' || (mount.name === 'backups' && container.args[0] === 'backup'),
        ])
      }
    }
  })

  test('the admin password and the encryption key are files with mode 0400; an inline password comes from an ordinary Secret', () => {
    const cronJob = only(manifests, 'CronJob', 'backup')
    const secret = only(manifests, 'Secret', 'backup')
    expect(secret.metadata.annotations?.['helm.sh/hook']).toBeUndefined()
    const decoded = Object.fromEntries(
      Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    )
    expect(decoded).toEqual({ 'admin-password': 'REPLACE_WITH_ADMIN_PASSWORD' })
    for (const entry of podSpecOf(cronJob).containers[0].env as { name: string; value: string }[]) {
      expect(entry.value, entry.name).not.toContain('REPLACE_WITH_ADMIN_PASSWORD')
    }
    const sources = Object.fromEntries(
      ['/var/run/secrets/dbhook/admin/password', '/var/run/secrets/dbhook/backup-key/key'].map((path) => {
        const { volume } = mountOf(cronJob, path)
        expect(volume.secret!.defaultMode, path).toBe(0o400)
        expect(
          volume.secret!.items.map((i) => i.mode),
          path,
        ).toEqual([0o400])
        return [path, `${volume.secret!.secretName}/${volume.secret!.items[0]!.key}`]
      }),
    )
    expect(sources).toEqual({
      '/var/run/secrets/dbhook/admin/password': 'openzro-dbhook-backup-credentials/admin-password',
      '/var/run/secrets/dbhook/backup-key/key': 'openzro-backup-key/aes-256-key',
    })
    // The provisioning hook keeps its own hook Secret, deleted once the hooks succeed.
    const hookSecret = byKind(manifests, 'Secret').find((s) => s.metadata.annotations?.['helm.sh/hook'])!
    expect(hookSecret.metadata.annotations?.['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded')
    expect(Object.keys(hookSecret.data)).toEqual(['admin-password'])
  })

  test('NOTES.txt names the CronJobs, the on-demand backup command and the application keys to keep', async () => {
    const { notes } = await rendered([backupValues])
    expect(notes).toContain('kubectl create job --namespace apps --from=cronjob/openzro-dbhook-backup manual-backup-1')
    expect(notes).toContain('The CronJob openzro-dbhook-drill restores them on "0 4 * * 0"')
    expect(notes).toContain('ZITADEL')
    expect((await rendered([openZroPostgres])).notes).not.toContain('Backups:')
  })

  test('the created claim has the size, class and access mode asked for and survives helm uninstall', () => {
    const claim = only(manifests, 'PersistentVolumeClaim')
    expect(claim.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' })
    expect(claim.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'fast-ssd',
      resources: { requests: { storage: '20Gi' } },
    })
  })

  test('an existing claim and existing Secrets: no PVC, no Secret, no key file, the pgtools image pinned by digest', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`
    const { manifests: existing } = await rendered([
      { postgres: { enabled: true, host: 'db', username: 'openzro', existingSecret: 'openzro-db' } },
      {
        backup: { enabled: true, persistence: { existingClaim: 'nfs-backups' }, image: { repository: 'registry.example/dbhook', digest } },
      },
    ])
    expect(byKind(existing, 'PersistentVolumeClaim')).toEqual([])
    expect(byKind(existing, 'Secret')).toEqual([])
    expect(byKind(existing, 'CronJob')).toHaveLength(1)
    const cronJob = only(existing, 'CronJob', 'backup')
    expect(cronJob.spec).toMatchObject({ schedule: '0 2 * * *', concurrencyPolicy: 'Forbid' })
    expect(cronJob.spec.timeZone).toBeUndefined()
    expect(mountOf(cronJob, '/var/backups/dbhook').volume.persistentVolumeClaim!.claimName).toBe('nfs-backups')
    expect(podSpecOf(cronJob).containers[0].image).toBe(`registry.example/dbhook:0.1.0-pgtools@${digest}`)
    expect(envOf(cronJob)).toMatchObject({
      DBHOOK_BACKUP_KEEP_DAYS: '7',
      DBHOOK_ADMIN_USER: 'openzro',
      DBHOOK_ADMIN_PASSWORD_FILE: '/var/run/secrets/dbhook/owner/password',
    })
    expect(envOf(cronJob).DBHOOK_BACKUP_KEY_FILE).toBeUndefined()
    // The runtime user provisions for itself: its password, from the existing Secret, is the admin password.
    expect(mountOf(cronJob, '/var/run/secrets/dbhook/owner/password').volume.secret!.secretName).toBe('openzro-db')
    expect(envOf(cronJob).DBHOOK_OWNER_PASSWORD_FILE).toBeUndefined()
    expect(await schemaProblems(existing)).toEqual([])
  })

  test('MySQL: the same CronJob for mariadb-dump, with the mysql settings', async () => {
    const { manifests: mysql } = await rendered([
      ciValues('mysql-values.yaml'),
      { backup: { enabled: true, persistence: { size: '5Gi' } } },
    ])
    const cronJob = only(mysql, 'CronJob', 'backup')
    expect(envOf(cronJob)).toMatchObject({ DBHOOK_ENGINE: 'mysql', DBHOOK_PORT: '3306', DBHOOK_BACKUP_DIR: '/var/backups/dbhook' })
    expect(await schemaProblems(mysql)).toEqual([])
  })

  test('a long release name keeps CronJob names within 52 characters', async () => {
    const release = 'a-release-name-that-is-long-enough-to-need-truncating'
    const result = await render([openZroPostgres, { backup: { enabled: true, persistence: { size: '1Gi' }, drill: { enabled: true } } }], {
      release,
    })
    expect(result.code, result.stderr).toBe(0)
    for (const cronJob of byKind(result.manifests, 'CronJob'))
      expect(cronJob.metadata.name.length, cronJob.metadata.name).toBeLessThanOrEqual(52)
    expect(byKind(result.manifests, 'CronJob').map((c) => c.metadata.name.split('-').pop())).toEqual(['backup', 'drill'])
  })
})

describe('bad backup values fail with a clear message', () => {
  const volume = { persistence: { size: '10Gi' } }
  const cases: [string, Record<string, unknown>[], string][] = [
    [
      'neither an existing claim nor a size',
      [openZroPostgres, { backup: { enabled: true } }],
      'backup.persistence.existingClaim or backup.persistence.size is required',
    ],
    [
      'both an existing claim and a size',
      [openZroPostgres, { backup: { enabled: true, persistence: { existingClaim: 'pvc', size: '1Gi' } } }],
      'backup.persistence.existingClaim (pvc) and backup.persistence.size are both set',
    ],
    [
      'backup without a database server',
      [{ backup: { enabled: true, ...volume } }],
      'backup.enabled is true but neither postgres.enabled nor mysql.enabled is',
    ],
    [
      'a drill without backups',
      [openZroPostgres, { backup: { drill: { enabled: true } } }],
      'backup.drill.enabled is true but backup.enabled is false',
    ],
    [
      'a schedule that is a number',
      [openZroPostgres, { backup: { enabled: true, ...volume, schedule: 2 } }],
      "at '/backup/schedule': got number, want string",
    ],
    [
      'a schedule with three fields',
      [openZroPostgres, { backup: { enabled: true, ...volume, schedule: '0 2 *' } }],
      "at '/backup/schedule'",
    ],
    [
      'a drill schedule that is not cron',
      [openZroPostgres, { backup: { enabled: true, ...volume, drill: { enabled: true, schedule: 'weekly' } } }],
      "at '/backup/drill/schedule'",
    ],
    [
      'a size that is not a quantity',
      [openZroPostgres, { backup: { enabled: true, persistence: { size: 'ten gigs' } } }],
      "at '/backup/persistence/size'",
    ],
    [
      'an unknown access mode',
      [openZroPostgres, { backup: { enabled: true, persistence: { size: '1Gi', accessMode: 'ReadOnlyMany' } } }],
      "at '/backup/persistence/accessMode'",
    ],
    ['keepDays of zero', [openZroPostgres, { backup: { enabled: true, ...volume, keepDays: 0 } }], "at '/backup/keepDays'"],
    [
      'a misspelt backup key',
      [openZroPostgres, { backup: { enabled: true, ...volume, keep_days: 3 } }],
      "additional properties 'keep_days' not allowed",
    ],
  ]
  test.each(cases)('%s', async (_name, values, message) => {
    const result = await render(values)
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(message)
  })
})
