import { beforeAll, describe, expect, test } from 'vitest'
import { byKind, ciValues, envOf, helmBinary, only, podSpecOf, render, type Manifest, type Rendered } from './helm.ts'
import { schemaProblems, unknownFieldProblems } from './kubernetes-schema.ts'

// Generated passwords (<engine>.generatedSecret), the RBAC and token that only the apply hook gets, and the
// NetworkPolicies, as `helm template` renders them.

const generated = ciValues('generated-secret-values.yaml')
const openZro = { postgres: { enabled: true, host: '10.0.0.5', username: 'openzro', password: 'pg-secret-1' } }
const noPasswords = {
  postgres: {
    enabled: true,
    host: 'db.internal',
    username: 'openzro',
    provisioning: { username: 'provisioner', existingSecret: 'postgres-admin' },
    generatedSecret: { enabled: true },
  },
}

async function rendered(values: Parameters<typeof render>[0]): Promise<Rendered> {
  const result = await render(values)
  expect(result.code, result.stderr).toBe(0)
  return result
}

/** Every pod the chart renders: Jobs, CronJobs and the test pod. */
function pods(manifests: readonly Manifest[]): Manifest[] {
  return manifests.filter((m) => ['Job', 'CronJob', 'Pod'].includes(m.kind))
}

function tokenVolumes(manifest: Manifest): unknown[] {
  return (podSpecOf(manifest).volumes ?? []).filter((v: { projected?: { sources: { serviceAccountToken?: unknown }[] } }) =>
    v.projected?.sources.some((s) => s.serviceAccountToken),
  )
}

beforeAll(() => {
  helmBinary()
})

