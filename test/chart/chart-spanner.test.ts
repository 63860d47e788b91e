import { beforeAll, describe, expect, test } from 'vitest'
import { byKind, envOf, helmBinary, lint, only, podSpecOf, render, type Manifest, type Rendered } from './helm.ts'
import { schemaProblems, unknownFieldProblems } from './kubernetes-schema.ts'

/** openZro on Cloud Spanner: project, instance, the four databases, and workload identity on the ServiceAccount. */
const openZroSpanner = {
  spanner: { enabled: true, project: 'openzro-prod', instance: 'main' },
  serviceAccount: { create: true, annotations: { 'iam.gke.io/gcp-service-account': 'dbhook@openzro-prod.iam.gserviceaccount.com' } },
}

async function rendered(values: Parameters<typeof render>[0]): Promise<Rendered> {
  const result = await render(values)
  expect(result.code, result.stderr).toBe(0)
  return result
}

function pods(manifests: readonly Manifest[]): Manifest[] {
  return manifests.filter((m) => m.kind === 'Job' || m.kind === 'Pod')
}

beforeAll(() => {
  helmBinary() // a missing helm fails these tests, never skips them
})

describe('the spanner block', () => {
  test('renders an apply Job with no password, no Secret and no volume, as the workload-identity ServiceAccount, on the -spanner image', async () => {
    const { manifests, notes } = await rendered([openZroSpanner])
    expect(byKind(manifests, 'Secret')).toEqual([])
    const job = only(manifests, 'Job')
    const spec = podSpecOf(job)
    expect(spec.containers[0].args).toEqual(['apply'])
    expect(spec.containers[0].image).toBe('ghcr.io/dbhook/dbhook:0.1.0-spanner')
    expect(envOf(job)).toEqual({
      DBHOOK_ENGINE: 'spanner',
      DBHOOK_SPANNER_PROJECT: 'openzro-prod',
      DBHOOK_SPANNER_INSTANCE: 'main',
      DBHOOK_DATABASES: JSON.stringify({ activity: 'openzro_activity', dex: 'dex', flow: 'openzro_flow', management: 'openzro' }),
      DBHOOK_WAIT_TIMEOUT: '300s',
      DBHOOK_CONNECT_TIMEOUT: '10s',
      DBHOOK_LOG_LEVEL: 'info',
      DBHOOK_LOG_FORMAT: 'json',
    })
    for (const pod of pods(manifests)) {
      const podSpec = podSpecOf(pod)
      expect(podSpec.volumes, pod.metadata.name).toBeUndefined()
      expect(podSpec.containers[0].volumeMounts, pod.metadata.name).toBeUndefined()
      expect(
        podSpec.containers[0].env.some((e: { name: string; valueFrom?: unknown }) => /PASSWORD|SSL/.test(e.name) || e.valueFrom),
        pod.metadata.name,
      ).toBe(false)
    }
    const account = only(manifests, 'ServiceAccount')
    expect(account.metadata.annotations).toMatchObject({
      'iam.gke.io/gcp-service-account': 'dbhook@openzro-prod.iam.gserviceaccount.com',
      'helm.sh/hook-weight': '-5',
    })
    expect(spec.serviceAccountName).toBe(account.metadata.name)
    expect(only(manifests, 'Pod').spec.containers[0].args).toEqual(['verify'])
    expect(notes).toContain('ran `dbhook apply` on the\nCloud Spanner instance projects/openzro-prod/instances/main')
    expect(notes).toContain('roles/spanner.databaseUser')
  })

  test('every pod keeps the hardening of the other engines; Spanner pods get their own resources', async () => {
    for (const values of [[openZroSpanner], [openZroSpanner, { spanner: { provisioning: { enabled: false } } }]]) {
      for (const pod of pods((await rendered(values)).manifests)) {
        const spec = podSpecOf(pod)
        const container = spec.containers[0]
        expect(spec.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 65532,
          fsGroup: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        })
        expect(container.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 65532,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        })
        expect(spec.automountServiceAccountToken).toBe(false)
        expect(spec.restartPolicy).toBe('Never')
        expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError')
        expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '192Mi' }, limits: { memory: '256Mi' } })
      }
    }
  })

  test('provisioning off renders a verify Job whose annotation prints the gcloud commands through dbhook sql', async () => {
    const { manifests, notes } = await rendered([
      openZroSpanner,
      { spanner: { provisioning: { enabled: false }, image: { tag: '0.1.0-spanner-rc1' } } },
    ])
    const job = only(manifests, 'Job')
    expect(job.metadata.name).toBe('openzro-dbhook-verify')
    expect(podSpecOf(job).containers[0].args).toEqual(['verify'])
    const sql = job.metadata.annotations!['dbhook.io/dba-sql-command']!
    expect(sql).toContain('--image=ghcr.io/dbhook/dbhook:0.1.0-spanner-rc1')
    expect(sql).toContain("--env='DBHOOK_ENGINE=spanner' --env='DBHOOK_SPANNER_PROJECT=openzro-prod' --env='DBHOOK_SPANNER_INSTANCE=main'")
    expect(sql).not.toContain('DBHOOK_OWNER')
    expect(notes).toContain(sql)
  })

  test('the emulator address reaches SPANNER_EMULATOR_HOST; an image digest pins the -spanner image', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`
    const { manifests } = await rendered([openZroSpanner, { spanner: { emulatorHost: 'spanner-emulator:9010', image: { digest } } }])
    const job = only(manifests, 'Job')
    expect(envOf(job).SPANNER_EMULATOR_HOST).toBe('spanner-emulator:9010')
    expect(podSpecOf(job).containers[0].image).toBe(`ghcr.io/dbhook/dbhook:0.1.0-spanner@${digest}`)
  })

  test('the rendered manifests validate against the Kubernetes schemas and helm lint --strict passes', async () => {
    const { manifests } = await rendered([openZroSpanner])
    expect(await schemaProblems(manifests)).toEqual([])
    expect(await unknownFieldProblems({ spanner: manifests })).toEqual([])
    const result = await lint([openZroSpanner])
    expect(result.code, result.stdout + result.stderr).toBe(0)
  }, 60_000)
})

describe('spanner values that cannot work fail the render, naming them', () => {
  const cases: [string, Record<string, unknown>[], string][] = [
    [
      'spanner with postgres',
      [openZroSpanner, { postgres: { enabled: true, host: 'db', password: 'x' } }],
      'spanner.enabled and postgres.enabled are both true: they are mutually exclusive',
    ],
    [
      'spanner with mysql',
      [openZroSpanner, { mysql: { enabled: true, host: 'db', password: 'x' } }],
      'spanner.enabled and mysql.enabled are both true: they are mutually exclusive',
    ],
    ['no project', [{ spanner: { enabled: true, instance: 'main' } }], 'spanner.project is required when spanner.enabled is true'],
    ['no instance', [{ spanner: { enabled: true, project: 'openzro-prod' } }], 'spanner.instance is required when spanner.enabled is true'],
    [
      'every database left out',
      [openZroSpanner, { spanner: { databases: { management: '', flow: '', activity: '', dex: '' } } }],
      'spanner.databases lists no database',
    ],
    [
      'backups on Spanner',
      [openZroSpanner, { backup: { enabled: true, persistence: { size: '1Gi' } } }],
      "dbhook backup does not run on Spanner; use Spanner's managed backups",
    ],
    [
      'a database id Spanner refuses',
      [openZroSpanner, { spanner: { databases: { management: 'OpenZro' } } }],
      "at '/spanner/databases/management'",
    ],
    [
      'a password on Spanner',
      [openZroSpanner, { spanner: { password: 'x' } }],
      "at '/spanner': additional properties 'password' not allowed",
    ],
    [
      'an emulator address with a scheme',
      [openZroSpanner, { spanner: { emulatorHost: 'http://emulator:9010' } }],
      "at '/spanner/emulatorHost'",
    ],
  ]
  test.each(cases)('%s', async (_name, values, message) => {
    const result = await render(values)
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(message)
  })
})
