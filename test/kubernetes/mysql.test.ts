// openZro's MySQL values (chart/ci/mysql-values.yaml) against the host's MariaDB: the apply hook creates the four
// databases and the runtime user, helm test verifies them as that user from a pod, and a second release with
// provisioning disabled passes its verify hook against what the first one made.
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, test } from 'vitest'
import mysql from 'mysql2/promise'
import type { MariadbServer } from '../support/mariadb.ts'
import { ciValues } from '../chart/helm.ts'
import { helm, localImage, removeRelease, type Cluster } from './cluster.ts'
import { condition, eventMessages, expectNoSecrets, finishedJob, helmChart, podLogs, podsOfJob, terminated } from './inspect.ts'
import { mariadbHostPattern, startHostMariadb } from './servers.ts'
import { withCluster } from './test-cluster.ts'

let cluster: Cluster
let server: MariadbServer
const databases = ['openzro', 'openzro_flow', 'openzro_activity', 'dex']
const rootPassword = `root-${randomBytes(9).toString('base64url')}`
const ownerPassword = `owner-${randomBytes(9).toString('base64url')}`
const releases = ['my', 'my-verify']

withCluster(async (c) => {
  cluster = c
  server ??= await startHostMariadb(c).then(async (started) => {
    // The values file provisions as root; pods connect from the pod range, so that is where this root logs in from.
    const root = `'root'@${mysql.escape(mariadbHostPattern(c))}`
    await started.query(`CREATE USER ${root} IDENTIFIED BY ${mysql.escape(rootPassword)}`)
    await started.query(`GRANT ALL PRIVILEGES ON *.* TO ${root} WITH GRANT OPTION`)
    return started
  })
})

afterAll(async () => {
  await server?.stop()
  if (!cluster) return
  for (const release of releases) {
    await removeRelease(cluster, release)
  }
})

function mysqlValues(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...localImage,
    mysql: { host: cluster.host, port: server.port, password: ownerPassword, provisioning: { password: rootPassword }, ...extra },
    waitTimeout: '60s',
  }
}

describe('MySQL values against MariaDB', () => {
  test('install: the apply hook creates the databases and the runtime user, helm test verifies them from a pod', async () => {
    const install = await helmChart(cluster, 'install', 'my', [ciValues('mysql-values.yaml')], mysqlValues())
    expect(install.code, install.stderr).toBe(0)
    const schemata = await server.query<{ name: string }>(
      'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name IN (?) ORDER BY schema_name',
      [databases],
    )
    expect(schemata.map((s) => s.name)).toEqual([...databases].sort())
    // The runtime user logs in from anywhere (userHost %) and owns every database.
    const users = await server.query<{ host: string }>("SELECT host AS host FROM mysql.user WHERE user = 'openzro'")
    expect(users).toEqual([{ host: '%' }])
    const [pod] = await podsOfJob(cluster, 'my-dbhook')
    expect(terminated(pod!)?.exitCode).toBe(0)

    const helmTest = await helm(cluster, ['test', 'my', '-n', cluster.namespace, '--timeout', '5m'])
    expect(helmTest.code, helmTest.stdout + helmTest.stderr).toBe(0)
    expect(helmTest.stdout).toMatch(/TEST SUITE:\s+my-dbhook-test[\s\S]*?Phase:\s+Succeeded/)
    expect(await podLogs(cluster, 'my-dbhook-test')).toContain('4 databases exist, are owned by \\"openzro\\"')
    const logs = await podLogs(cluster, pod!.metadata.name)
    expectNoSecrets(
      {
        'helm output': install.stdout + install.stderr + helmTest.stdout + helmTest.stderr,
        'pod logs': logs,
        Events: await eventMessages(cluster),
      },
      [rootPassword, ownerPassword],
    )
  }, 1_200_000)

  test('provisioning disabled: the verify hook checks, as the runtime user, what the first release created', async () => {
    const install = await helmChart(
      cluster,
      'install',
      'my-verify',
      [ciValues('mysql-values.yaml')],
      mysqlValues({ provisioning: { enabled: false, password: rootPassword } }),
    )
    expect(install.code, install.stderr).toBe(0)
    const job = await finishedJob(cluster, 'my-verify-dbhook-verify')
    expect(condition(job, 'Complete')?.status).toBe('True')
    const [pod] = await podsOfJob(cluster, 'my-verify-dbhook-verify')
    expect(terminated(pod!)?.message).toMatch(/^verify: 4 databases exist, are owned by "openzro"/)
  }, 1_200_000)
})
