import { readdirSync, readFileSync } from 'node:fs'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { documentedValues, readmeTable, valuesTable } from '../../scripts/values-doc.ts'
import { valuesSchema, valuesSchemaPath, valuesSchemaText } from '../../scripts/values-schema.ts'
import {
  byKind,
  chartDir,
  ciValues,
  ciValuesDir,
  envOf,
  helm,
  helmBinary,
  lint,
  only,
  podSpecOf,
  render,
  type Manifest,
  type Rendered,
} from './helm.ts'
import { schemaProblems, unknownFieldProblems } from './kubernetes-schema.ts'

const kubernetesModels = join(import.meta.dirname, '../../node_modules/kubernetes-models')

const matrix = readdirSync(ciValuesDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
const openZroPostgres = {
  postgres: { enabled: true, host: 'db.internal', username: 'openzro', password: 'pg-secret-1' },
}

/** Every pod the chart renders: the Jobs' templates and the test pod. */
function pods(manifests: readonly Manifest[]): Manifest[] {
  return manifests.filter((m) => m.kind === 'Job' || m.kind === 'Pod')
}

function annotations(m: Manifest): Record<string, string> {
  return m.metadata.annotations ?? {}
}

/** Renders and fails the test with helm's own words when rendering failed. */
async function rendered(values: Parameters<typeof render>[0]): Promise<Rendered> {
  const result = await render(values)
  expect(result.code, result.stderr).toBe(0)
  return result
}

beforeAll(() => {
  helmBinary() // throws with how to install helm: a missing helm fails these tests, never skips them
})

describe('helm lint --strict over the values matrix in chart/ci', () => {
  // What each values file in chart/ci stands for, checked on its rendering: a file added without a promise here
  // fails, and a file whose rendering stops doing what it stands for fails.
  const promises: Record<string, (manifests: Manifest[]) => void> = {
    'backup-values.yaml': (m) => expect(byKind(m, 'CronJob').map((c) => podSpecOf(c).containers[0].args)).toEqual([['backup'], ['drill']]),
    'existing-secrets-values.yaml': (m) => {
      expect(byKind(m, 'Secret')).toEqual([])
      expect(envOf(only(m, 'Job')).DBHOOK_EXTENSIONS).toBe('pg_trgm')
    },
    'generated-secret-values.yaml': (m) => {
      expect(envOf(only(m, 'Job')).DBHOOK_OWNER_GENERATED_SECRET).toMatch(/-credentials$/)
      expect(
        byKind(m, 'Role')
          .flatMap((r) => r.rules.flatMap((rule: { verbs: string[] }) => rule.verbs))
          .sort(),
      ).toEqual(['create', 'get', 'patch'])
    },
    'mysql-values.yaml': (m) => expect(envOf(only(m, 'Job')).DBHOOK_ENGINE).toBe('mysql'),
    'openzro-postgres-values.yaml': (m) =>
      expect(envOf(only(m, 'Job')).DBHOOK_DATABASES).toBe(
        '{"activity":"openzro_activity","dex":"dex","flow":"openzro_flow","management":"openzro"}',
      ),
    'sqlite-lab-values.yaml': (m) => expect(m.filter((x) => x.kind === 'Job' || x.kind === 'CronJob')).toEqual([]),
    'tls-client-cert-values.yaml': (m) => expect(envOf(only(m, 'Job')).DBHOOK_SSLMODE).toBe('verify-full'),
    'verify-only-values.yaml': (m) => expect(byKind(m, 'Job').map((j) => podSpecOf(j).containers[0].args)).toEqual([['verify']]),
  }
  test.each(matrix)('%s renders the case it stands for', async (file) => {
    const promise = promises[file]
    expect(promise, `chart/ci/${file} has no entry in this test's promises`).toBeTypeOf('function')
    promise!((await rendered([ciValues(file)])).manifests)
  })

  test.each(matrix)('%s passes', async (file) => {
    const result = await lint([ciValues(file)])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed')
  })

  test('an unknown key fails with a message naming it', async () => {
    const result = await lint([{ postgres: { enabled: true, hots: 'db' } }])
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toContain("at '/postgres': additional properties 'hots' not allowed")
  })

  test('a wrong type fails with a message naming the value', async () => {
    const result = await lint([{ postgres: { port: '5432x' } }])
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toContain("at '/postgres/port': got string, want integer")
  })
})

describe('rendered manifests against the Kubernetes OpenAPI schemas', () => {
  let sets: Record<string, Manifest[]>

  beforeAll(async () => {
    sets = Object.fromEntries(await Promise.all(matrix.map(async (file) => [file, (await rendered([ciValues(file)])).manifests] as const)))
  })

  test('every manifest of every matrix file validates (types, enums, required fields)', async () => {
    const all = Object.values(sets).flat()
    expect(all.length).toBeGreaterThan(10)
    expect(await schemaProblems(all)).toEqual([])
  })

  test('no manifest carries a field Kubernetes does not know', async () => {
    expect(await unknownFieldProblems(sets)).toEqual([])
  }, 60_000)

  test('the checks catch a wrong type and a misspelt field', async () => {
    const job = structuredClone(only(sets['openzro-postgres-values.yaml']!, 'Job'))
    job.spec.backoffLimit = 'zero'
    job.spec.template.spec.containers[0].terminationMesagePolicy = 'FallbackToLogsOnError'
    expect((await schemaProblems([job])).join('\n')).toContain('backoffLimit must be integer')
    expect((await unknownFieldProblems({ typo: [job] })).join('\n')).toMatch(
      /'"?terminationMesagePolicy"?' does not exist in type 'IContainer'/,
    )
  }, 60_000)
})

describe('rendering rules', () => {
  test('postgres and mysql enabled together fail with a message that says so', async () => {
    const result = await render([openZroPostgres, { mysql: { enabled: true, host: 'm', password: 'x' } }])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('postgres.enabled and mysql.enabled are both true: they are mutually exclusive')
  })

  test('neither enabled renders no Job and NOTES.txt says why', async () => {
    const result = await rendered([ciValues('sqlite-lab-values.yaml')])
    expect(result.manifests).toEqual([])
    expect(result.notes).toContain('No Job was rendered: postgres.enabled and mysql.enabled are both false.')
    expect(result.notes).toContain('SQLite lab mode')
  })

  test('provisioning enabled renders one apply Job on pre-install and pre-upgrade, kept on failure, for Argo CD too', async () => {
    const { manifests, notes } = await rendered([ciValues('openzro-postgres-values.yaml')])
    const job = only(manifests, 'Job')
    expect(job.metadata.name).toBe('openzro-dbhook')
    expect(podSpecOf(job).containers[0].args).toEqual(['apply'])
    expect(podSpecOf(job).containers[0].command).toBeUndefined()
    expect(annotations(job)).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-weight': '0',
      'helm.sh/hook-delete-policy': 'before-hook-creation',
      'argocd.argoproj.io/hook': 'PreSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      'argocd.argoproj.io/sync-wave': '0',
    })
    expect(envOf(job)).toMatchObject({
      DBHOOK_ENGINE: 'postgres',
      DBHOOK_HOST: '10.0.0.5',
      DBHOOK_PORT: '5432',
      DBHOOK_SSLMODE: 'require',
      DBHOOK_ADMIN_USER: 'openzro',
      DBHOOK_OWNER: 'openzro',
    })
    expect(JSON.parse(envOf(job).DBHOOK_DATABASES!)).toEqual({
      management: 'openzro',
      flow: 'openzro_flow',
      activity: 'openzro_activity',
      dex: 'dex',
    })
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 600 })
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined()
    expect(notes).toContain('ran `dbhook apply`')
  })

  test('provisioning disabled renders a verify Job as the runtime user instead, pointing to dbhook sql', async () => {
    const { manifests, notes } = await rendered([ciValues('verify-only-values.yaml')])
    const job = only(manifests, 'Job')
    expect(job.metadata.name).toBe('openzro-dbhook-verify')
    expect(podSpecOf(job).containers[0].args).toEqual(['verify'])
    expect(annotations(job)['helm.sh/hook']).toBe('pre-install,pre-upgrade')
    const env = envOf(job)
    expect(env.DBHOOK_OWNER).toBe('openzro')
    expect(env.DBHOOK_OWNER_PASSWORD_FILE).toBe('/var/run/secrets/dbhook/owner/password')
    expect(env.DBHOOK_ADMIN_USER).toBeUndefined()
    expect(env.DBHOOK_ADMIN_PASSWORD_FILE).toBeUndefined()
    const command = annotations(job)['dbhook.io/dba-sql-command']!
    expect(command).toMatch(
      /^kubectl run openzro-dbhook-sql --namespace apps --rm -i --restart=Never --image=ghcr\.io\/dbhook\/dbhook:0\.1\.0 /,
    )
    expect(command).toContain(`--env='DBHOOK_DATABASES=${env.DBHOOK_DATABASES}'`)
    expect(command).toMatch(/ -- sql$/)
    expect(notes).toContain(command)
  })

  test('inline passwords go to a hook Secret weighted before the Job, also a test hook, removed on success', async () => {
    const { manifests } = await rendered([ciValues('tls-client-cert-values.yaml')])
    const secret = only(manifests, 'Secret')
    const job = only(manifests, 'Job')
    expect(Number(annotations(secret)['helm.sh/hook-weight'])).toBeLessThan(Number(annotations(job)['helm.sh/hook-weight']))
    expect(annotations(secret)).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade,test',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      'argocd.argoproj.io/hook': 'PreSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation,HookSucceeded',
      'argocd.argoproj.io/sync-wave': '-5',
    })
    const decoded = Object.fromEntries(
      Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    )
    expect(decoded).toEqual({ 'owner-password': 'REPLACE_WITH_PG_PASSWORD', 'admin-password': 'REPLACE_WITH_ADMIN_PASSWORD' })
    // Every Secret a pod mounts is this hook Secret or an existing one: nothing the pre-install hook needs is
    // an ordinary release resource.
    for (const pod of pods(manifests)) {
      for (const volume of podSpecOf(pod).volumes ?? []) {
        if (volume.secret?.secretName === secret.metadata.name) continue
        expect([undefined, 'openzro-client-cert'], volume.name).toContain(volume.secret?.secretName)
      }
    }
  })

  test('existing Secrets are mounted by name and key, and no Secret is rendered', async () => {
    const { manifests } = await rendered([ciValues('existing-secrets-values.yaml')])
    expect(byKind(manifests, 'Secret')).toEqual([])
    const job = only(manifests, 'Job')
    const secrets = Object.fromEntries(
      podSpecOf(job).volumes.map((v: { name: string; secret: { secretName: string; items: { key: string }[] } }) => [
        v.name,
        `${v.secret.secretName}/${v.secret.items[0]!.key}`,
      ]),
    )
    expect(secrets).toEqual({
      'admin-password': 'postgres-admin/admin-password',
      'owner-password': 'openzro-db/password',
      'app-password': 'openzro-db/app-password',
    })
    expect(envOf(job)).toMatchObject({
      DBHOOK_ADMIN_USER: 'provisioner',
      DBHOOK_ADMIN_PASSWORD_FILE: '/var/run/secrets/dbhook/admin/password',
      DBHOOK_OWNER: 'openzro',
      DBHOOK_OWNER_PASSWORD_FILE: '/var/run/secrets/dbhook/owner/password',
      DBHOOK_APP_USER: 'openzro_app',
      DBHOOK_APP_PASSWORD_FILE: '/var/run/secrets/dbhook/app/password',
      DBHOOK_EXTENSIONS: 'pg_trgm',
      DBHOOK_EVENT_TRIGGER: 'off',
    })
    const account = only(manifests, 'ServiceAccount')
    expect(account.automountServiceAccountToken).toBe(false)
    expect(annotations(account)).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade,test',
      'helm.sh/hook-weight': '-5',
      'iam.gke.io/gcp-service-account': 'dbhook@example.iam.gserviceaccount.com',
    })
    expect(podSpecOf(job).serviceAccountName).toBe(account.metadata.name)
    expect(podSpecOf(job).imagePullSecrets).toEqual([{ name: 'regcred' }])
  })

  test('passwords reach every container only as files mounted with mode 0400', async () => {
    for (const file of matrix) {
      const { manifests } = await rendered([ciValues(file)])
      const passwords = byKind(manifests, 'Secret').flatMap((s) =>
        Object.values(s.data as Record<string, string>).map((v) => Buffer.from(v, 'base64').toString()),
      )
      for (const pod of pods(manifests)) {
        const spec = podSpecOf(pod)
        const container = spec.containers[0]
        for (const entry of container.env as { name: string; value?: string; valueFrom?: unknown }[]) {
          expect(entry.valueFrom, `${file} ${entry.name}`).toBeUndefined()
          expect(entry.name, file).not.toMatch(/PASSWORD$/)
          for (const password of passwords) expect(entry.value, `${file} ${entry.name}`).not.toContain(password)
        }
        for (const [name, path] of Object.entries(envOf(pod)).filter(([n]) => n.endsWith('_PASSWORD_FILE') || n === 'DBHOOK_SSLKEY')) {
          const mount = container.volumeMounts.find((m: { mountPath: string }) => path.startsWith(`${m.mountPath}/`))
          expect(mount, `${file} ${name}`).toBeDefined()
          const volume = spec.volumes.find((v: { name: string }) => v.name === mount.name)
          const item = volume.secret.items.find((i: { path: string }) => `${mount.mountPath}/${i.path}` === path)
          expect(item.mode, `${file} ${name}`).toBe(0o400)
          expect(volume.secret.defaultMode).toBe(0o400)
        }
      }
    }
  })

  test('TLS: the CA from a ConfigMap and a client certificate from a Secret, the key 0400', async () => {
    const { manifests } = await rendered([ciValues('tls-client-cert-values.yaml')])
    const job = only(manifests, 'Job')
    const spec = podSpecOf(job)
    expect(envOf(job)).toMatchObject({
      DBHOOK_SSLMODE: 'verify-full',
      DBHOOK_SSLROOTCERT: '/var/run/secrets/dbhook/ca/ca.crt',
      DBHOOK_SSLCERT: '/var/run/secrets/dbhook/client/tls.crt',
      DBHOOK_SSLKEY: '/var/run/secrets/dbhook/client/tls.key',
    })
    expect(spec.volumes.find((v: { name: string }) => v.name === 'ca')).toEqual({
      name: 'ca',
      configMap: { name: 'postgres-ca', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt', mode: 0o444 }] },
    })
    expect(spec.volumes.find((v: { name: string }) => v.name === 'client-cert').secret.items).toEqual([
      { key: 'tls.crt', path: 'tls.crt', mode: 0o444 },
      { key: 'tls.key', path: 'tls.key', mode: 0o400 },
    ])
    // dex: "" leaves that database out; the digest pins the image.
    expect(JSON.parse(envOf(job).DBHOOK_DATABASES!)).toEqual({ management: 'openzro', flow: 'openzro_flow', activity: 'openzro_activity' })
    expect(spec.containers[0].image).toBe(
      'ghcr.io/dbhook/dbhook:0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    )
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' })
    expect(job.spec.template.metadata.labels.team).toBe('platform')
    expect(job.spec.template.metadata.annotations).toEqual({ 'sidecar.istio.io/inject': 'false' })
    expect(job.spec.ttlSecondsAfterFinished).toBe(3600)
    expect(annotations(job)['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded')
  })

  test('every pod is hardened: non-root 65532, read-only root, no escalation, no capabilities, seccomp, no token, 64Mi', async () => {
    for (const file of matrix) {
      for (const pod of pods((await rendered([ciValues(file)])).manifests)) {
        const spec = podSpecOf(pod)
        const container = spec.containers[0]
        const where = `${file} ${pod.kind}/${pod.metadata.name}`
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
          capabilities: { drop: ['ALL'] },
        })
        expect(spec.automountServiceAccountToken, where).toBe(false)
        expect(spec.restartPolicy, where).toBe('Never')
        expect(container.terminationMessagePolicy, where).toBe('FallbackToLogsOnError')
        expect(container.resources, where).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '64Mi' } })
      }
    }
  })

  test('the helm test pod runs dbhook verify as the runtime user', async () => {
    const { manifests, notes } = await rendered([ciValues('openzro-postgres-values.yaml')])
    const pod = only(manifests, 'Pod')
    expect(pod.metadata.name).toBe('openzro-dbhook-test')
    expect(annotations(pod)).toMatchObject({ 'helm.sh/hook': 'test', 'argocd.argoproj.io/hook': 'Skip' })
    expect(pod.spec.containers[0].args).toEqual(['verify'])
    expect(envOf(pod)).toMatchObject({ DBHOOK_OWNER: 'openzro', DBHOOK_OWNER_PASSWORD_FILE: '/var/run/secrets/dbhook/owner/password' })
    // No --logs: Helm 3 would ask for pod logs of the test-hook Secret too, and fail.
    expect(notes).toContain('helm test openzro --namespace apps\n  kubectl logs --namespace apps openzro-dbhook-test')

    const without = await rendered([ciValues('openzro-postgres-values.yaml'), { tests: { enabled: false } }])
    expect(byKind(without.manifests, 'Pod')).toEqual([])
    expect(annotations(only(without.manifests, 'Secret'))['helm.sh/hook']).toBe('pre-install,pre-upgrade')
  })

  test('MySQL: the engine, openZro tls words and YAML booleans reach DBHOOK_SSLMODE', async () => {
    const { manifests } = await rendered([ciValues('mysql-values.yaml')])
    const job = only(manifests, 'Job')
    expect(envOf(job)).toMatchObject({
      DBHOOK_ENGINE: 'mysql',
      DBHOOK_PORT: '3306',
      DBHOOK_SSLMODE: 'preferred',
      DBHOOK_ADMIN_USER: 'root',
      DBHOOK_OWNER: 'openzro',
      DBHOOK_OWNER_PASSWORD_FILE: '/var/run/secrets/dbhook/owner/password',
      DBHOOK_MYSQL_CHARSET: 'utf8mb4',
    })
    expect(envOf(job).DBHOOK_ADMIN_DATABASE).toBeUndefined()
    expect(envOf(job).DBHOOK_EVENT_TRIGGER).toBeUndefined()
    for (const [tls, expected] of [
      [true, 'true'],
      [false, 'false'],
      ['skip-verify', 'skip-verify'],
    ] as const) {
      const result = await rendered([ciValues('mysql-values.yaml'), { mysql: { tls } }])
      expect(envOf(only(result.manifests, 'Job')).DBHOOK_SSLMODE).toBe(expected)
    }
  })

  test('hook events, weight and delete policies are configurable and mapped for Argo CD', async () => {
    const { manifests } = await rendered([
      openZroPostgres,
      {
        hook: {
          events: ['post-install', 'post-upgrade'],
          weight: 10,
          deletePolicy: 'hook-failed',
          resourceDeletePolicy: 'before-hook-creation',
        },
      },
    ])
    expect(annotations(only(manifests, 'Job'))).toMatchObject({
      'helm.sh/hook': 'post-install,post-upgrade',
      'helm.sh/hook-weight': '10',
      'helm.sh/hook-delete-policy': 'hook-failed',
      'argocd.argoproj.io/hook': 'PostSync',
      'argocd.argoproj.io/hook-delete-policy': 'HookFailed',
      'argocd.argoproj.io/sync-wave': '10',
    })
    expect(annotations(only(manifests, 'Secret'))).toMatchObject({
      'helm.sh/hook-weight': '5',
      'helm.sh/hook-delete-policy': 'before-hook-creation',
    })
  })

  test('as a dependency, the application passes its own openZro-shaped block under the dependency name', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'dbhook-parent-'))
    try {
      await cp(chartDir, join(parent, 'charts/dbhook'), { recursive: true })
      await writeFile(join(parent, 'Chart.yaml'), 'apiVersion: v2\nname: openzro\nversion: 1.0.0\n')
      // The README's example: one copy of the storage block, handed to the dependency with a YAML anchor.
      await writeFile(
        join(parent, 'values.yaml'),
        [
          'postgres: &postgres',
          '  enabled: true',
          '  host: 10.1.2.3',
          '  username: openzro',
          '  existingSecret: openzro-db',
          'dbhook:',
          '  postgres: *postgres',
          'global:',
          '  imageRegistry: example',
          '',
        ].join('\n'),
      )
      const result = await helm(['template', 'openzro', parent, '--namespace', 'apps'])
      expect(result.code, result.stderr).toBe(0)
      const docs = parseAllDocuments(result.stdout)
        .map((d) => d.toJS() as Manifest | null)
        .filter((d): d is Manifest => d !== null)
      const job = only(docs, 'Job')
      expect(job.metadata.name).toBe('openzro-dbhook')
      expect(envOf(job)).toMatchObject({ DBHOOK_HOST: '10.1.2.3', DBHOOK_OWNER: 'openzro' })
    } finally {
      await rm(parent, { recursive: true, force: true })
    }
  })
})

