// Eight apply hooks started at the same instant against one namespace end with one Secret, one password and eight
// exit codes 0; plan before them says what apply would write and creates nothing; verify after them reads the
// password through the API. The pods are the chart's own apply Job, rendered by helm and run in the same
// image, with a few lines of Node holding each dbhook back until a common start time, and they reach the API
// server through a forwarder that lets their first connections through only once all eight wait.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Manifest } from '../chart/helm.ts'
import { render } from '../chart/helm.ts'
import type { PostgresServer } from '../support/postgres.ts'
import {
  getOrUndefined,
  kubectl,
  kubectlJson,
  kubectlOk,
  readableSurface,
  routedToApi,
  secretData,
  secretsCluster,
  startApiForwarder,
  startHostPostgres,
  waitFor,
  type ApiForwarder,
  type SecretsCluster,
} from './secrets-cluster.ts'

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
  const hold = 'const left = Number(process.env.RACE_START_MS || 0) - Date.now(); if (left > 0) await new Promise((r) => setTimeout(r, left));'
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
  return waitFor(`${names.size} Jobs to finish`, async () => {
    const pods = await kubectlJson<{ items: Pod[] }>(cluster, ['get', 'pods', '-l', 'dbhook.test/race'])
    const ours = pods.items.filter((p) => names.has(p.metadata.labels['job-name'] ?? ''))
    const done = ours.filter((p) => p.status.containerStatuses?.[0]?.state.terminated)
    return done.length === names.size ? done : undefined
  }, 600_000)
}

const exitCode = (pod: Pod) => pod.status.containerStatuses![0]!.state.terminated!.exitCode

async function logOf(pod: Pod): Promise<Record<string, any>[]> {
  const out = (await kubectl(cluster, ['logs', pod.metadata.name])).stdout
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>)
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
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${release}-admin` }, type: 'Opaque', stringData: { password: adminPassword } }),
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
}, 900_000)

test('eight hooks at once: one Secret, one password, every one exits 0', async () => {
  // Far enough ahead that all eight containers are up and waiting when it comes.
  const startMs = Date.now() + 45_000
  const pods = await runJobs(Array.from({ length: runners }, (_, i) => jobRunning(`race-apply-${i}`, 'apply', barrierApi, startMs)))
  const logs = await Promise.all(pods.map(logOf))
  expect(pods.map(exitCode), JSON.stringify(logs.map((l) => l.at(-1)))).toEqual(Array(runners).fill(0))

  const secrets = await kubectlJson<{ items: { metadata: { name: string } }[] }>(cluster, ['get', 'secrets', '-l', 'app.kubernetes.io/managed-by=dbhook'])
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
  process.stderr.write(`secrets-race: ${lostRace.length} of ${runners - 1} later runs lost the create race (409) and read the winner's Secret\n`)
  expect(lostRace.length).toBeGreaterThan(0)

  // The one password is the one the role logs in with.
  const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'racer', password: data.password, database: 'race_app' })
  await client.connect()
  expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('racer')
  await client.end()

  const surface = await readableSurface(cluster)
  expect(surface.includes(data.password!)).toBe(false)
  expect(surface.includes(adminPassword)).toBe(false)
}, 900_000)

test('after them, plan is in sync and verify logs in with the password it reads from the Secret', async () => {
  const [plan, verify] = await runJobs([jobRunning('race-plan-after', 'plan', plainApi), jobRunning('race-verify', 'verify', plainApi)])
  const planLog = await logOf(plan!)
  expect(exitCode(plan!), JSON.stringify(planLog)).toBe(0)
  expect(planLog.map((l) => l.msg)).toContain(`plan: the password of the owner role "racer" comes from Secret dbhook-e2e/${ownerSecret}`)
  const verifyLog = await logOf(verify!)
  expect(exitCode(verify!), JSON.stringify(verifyLog)).toBe(0)
  expect(verifyLog.at(-1)?.msg).toBe('1 databases exist, are owned by "racer" and accept its tables')
}, 900_000)
