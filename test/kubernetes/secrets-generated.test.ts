// Generated passwords on the real cluster, in one file because both parts share the route from pods to the API
// server that this test cluster lacks (useApiRoute in secrets-cluster.ts) and run one after the other:
// - a release's life: a fresh install with no password for the runtime and app users anywhere, an application
//   Deployment that connects with uri-management, three upgrades, an uninstall and a second install, a removed
//   key, the hook's RBAC as the API server answers `auth can-i`, the NetworkPolicies admitted, and no password in
//   anything a person can read;
// - eight apply hooks started at the same instant against one namespace: one Secret, one password, eight exit
//   codes 0; plan before them says what apply would write and creates nothing; verify after them reads the
//   password through the API. Those pods are the chart's own apply Job, rendered by helm, with a few lines of
//   Node holding each dbhook back until a common start time, and they reach the API server through a forwarder
//   that lets their first connections through only once all eight wait;
// - the same on MySQL/MariaDB: the runtime and app users' passwords generated, kept, and the mysql:// URIs true.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import mysql from 'mysql2/promise'
import { render, type Manifest } from '../chart/helm.ts'
import { startMariadb, type MariadbServer } from '../support/mariadb.ts'
import type { PostgresServer } from '../support/postgres.ts'
import {
  getOrUndefined,
  helm,
  helmChart,
  kubectl,
  kubectlJson,
  kubectlOk,
  loggedDdl,
  readableSurface,
  routedToApi,
  secretData,
  secretsCluster,
  startApiForwarder,
  startForwarder,
  startHostPostgres,
  useApiRoute,
  waitFor,
  type ApiForwarder,
  type SecretsCluster,
} from './secrets-cluster.ts'

let removeRoute: (() => Promise<void>) | undefined

beforeAll(async () => {
  removeRoute = await useApiRoute(await secretsCluster())
}, 1_800_000)

afterAll(async () => {
  await removeRoute?.()
})