describe('bad values fail with a clear message', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['no host', { postgres: { enabled: true, password: 'x' } }, 'postgres.host is required when postgres.enabled is true'],
    ['no password', { mysql: { enabled: true, host: 'm' } }, 'mysql.password or mysql.existingSecret is required'],
    [
      'a provisioning user without a password',
      { postgres: { ...openZroPostgres.postgres, provisioning: { username: 'admin' } } },
      'postgres.provisioning.password or postgres.provisioning.existingSecret is required: postgres.provisioning.username (admin) differs',
    ],
    [
      'a CA from a Secret and a ConfigMap',
      { postgres: { ...openZroPostgres.postgres, tls: { caSecret: { name: 'a' }, caConfigMap: { name: 'b' } } } },
      'postgres.tls.caSecret.name and postgres.tls.caConfigMap.name are both set',
    ],
    [
      'verify-full without a CA',
      { postgres: { ...openZroPostgres.postgres, sslMode: 'verify-full' } },
      "postgres.sslMode verify-full needs the server's CA",
    ],
    [
      'TLS off with certificates',
      { mysql: { enabled: true, host: 'm', password: 'x', tls: false, certificates: { caSecret: { name: 'ca' } } } },
      'mysql.tls is false turns TLS off but mysql.certificates names certificates',
    ],
    [
      'every database left out',
      { postgres: { ...openZroPostgres.postgres, databases: { management: '', flow: '', activity: '', dex: '' } } },
      'postgres.databases lists no database',
    ],
    [
      'an app user named like the owner',
      { postgres: { ...openZroPostgres.postgres, appUser: { username: 'openzro' } } },
      'postgres.appUser.username must differ from postgres.username',
    ],
    [
      'two passwords for one user',
      { postgres: { ...openZroPostgres.postgres, provisioning: { username: 'openzro', password: 'other' } } },
      'postgres.provisioning.password differs from postgres.password, but both are for the user openzro',
    ],
    ['an unknown sslMode', { postgres: { sslMode: 'verify' } }, "at '/postgres/sslMode': value must be one of"],
    ['an unknown mysql tls word', { mysql: { tls: 'maybe' } }, "at '/mysql/tls': value must be one of"],
    ['an unknown delete policy', { hook: { deletePolicy: 'never' } }, "at '/hook/deletePolicy'"],
    ['an unknown top-level key', { postgress: { enabled: true } }, "additional properties 'postgress' not allowed"],
    ['a digest that is not sha256', { image: { digest: 'latest' } }, "at '/image/digest'"],
  ]
  test.each(cases)('%s', async (_name, values, message) => {
    const result = await render([values])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(message)
  })
})