describe('generated passwords: what the apply hook gets', () => {
  test('off (the default): no RBAC, no token, no generated Secret named anywhere', async () => {
    const { manifests } = await rendered([ciValues('openzro-postgres-values.yaml')])
    expect(manifests.filter((m) => ['Role', 'RoleBinding', 'NetworkPolicy'].includes(m.kind))).toEqual([])
    for (const pod of pods(manifests)) expect(tokenVolumes(pod), pod.metadata.name).toEqual([])
    expect(JSON.stringify(manifests)).not.toContain('GENERATED_SECRET')
  })

  test('on: the apply Job names both Secrets in its env and mounts no password of theirs', async () => {
    const { manifests } = await rendered([generated])
    const job = only(manifests, 'Job')
    expect(envOf(job)).toMatchObject({
      DBHOOK_OWNER: 'openzro',
      DBHOOK_OWNER_GENERATED_SECRET: 'openzro-postgres-credentials',
      DBHOOK_APP_USER: 'openzro_app',
      DBHOOK_APP_GENERATED_SECRET: 'openzro-postgres-app-credentials',
      DBHOOK_ADMIN_USER: 'provisioner',
      DBHOOK_ADMIN_PASSWORD_FILE: '/var/run/secrets/dbhook/admin/password',
    })
    expect(envOf(job).DBHOOK_OWNER_PASSWORD_FILE).toBeUndefined()
    expect(envOf(job).DBHOOK_APP_PASSWORD_FILE).toBeUndefined()
    const secretVolumes = podSpecOf(job)
      .volumes.filter((v: { secret?: unknown }) => v.secret)
      .map((v: { name: string; secret: { secretName: string } }) => `${v.name}:${v.secret.secretName}`)
    expect(secretVolumes).toEqual(['admin-password:postgres-admin'])
    // Nothing inline, nothing generated at render time: the chart renders no Secret with a password.
    expect(byKind(manifests, 'Secret')).toEqual([])
  })

  test('on: only the apply hook pod gets a token: projected, audience-bound to the API server, 600 s, CA and namespace beside it', async () => {
    const { manifests } = await rendered([generated])
    const job = only(manifests, 'Job')
    const spec = podSpecOf(job)
    expect(spec.automountServiceAccountToken).toBe(false)
    expect(spec.serviceAccountName).toBe('openzro-dbhook-secrets')
    expect(tokenVolumes(job)).toEqual([
      {
        name: 'kube-api-access',
        projected: {
          defaultMode: 0o400,
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: 600 } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ])
    expect(spec.containers[0].volumeMounts).toContainEqual({
      name: 'kube-api-access',
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      readOnly: true,
    })
    const others = pods(manifests).filter((p) => p !== job)
    expect(others.map((p) => p.kind).sort()).toEqual(['CronJob', 'Pod'])
    for (const pod of others) {
      expect(tokenVolumes(pod), pod.metadata.name).toEqual([])
      expect(podSpecOf(pod).automountServiceAccountToken, pod.metadata.name).toBe(false)
      expect(podSpecOf(pod).serviceAccountName, pod.metadata.name).toBeUndefined()
    }

    const withAudience = await rendered([
      generated,
      { kubernetesApi: { tokenAudience: 'https://kubernetes.default.svc', tokenExpirationSeconds: 900 } },
    ])
    expect((tokenVolumes(only(withAudience.manifests, 'Job'))[0] as Manifest).projected.sources[0]).toEqual({
      serviceAccountToken: { path: 'token', expirationSeconds: 900, audience: 'https://kubernetes.default.svc' },
    })
  })

  test('on: the helm test pod logs in with the password from the generated Secret, as a 0400 file', async () => {
    const { manifests } = await rendered([generated])
    const pod = only(manifests, 'Pod')
    expect(envOf(pod)).toMatchObject({ DBHOOK_OWNER: 'openzro', DBHOOK_OWNER_PASSWORD_FILE: '/var/run/secrets/dbhook/owner/password' })
    expect(envOf(pod).DBHOOK_OWNER_GENERATED_SECRET).toBeUndefined()
    expect(podSpecOf(pod).volumes).toContainEqual({
      name: 'owner-password',
      secret: {
        secretName: 'openzro-postgres-credentials',
        defaultMode: 0o400,
        items: [{ key: 'password', path: 'password', mode: 0o400 }],
      },
    })
  })

  test('on: a ServiceAccount, a Role and a RoleBinding as hooks before the Job, gone once the hooks succeeded', async () => {
    const { manifests } = await rendered([generated])
    const job = only(manifests, 'Job')
    const rbac = manifests.filter((m) => m.metadata.labels?.['app.kubernetes.io/component'] === 'generated-secret')
    expect(rbac.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'ServiceAccount/openzro-dbhook-secrets',
      'Role/openzro-dbhook-secrets',
      'RoleBinding/openzro-dbhook-secrets',
    ])
    for (const m of rbac) {
      expect(m.metadata.annotations, m.kind).toMatchObject({
        'helm.sh/hook': 'pre-install,pre-upgrade',
        'helm.sh/hook-weight': '-5',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
        'argocd.argoproj.io/hook': 'PreSync',
      })
      expect(Number(m.metadata.annotations!['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations!['helm.sh/hook-weight']))
    }
    expect(rbac[0]!.automountServiceAccountToken).toBe(false)
    expect(rbac[1]!.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['openzro-postgres-app-credentials', 'openzro-postgres-credentials'],
        verbs: ['get', 'patch'],
      },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ])
    expect(rbac[2]).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'openzro-dbhook-secrets' },
      subjects: [{ kind: 'ServiceAccount', name: 'openzro-dbhook-secrets', namespace: 'apps' }],
    })
    expect(await schemaProblems(rbac)).toEqual([])
  })

  test('a user whose password is given keeps it: only the others are generated and named in the Role', async () => {
    const { manifests } = await rendered([noPasswords, { postgres: { password: 'given', appUser: { username: 'app' } } }])
    expect(envOf(only(manifests, 'Job'))).toMatchObject({
      DBHOOK_OWNER_PASSWORD_FILE: '/var/run/secrets/dbhook/owner/password',
      DBHOOK_APP_GENERATED_SECRET: 'openzro-postgres-app-credentials',
    })
    expect(envOf(only(manifests, 'Job')).DBHOOK_OWNER_GENERATED_SECRET).toBeUndefined()
    expect(only(manifests, 'Role').rules[0].resourceNames).toEqual(['openzro-postgres-app-credentials'])

    const nothingToGenerate = await rendered([noPasswords, { postgres: { password: 'given' } }])
    expect(nothingToGenerate.manifests.filter((m) => ['Role', 'RoleBinding'].includes(m.kind))).toEqual([])
    expect(tokenVolumes(only(nothingToGenerate.manifests, 'Job'))).toEqual([])
  })

  test('names are overridable; MySQL gets <release>-mysql-credentials', async () => {
    const named = await rendered([noPasswords, { postgres: { generatedSecret: { name: 'openzro-db-login' } } }])
    expect(envOf(only(named.manifests, 'Job')).DBHOOK_OWNER_GENERATED_SECRET).toBe('openzro-db-login')
    expect(only(named.manifests, 'Role').rules[0].resourceNames).toEqual(['openzro-db-login'])

    const mysql = await rendered([
      {
        mysql: {
          enabled: true,
          host: '10.0.0.7',
          username: 'openzro',
          provisioning: { username: 'root', password: 'r' },
          generatedSecret: { enabled: true },
        },
      },
    ])
    expect(envOf(only(mysql.manifests, 'Job'))).toMatchObject({
      DBHOOK_ENGINE: 'mysql',
      DBHOOK_OWNER_GENERATED_SECRET: 'openzro-mysql-credentials',
    })
  })

  test('NOTES.txt names the Secrets and shows the secretKeyRef an application uses', async () => {
    const { notes } = await rendered([generated])
    expect(notes).toContain('openzro-postgres-credentials  ("openzro")'.replace('("openzro")', '(openzro)'))
    expect(notes).toContain('openzro-postgres-app-credentials  (openzro_app)')
    expect(notes).toContain('`helm uninstall`\nkeeps them')
    expect(notes).toMatch(/secretKeyRef:\n\s+name: openzro-postgres-credentials\n\s+key: uri-activity/)
  })

  const failures: [string, Record<string, unknown>, string][] = [
    [
      'without provisioning',
      { postgres: { provisioning: { enabled: false } } },
      'postgres.generatedSecret.enabled needs postgres.provisioning.enabled',
    ],
    [
      'for the user that provisions',
      { postgres: { provisioning: { username: '' } } },
      'postgres.generatedSecret cannot generate the password of openzro: that user provisions',
    ],
    [
      'one Secret for both users',
      { postgres: { appUser: { username: 'app' }, generatedSecret: { name: 'same', appName: 'same' } } },
      'postgres.generatedSecret.name and postgres.generatedSecret.appName are both same',
    ],
    ['a Secret name Kubernetes refuses', { postgres: { generatedSecret: { name: 'Not_A_Name' } } }, "at '/postgres/generatedSecret/name'"],
    [
      'a token shorter than Kubernetes issues',
      { kubernetesApi: { tokenExpirationSeconds: 60 } },
      "at '/kubernetesApi/tokenExpirationSeconds'",
    ],
  ]
  test.each(failures)('refused: %s', async (_name, values, message) => {
    const result = await render([noPasswords, values])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(message)
  })

  test('with generation off a missing password still fails, naming generatedSecret as the third way', async () => {
    const result = await render([{ postgres: { enabled: true, host: 'db' } }])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('postgres.password or postgres.existingSecret is required (or postgres.generatedSecret.enabled)')
  })
})