describe("a release's life", { timeout: 900_000 }, () => {
  const release = 'gen'
  const ownerSecret = `${release}-postgres-credentials`
  const appSecret = `${release}-postgres-app-credentials`
  const account = `system:serviceaccount:dbhook-e2e:${release}-dbhook-secrets`
  const adminPassword = `admin-${randomBytes(12).toString('base64url')}`
  const databases = { management: 'gen_openzro', flow: 'gen_flow', activity: 'gen_activity', dex: 'gen_dex' }

  let cluster: SecretsCluster
  let server: PostgresServer
  let values: Record<string, unknown>
  const helmOutput: string[] = []
  /** Passwords as the first install generated them. */
  let first: { owner: string; app: string; uid: string; resourceVersion: string }

  interface Secret {
    metadata: { uid: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  }

  async function chart(verb: 'install' | 'upgrade', extra: Record<string, unknown> = {}) {
    const result = await helmChart(cluster, verb, release, { ...values, ...extra })
    helmOutput.push(result.stdout, result.stderr)
    expect(result.code, `helm ${verb}: ${result.stderr}`).toBe(0)
    return result
  }

  /** The apply hook's log lines (the Job is kept: hook.deletePolicy before-hook-creation). */
  async function hookLog(): Promise<Record<string, any>[]> {
    const out = await kubectlOk(cluster, ['logs', `job/${release}-dbhook`])
    return out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>)
  }

  async function loginAs(user: string, password: string, database: string): Promise<string> {
    const client = new pg.Client({ host: '127.0.0.1', port: server.port, user, password, database })
    await client.connect()
    try {
      return (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u
    } finally {
      await client.end()
    }
  }

  async function canI(verb: string, resource: string): Promise<string> {
    const result = await kubectl(cluster, ['auth', 'can-i', verb, resource, `--as=${account}`])
    return result.stdout.trim()
  }

  beforeAll(async () => {
    cluster = await secretsCluster()
    server = await startHostPostgres(cluster)
    await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD ${pg.escapeLiteral(adminPassword)}`)
    // A clean slate: an earlier run's release and Secrets would make this no fresh install.
    await helm(cluster, ['uninstall', release, '--wait'])
    await kubectl(cluster, ['delete', 'secret', ownerSecret, appSecret, `${release}-admin`, '--ignore-not-found'])
    await kubectl(cluster, ['delete', 'deployment', `${release}-sample-app`, '--ignore-not-found'])
    await kubectlOk(cluster, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `${release}-admin` },
        type: 'Opaque',
        stringData: { password: adminPassword },
      }),
    })
    const api = await kubectlJson<{ spec: { clusterIP: string } }>({ ...cluster, namespace: 'default' }, ['get', 'service', 'kubernetes'])
    values = {
      postgres: {
        enabled: true,
        host: cluster.host,
        port: server.port,
        sslMode: 'disable',
        username: 'openzro',
        databases,
        provisioning: { username: 'provisioner', existingSecret: `${release}-admin`, existingSecretKey: 'password' },
        appUser: { username: 'openzro_app' },
        generatedSecret: { enabled: true },
      },
      networkPolicy: { enabled: true, apiServer: { cidrs: [`${api.spec.clusterIP}/32`] } },
      waitTimeout: '120s',
    }
  }, 1_800_000)

  afterAll(async () => {
    if (cluster) {
      await helm(cluster, ['uninstall', release, '--wait']).catch(() => undefined)
      await kubectl(cluster, ['delete', 'deployment', `${release}-sample-app`, '--ignore-not-found']).catch(() => undefined)
      await kubectl(cluster, ['delete', 'secret', ownerSecret, appSecret, `${release}-admin`, '--ignore-not-found']).catch(() => undefined)
    }
    await server?.stop()
  }, 600_000)

  describe('generated passwords on a real cluster', () => {
    test('a fresh install with no passwords anywhere: the Secrets appear, once, and the runtime and app roles log in with them', async () => {
      expect(await getOrUndefined(cluster, 'secret', ownerSecret)).toBeUndefined()
      await chart('install')

      const owner = (await secretData(cluster, ownerSecret))!
      const app = (await secretData(cluster, appSecret))!
      expect(Object.keys(owner).sort()).toEqual([
        'host',
        'password',
        'port',
        'sslmode',
        'uri-activity',
        'uri-dex',
        'uri-flow',
        'uri-management',
        'username',
      ])
      expect(owner).toMatchObject({ username: 'openzro', host: cluster.host, port: String(server.port), sslmode: 'disable' })
      expect(owner.password).toMatch(/^[A-Za-z0-9]{32}$/)
      expect(owner['uri-management']).toBe(
        `postgresql://openzro:${owner.password}@${cluster.host}:${server.port}/gen_openzro?sslmode=disable`,
      )
      expect(app.username).toBe('openzro_app')
      expect(app.password).toMatch(/^[A-Za-z0-9]{32}$/)
      expect(app.password).not.toBe(owner.password)

      const secret = (await getOrUndefined<Secret>(cluster, 'secret', ownerSecret))!
      // Not a Helm resource, and nothing Argo CD would count as the application's.
      expect(secret.metadata.labels).toEqual({
        'app.kubernetes.io/managed-by': 'dbhook',
        'app.kubernetes.io/component': 'generated-credentials',
      })
      expect(Object.keys(secret.metadata.annotations ?? {}).filter((k) => k.startsWith('meta.helm.sh/'))).toEqual([])
      first = { owner: owner.password!, app: app.password!, uid: secret.metadata.uid, resourceVersion: secret.metadata.resourceVersion }

      expect(await loginAs('openzro', first.owner, 'gen_openzro')).toBe('openzro')
      expect(await loginAs('openzro_app', first.app, 'gen_flow')).toBe('openzro_app')
      const owners = await server.query<{ datname: string; owner: string }>(
        "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname LIKE 'gen\\_%' ORDER BY 1",
      )
      expect(owners).toEqual(
        Object.values(databases)
          .sort()
          .map((datname) => ({ datname, owner: 'openzro' })),
      )

      const log = await hookLog()
      expect(log.filter((l) => String(l.msg).startsWith('generated a password')).map((l) => l.secret)).toEqual([
        `dbhook-e2e/${ownerSecret}`,
        `dbhook-e2e/${appSecret}`,
      ])
      // PostgreSQL got SCRAM verifiers: the role DDL ran, and no plaintext reached the server log.
      const ddl = await loggedDdl(server)
      expect(ddl.filter((l) => /CREATE ROLE "openzro"|CREATE ROLE "openzro_app"/.test(l))).toHaveLength(2)
      expect((await server.log()).includes(first.owner) || (await server.log()).includes(first.app)).toBe(false)

      const helmTest = await helm(cluster, ['test', release, '--logs', '--timeout', '5m'])
      helmOutput.push(helmTest.stdout, helmTest.stderr)
      expect(helmTest.code, helmTest.stdout + helmTest.stderr).toBe(0)
    })

    test('an application Deployment that connects with uri-management becomes Ready', async () => {
      const name = `${release}-sample-app`
      const probe = [
        "const psql = require('node:child_process').spawnSync('psql', ['-X', '-tA', '-c', 'SELECT current_user', process.env.DATABASE_URL], { encoding: 'utf8' })",
        "process.exit(psql.status === 0 && psql.stdout.trim() === 'openzro' ? 0 : 1)",
      ].join('; ')
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'app',
                  image: `${cluster.image.repository}:${cluster.image.tag}-pgtools`,
                  imagePullPolicy: 'Never',
                  // The image has Node and psql but no shell: Node idles, and the probe runs psql through it.
                  command: ['/nodejs/bin/node', '-e', 'setInterval(() => {}, 1 << 30)'],
                  env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: ownerSecret, key: 'uri-management' } } }],
                  // Ready only once a query through the URI, as libpq reads it, says who it is.
                  readinessProbe: { exec: { command: ['/nodejs/bin/node', '-e', probe] }, periodSeconds: 2, timeoutSeconds: 20 },
                  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                  resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                },
              ],
            },
          },
        },
      }
      await kubectlOk(cluster, ['apply', '-f', '-'], { input: JSON.stringify(deployment) })
      const rollout = await kubectl(cluster, ['rollout', 'status', `deployment/${name}`, '--timeout=300s'], { timeoutMs: 320_000 })
      expect(rollout.code, rollout.stdout + rollout.stderr).toBe(0)
      const status = await kubectlJson<{ status: { readyReplicas?: number } }>(cluster, ['get', 'deployment', name])
      expect(status.status.readyReplicas).toBe(1)
      // What the probe saw, asked once more from inside the pod: the URI logs in as the runtime user.
      const who =
        "const r = require('node:child_process').spawnSync('psql', ['-X', '-tA', '-c', 'SELECT current_user || chr(32) || current_database()', process.env.DATABASE_URL], { encoding: 'utf8' }); process.stdout.write(r.stdout)"
      expect((await kubectlOk(cluster, ['exec', `deployment/${name}`, '--', '/nodejs/bin/node', '-e', who])).trim()).toBe(
        'openzro gen_openzro',
      )
    })

    test('three upgrades, an uninstall and a second install: the password never changes, and no role DDL runs again', async () => {
      const ddlBefore = (await loggedDdl(server)).length
      for (let i = 0; i < 3; i++) {
        await chart('upgrade')
        const log = await hookLog()
        expect(log.filter((l) => String(l.msg).startsWith('the password of the')).map((l) => l.secret)).toEqual([
          `dbhook-e2e/${ownerSecret}`,
          `dbhook-e2e/${appSecret}`,
        ])
        expect(log.find((l) => l.summary)?.statements).toBe(0)
      }
      const uninstall = await helm(cluster, ['uninstall', release, '--wait'])
      expect(uninstall.code, uninstall.stderr).toBe(0)
      // helm uninstall keeps what it does not manage.
      expect((await getOrUndefined<Secret>(cluster, 'secret', ownerSecret))?.metadata.uid).toBe(first.uid)
      await chart('install')

      const secret = (await getOrUndefined<Secret>(cluster, 'secret', ownerSecret))!
      expect(secret.metadata).toMatchObject({ uid: first.uid, resourceVersion: first.resourceVersion })
      expect((await secretData(cluster, ownerSecret))!.password).toBe(first.owner)
      expect((await secretData(cluster, appSecret))!.password).toBe(first.app)
      expect(await loginAs('openzro', first.owner, 'gen_openzro')).toBe('openzro')
      expect((await loggedDdl(server)).slice(ddlBefore).filter((l) => /ROLE/i.test(l))).toEqual([])
    })

    test('a key removed from the Secret is added back; a key changed by hand is kept as it is', async () => {
      const before = (await secretData(cluster, ownerSecret))!
      await kubectlOk(cluster, [
        'patch',
        'secret',
        ownerSecret,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'remove', path: '/data/uri-flow' }]),
      ])
      await kubectlOk(cluster, [
        'patch',
        'secret',
        ownerSecret,
        '--type=merge',
        '-p',
        JSON.stringify({ stringData: { host: 'postgres.by-hand.example' } }),
      ])
      await chart('upgrade')
      const after = (await secretData(cluster, ownerSecret))!
      expect(after).toEqual({ ...before, host: 'postgres.by-hand.example' })
      expect(
        (await hookLog()).some((l) => l.msg === `added uri-flow to Secret dbhook-e2e/${ownerSecret}; its other keys are kept as they are`),
      ).toBe(true)
    })

    test("the hook's ServiceAccount may get and patch its Secrets and nothing else; both NetworkPolicies are admitted", async () => {
      // Kept after success this once, so that the API server can be asked about the rights the hook had.
      await chart('upgrade', { hook: { resourceDeletePolicy: 'before-hook-creation' } })
      expect(await canI('get', `secret/${ownerSecret}`)).toBe('yes')
      expect(await canI('patch', `secret/${appSecret}`)).toBe('yes')
      // The API cannot narrow create by name (chart/README.md says so).
      expect(await canI('create', 'secrets')).toBe('yes')
      for (const [verb, resource] of [
        ['get', `secret/${release}-admin`],
        ['get', 'secrets'],
        ['list', 'secrets'],
        ['watch', 'secrets'],
        ['update', `secret/${ownerSecret}`],
        ['delete', `secret/${ownerSecret}`],
        ['get', 'pods'],
        ['list', 'pods'],
        ['watch', 'pods'],
        ['get', 'configmaps'],
        ['list', 'configmaps'],
        ['watch', 'configmaps'],
      ]) {
        expect(await canI(verb!, resource!), `${verb} ${resource}`).toBe('no')
      }
      const policies = await kubectlJson<{ items: { metadata: { name: string }; spec: { policyTypes: string[] } }[] }>(cluster, [
        'get',
        'networkpolicies',
        '-l',
        `app.kubernetes.io/instance=${release}`,
      ])
      expect(policies.items.map((p) => p.metadata.name).sort()).toEqual([`${release}-dbhook`, `${release}-dbhook-hooks`])
      for (const policy of policies.items) expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress'])
      // Back to the default, which removes the hook's ServiceAccount, Role and RoleBinding once the hooks succeed.
      await chart('upgrade')
      await waitFor('the hook RBAC to be deleted', async () =>
        (await getOrUndefined(cluster, 'rolebinding', `${release}-dbhook-secrets`)) ? undefined : true,
      )
      expect(await canI('get', `secret/${ownerSecret}`)).toBe('no')
    })

    test('no password in any pod log, termination message, Event or Helm release record', async () => {
      const record = await helm(cluster, ['get', 'all', release])
      expect(record.code, record.stderr).toBe(0)
      const history = await helm(cluster, ['history', release, '-o', 'json'])
      const surface = [record.stdout, history.stdout, ...helmOutput, await readableSurface(cluster)].join('\n')
      expect(surface.length).toBeGreaterThan(1000)
      expect(surface).toContain(`${release}-dbhook`)
      for (const [name, secret] of Object.entries({ owner: first.owner, app: first.app, admin: adminPassword })) {
        expect(surface.includes(secret), `the ${name} password`).toBe(false)
      }
    })
  })
})