describe('documentation', () => {
  test('every value carries a # -- comment and README shows the table generated from them', () => {
    const { values, undocumented } = documentedValues()
    expect(undocumented).toEqual([])
    expect(readmeTable(), 'run: node scripts/values-doc.ts --write').toBe(valuesTable(values))
  })

  test('values.schema.json is the one scripts/values-schema.ts generates', () => {
    expect(readFileSync(valuesSchemaPath, 'utf8'), 'run: node scripts/values-schema.ts --write').toBe(valuesSchemaText())
  })

  test('the schema of resources and the security contexts lists exactly the fields Kubernetes has', () => {
    const fields = (file: string) =>
      [...new Set([...readFileSync(join(kubernetesModels, file), 'utf8').matchAll(/^ {4}"(\w+)"\??:/gm)].map((m) => m[1]!))].sort()
    const schema = valuesSchema.properties as Record<string, { properties: Record<string, unknown> }>
    expect(Object.keys(schema.resources!.properties).sort()).toEqual(fields('v1/ResourceRequirements.d.ts'))
    expect(Object.keys(schema.securityContext!.properties).sort()).toEqual(fields('v1/SecurityContext.d.ts'))
    expect(Object.keys(schema.podSecurityContext!.properties).sort()).toEqual(fields('v1/PodSecurityContext.d.ts'))
  })

  test('values.schema.json describes every documented value and forbids unknown keys at every level', () => {
    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'))
    for (const { key } of documentedValues().values) {
      let node = schema
      for (const part of key.split('.')) {
        expect(node.additionalProperties, `${key}: the object holding ${part}`).toBe(false)
        node = node.properties?.[part]
        expect(node, `${key} is missing from values.schema.json`).toBeDefined()
      }
    }
  })
})