describe('NetworkPolicy', () => {
  const policies = (r: Rendered) => byKind(r.manifests, 'NetworkPolicy')

  test('off by default', async () => {
    expect(policies(await rendered([openZro]))).toEqual([])
  })

  test('an IP host: DNS and that one address on the database port, no ingress, for every pod of the release and for the hooks', async () => {
    const result = await rendered([openZro, { networkPolicy: { enabled: true } }])
    const [release, hooks] = policies(result)
    expect(release!.metadata.name).toBe('openzro-dbhook')
    expect(release!.metadata.annotations).toBeUndefined()
    expect(release!.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'dbhook', 'app.kubernetes.io/instance': 'openzro' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        { to: [{ ipBlock: { cidr: '10.0.0.5/32' } }], ports: [{ protocol: 'TCP', port: 5432 }] },
      ],
    })
    expect(hooks!.metadata.name).toBe('openzro-dbhook-hooks')
    expect(hooks!.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'pre-install,pre-upgrade', 'helm.sh/hook-weight': '-5' })
    expect(hooks!.spec.podSelector.matchExpressions).toEqual([
      { key: 'app.kubernetes.io/component', operator: 'In', values: ['provision', 'verify'] },
    ])
    expect(hooks!.spec.egress).toEqual(release!.spec.egress)
    // Every pod the policies are meant for carries the labels they select on.
    for (const pod of pods(result.manifests)) {
      const template = pod.kind === 'Pod' ? pod : pod.kind === 'Job' ? pod.spec.template : pod.spec.jobTemplate.spec.template
      expect(template.metadata.labels, pod.metadata.name).toMatchObject(release!.spec.podSelector.matchLabels)
    }
    expect(await schemaProblems(policies(result))).toEqual([])
    expect(await unknownFieldProblems({ policies: policies(result) })).toEqual([])
  }, 60_000)

  test('the API server only for the hooks, and only when they generate passwords', async () => {
    const result = await rendered([generated])
    const [release, hooks] = policies(result)
    const api = {
      to: [{ ipBlock: { cidr: '10.96.0.1/32' } }, { ipBlock: { cidr: '192.168.10.4/32' } }],
      ports: [
        { protocol: 'TCP', port: 443 },
        { protocol: 'TCP', port: 6443 },
      ],
    }
    expect(hooks!.spec.egress).toContainEqual(api)
    expect(release!.spec.egress).not.toContainEqual(api)
    expect(release!.spec.egress).toHaveLength(2)

    const missing = await render([generated, { networkPolicy: { apiServer: { cidrs: [] } } }])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain('networkPolicy.apiServer.cidrs is required when networkPolicy.enabled and passwords are generated')
  })

  test("a host name needs the database's selectors or CIDRs; IPv6 and extra rules", async () => {
    const byName = await render([
      { postgres: { ...openZro.postgres, host: 'postgres.databases.svc' } },
      { networkPolicy: { enabled: true } },
    ])
    expect(byName.code).not.toBe(0)
    expect(byName.stderr).toContain(
      "networkPolicy.database needs a namespaceSelector or podSelector of the database's pods, or its cidrs: postgres.host (postgres.databases.svc) is a name",
    )

    const selected = await rendered([
      { postgres: { ...openZro.postgres, host: 'postgres.databases.svc' } },
      {
        networkPolicy: {
          enabled: true,
          database: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'databases' } },
            podSelector: { matchLabels: { app: 'postgres' } },
          },
          extraEgress: [{ to: [{ ipBlock: { cidr: '169.254.20.10/32' } }], ports: [{ protocol: 'UDP', port: 53 }] }],
        },
      },
    ])
    expect(policies(selected)[0]!.spec.egress.slice(1)).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'databases' } },
            podSelector: { matchLabels: { app: 'postgres' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 5432 }],
      },
      { to: [{ ipBlock: { cidr: '169.254.20.10/32' } }], ports: [{ protocol: 'UDP', port: 53 }] },
    ])

    const v6 = await rendered([{ postgres: { ...openZro.postgres, host: 'fd00::5', port: 6432 } }, { networkPolicy: { enabled: true } }])
    expect(policies(v6)[0]!.spec.egress[1]).toEqual({
      to: [{ ipBlock: { cidr: 'fd00::5/128' } }],
      ports: [{ protocol: 'TCP', port: 6432 }],
    })
  })
})