describe('eight hooks at once', { timeout: 900_000 }, () => {
  const release = 'race'
  const ownerSecret = 'race-owner-credentials'
  const runners = 8
  const adminPassword = `admin-${randomBytes(12).toString('base64url')}`

  let cluster: SecretsCluster
  let server: PostgresServer
  let job: Manifest
  let rbac: Manifest[]
  /** Plain, for plan and verify; and one that holds the eight runs' first connections until all eight wait. */
  let plainApi: ApiForwarder
  let barrierApi: ApiForwarder

  interface Pod {
    metadata: { name: string; labels: Record<string, string> }
    status: { phase: string; containerStatuses?: { state: { terminated?: { exitCode: number; message?: string; startedAt: string } } }[] }
  }

  /**
   * The rendered apply Job under another name, running `dbhook <command>`, held back until `startMs` (epoch
   * milliseconds) by a few lines of Node before dbhook is imported: the image has no shell, but its Node serves.
   */
  function jobRunning(name: string, command: string, api: ApiForwarder, startMs?: number): Manifest {
    const copy = routedToApi(job, api)
    copy.metadata = { name, labels: { ...copy.metadata.labels, 'dbhook.test/race': release } }
    const container = copy.spec.template.spec.containers[0]
    const hold =
      'const left = Number(process.env.RACE_START_MS || 0) - Date.now(); if (left > 0) await new Promise((r) => setTimeout(r, left));'
    const start = `${hold} process.argv = [process.argv[0], '/app/dbhook.mjs', process.argv.at(-1)]; await import('/app/dbhook.mjs')`
    container.command = ['/nodejs/bin/node', '--input-type=module', '-e', start, command]
    delete container.args
    container.env = [...container.env, { name: 'RACE_START_MS', value: String(startMs ?? 0) }]
    copy.spec.template.metadata.labels['dbhook.test/race'] = release
    return copy
  }

  async function runJobs(manifests: Manifest[]): Promise<Pod[]> {
    await kubectlOk(cluster, ['apply', '-f', '-'], { input: manifests.map((m) => JSON.stringify(m)).join('\n') })
    const names = new Set(manifests.map((m) => m.metadata.name))
    return waitFor(
      `${names.size} Jobs to finish`,
      async () => {
        const pods = await kubectlJson<{ items: Pod[] }>(cluster, ['get', 'pods', '-l', 'dbhook.test/race'])
        const ours = pods.items.filter((p) => names.has(p.metadata.labels['job-name'] ?? ''))
        const done = ours.filter((p) => p.status.containerStatuses?.[0]?.state.terminated)
        return done.length === names.size ? done : undefined
      },
      600_000,
    )
  }

  const exitCode = (pod: Pod) => pod.status.containerStatuses![0]!.state.terminated!.exitCode

  async function logOf(pod: Pod): Promise<Record<string, any>[]> {
    const out = (await kubectl(cluster, ['logs', pod.metadata.name])).stdout
    return out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>)
  }

  async function cleanup(): Promise<void> {
    await kubectl(cluster, ['delete', 'jobs', '-l', 'dbhook.test/race', '--wait=true'])
    await kubectl(cluster, ['delete', 'secret', ownerSecret, `${release}-admin`, '--ignore-not-found'])
    await kubectl(cluster, ['delete', ...rbac.map((m) => `${m.kind.toLowerCase()}/${m.metadata.name}`), '--ignore-not-found'])
  }

  beforeAll(async () => {
    cluster = await secretsCluster()
    server = await startHostPostgres(cluster)
    await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD ${pg.escapeLiteral(adminPassword)}`)
    const rendered = await render(
      [
        {
          image: { ...cluster.image, pullPolicy: 'Never' },
          postgres: {
            enabled: true,
            host: cluster.host,
            port: server.port,
            sslMode: 'disable',
            username: 'racer',
            databases: { management: 'race_app', flow: '', activity: '', dex: '' },
            provisioning: { username: 'provisioner', existingSecret: `${release}-admin`, existingSecretKey: 'password' },
            generatedSecret: { enabled: true, name: ownerSecret },
          },
          waitTimeout: '180s',
        },
      ],
      { release, namespace: cluster.namespace },
    )
    expect(rendered.code, rendered.stderr).toBe(0)
    job = rendered.manifests.find((m) => m.kind === 'Job')!
    plainApi = await startApiForwarder(cluster)
    barrierApi = await startApiForwarder(cluster, runners)
    // The hook's ServiceAccount, Role and RoleBinding, applied as plain objects (no Helm here to run hooks).
    rbac = rendered.manifests
      .filter((m) => m.metadata.labels?.['app.kubernetes.io/component'] === 'generated-secret')
      .map((m) => ({ ...m, metadata: { ...m.metadata, annotations: undefined } }))
    expect(rbac.map((m) => m.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding'])
    await cleanup()
    await kubectlOk(cluster, ['apply', '-f', '-'], {
      input: [
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `${release}-admin` },
          type: 'Opaque',
          stringData: { password: adminPassword },
        }),
        ...rbac.map((m) => JSON.stringify(m)),
      ].join('\n'),
    })
  }, 1_800_000)

  afterAll(async () => {
    if (cluster && rbac) await cleanup().catch(() => undefined)
    await Promise.all([plainApi?.close(), barrierApi?.close(), server?.stop()])
  }, 300_000)

  test('plan before any run says what apply would generate, exits 2, and creates nothing', async () => {
    const [pod] = await runJobs([jobRunning('race-plan-before', 'plan', plainApi)])
    const log = await logOf(pod!)
    expect(exitCode(pod!), JSON.stringify(log)).toBe(2)
    expect(log.map((l) => l.msg)).toContain(
      `plan: generate a password for the owner role "racer" and create Secret dbhook-e2e/${ownerSecret} with username, password, host, port, sslmode, uri-management`,
    )
    expect(log.map((l) => l.msg)).toContain('plan: create owner role "racer" (LOGIN, no extra attributes)')
    expect(await getOrUndefined(cluster, 'secret', ownerSecret)).toBeUndefined()
    expect(await server.query("SELECT 1 FROM pg_roles WHERE rolname = 'racer'")).toEqual([])
  })

  test('eight hooks at once: one Secret, one password, every one exits 0', async () => {
    // Far enough ahead that all eight containers are up and waiting when it comes.
    const startMs = Date.now() + 45_000
    const pods = await runJobs(Array.from({ length: runners }, (_, i) => jobRunning(`race-apply-${i}`, 'apply', barrierApi, startMs)))
    const logs = await Promise.all(pods.map(logOf))
    expect(pods.map(exitCode), JSON.stringify(logs.map((l) => l.at(-1)))).toEqual(Array(runners).fill(0))

    const secrets = await kubectlJson<{ items: { metadata: { name: string } }[] }>(cluster, [
      'get',
      'secrets',
      '-l',
      'app.kubernetes.io/managed-by=dbhook',
    ])
    expect(secrets.items.map((s) => s.metadata.name).filter((n) => n.startsWith('race-'))).toEqual([ownerSecret])
    const data = (await secretData(cluster, ownerSecret))!
    expect(data.password).toMatch(/^[A-Za-z0-9]{32}$/)

    const created = logs.filter((log) => log.some((l) => String(l.msg).startsWith('generated a password')))
    const lostRace = logs.filter((log) => log.some((l) => String(l.msg).includes('was created meanwhile')))
    const found = logs.filter((log) => log.some((l) => String(l.msg).startsWith('the password of the owner role')))
    expect(created).toHaveLength(1)
    expect(created.length + found.length).toBe(runners)
    // Their first requests reached the API server together (the forwarder's barrier): every run read "absent" and
    // tried to create, and the losers were answered 409 and read the winner's Secret.
    process.stderr.write(
      `secrets-race: ${lostRace.length} of ${runners - 1} later runs lost the create race (409) and read the winner's Secret\n`,
    )
    expect(lostRace.length).toBeGreaterThan(0)

    // The one password is the one the role logs in with.
    const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'racer', password: data.password, database: 'race_app' })
    await client.connect()
    expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('racer')
    await client.end()

    const surface = await readableSurface(cluster)
    expect(surface.includes(data.password!)).toBe(false)
    expect(surface.includes(adminPassword)).toBe(false)
  })

  test('after them, plan is in sync and verify logs in with the password it reads from the Secret', async () => {
    const [plan, verify] = await runJobs([jobRunning('race-plan-after', 'plan', plainApi), jobRunning('race-verify', 'verify', plainApi)])
    const planLog = await logOf(plan!)
    expect(exitCode(plan!), JSON.stringify(planLog)).toBe(0)
    expect(planLog.map((l) => l.msg)).toContain(`plan: the password of the owner role "racer" comes from Secret dbhook-e2e/${ownerSecret}`)
    const verifyLog = await logOf(verify!)
    expect(exitCode(verify!), JSON.stringify(verifyLog)).toBe(0)
    expect(verifyLog.at(-1)?.msg).toBe('1 databases exist, are owned by "racer" and accept its tables')
  })
})

describe('MySQL/MariaDB', { timeout: 900_000 }, () => {
  const release = 'genmy'
  const ownerSecret = `${release}-mysql-credentials`
  const appSecret = `${release}-mysql-app-credentials`
  const adminPassword = `admin-${randomBytes(12).toString('base64url')}`
  let cluster: SecretsCluster
  let server: MariadbServer
  // The test MariaDB listens on 127.0.0.1 only; pods reach it through a forwarder on the bridge address.
  let forwarder: ApiForwarder
  let values: Record<string, unknown>

  /** Logs in with the parts of a mysql:// URI, as a client that takes one would. */
  async function loginWith(uri: string): Promise<string> {
    const url = new URL(uri)
    const connection = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: decodeURIComponent(url.pathname.slice(1)),
    })
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u, DATABASE() AS d')
      return `${String(rows[0]!.u).split('@')[0]} ${rows[0]!.d}`
    } finally {
      await connection.end()
    }
  }

  beforeAll(async () => {
    cluster = await secretsCluster()
    server = await startMariadb()
    await server.query(`CREATE USER 'provisioner'@'%' IDENTIFIED BY ${mysql.escape(adminPassword)}`)
    await server.query("GRANT ALL PRIVILEGES ON *.* TO 'provisioner'@'%' WITH GRANT OPTION")
    forwarder = await startForwarder(cluster, { host: server.host, port: server.port })
    await helm(cluster, ['uninstall', release, '--wait'])
    await kubectl(cluster, ['delete', 'secret', ownerSecret, appSecret, `${release}-admin`, '--ignore-not-found'])
    await kubectlOk(cluster, ['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `${release}-admin` },
        type: 'Opaque',
        stringData: { password: adminPassword },
      }),
    })
    values = {
      mysql: {
        enabled: true,
        host: cluster.host,
        port: forwarder.port,
        tls: false,
        username: 'openzro',
        databases: { management: 'genmy_openzro', flow: 'genmy_flow', activity: '', dex: '' },
        provisioning: { username: 'provisioner', existingSecret: `${release}-admin`, existingSecretKey: 'password' },
        appUser: { username: 'openzro_app' },
        generatedSecret: { enabled: true },
      },
      waitTimeout: '120s',
    }
  }, 1_800_000)

  afterAll(async () => {
    if (cluster) {
      await helm(cluster, ['uninstall', release, '--wait']).catch(() => undefined)
      await kubectl(cluster, ['delete', 'secret', ownerSecret, appSecret, `${release}-admin`, '--ignore-not-found']).catch(() => undefined)
    }
    await forwarder?.close()
    await server?.stop()
  }, 600_000)

  test('install generates both passwords; the mysql:// URIs log in; helm test passes; an upgrade keeps them and changes nothing', async () => {
    const install = await helmChart(cluster, 'install', release, values)
    expect(install.code, install.stderr).toBe(0)
    const owner = (await secretData(cluster, ownerSecret))!
    const app = (await secretData(cluster, appSecret))!
    expect(Object.keys(owner).sort()).toEqual(['host', 'password', 'port', 'sslmode', 'uri-flow', 'uri-management', 'username'])
    expect(owner).toMatchObject({ username: 'openzro', host: cluster.host, port: String(forwarder.port), sslmode: 'DISABLED' })
    expect(owner.password).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(owner['uri-management']).toBe(
      `mysql://openzro:${owner.password}@${cluster.host}:${forwarder.port}/genmy_openzro?ssl-mode=DISABLED`,
    )
    expect(await loginWith(owner['uri-management']!)).toBe('openzro genmy_openzro')
    expect(await loginWith(app['uri-flow']!)).toBe('openzro_app genmy_flow')

    const helmTest = await helm(cluster, ['test', release, '--logs', '--timeout', '5m'])
    expect(helmTest.code, helmTest.stdout + helmTest.stderr).toBe(0)

    const upgrade = await helmChart(cluster, 'upgrade', release, values)
    expect(upgrade.code, upgrade.stderr).toBe(0)
    expect((await secretData(cluster, ownerSecret))!.password).toBe(owner.password)
    expect((await secretData(cluster, appSecret))!.password).toBe(app.password)
    const log = (await kubectlOk(cluster, ['logs', `job/${release}-dbhook`]))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>)
    expect(log.filter((l) => String(l.msg).startsWith('the password of the')).map((l) => l.secret)).toEqual([
      `dbhook-e2e/${ownerSecret}`,
      `dbhook-e2e/${appSecret}`,
    ])
    expect(log.find((l) => l.summary)?.statements).toBe(0)

    const surface = [
      install.stdout,
      upgrade.stdout,
      helmTest.stdout,
      (await helm(cluster, ['get', 'all', release])).stdout,
      await readableSurface(cluster),
    ].join('\n')
    for (const secret of [owner.password!, app.password!, adminPassword]) expect(surface.includes(secret)).toBe(false)
  })
})
