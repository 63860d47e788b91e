// The password files inside the hook pod, as the kubelet writes them: the chart asks for mode 0400 and the pod's
// fsGroup 65532, and the kubelet adds group read (0440, group 65532) so that UID 65532 can read them. Seen from
// inside the running hook pod (`kubectl exec` with the image's node; the image has no shell) while dbhook waits
// for a server that is not up yet; then the server starts and the install completes.
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, expect, test } from 'vitest'
import { freePort } from '../support/ports.ts'
import type { PostgresServer } from '../support/postgres.ts'
import { ciValues } from '../chart/helm.ts'
import { kubectlOk, localImage, removeRelease, waitFor, type Cluster } from './cluster.ts'
import { helmChart, podsOfJob } from './inspect.ts'
import { startHostPostgres } from './servers.ts'
import { withCluster } from './test-cluster.ts'

let cluster: Cluster
let server: PostgresServer | undefined
const release = 'files'

withCluster((c) => {
  cluster = c
})

afterAll(async () => {
  if (!cluster) return
  await removeRelease(cluster, release)
  await server?.stop()
})

/** Runs in the hook container as its own user: who it is, and each password file's mode, owner and digest. */
const probe = `
const fs = require('node:fs')
const crypto = require('node:crypto')
const files = {}
for (const role of ['admin', 'owner']) {
  const path = '/var/run/secrets/dbhook/' + role + '/password'
  const stat = fs.statSync(path)
  let sha256 = null
  let error = null
  try { sha256 = crypto.createHash('sha256').update(fs.readFileSync(path)).digest('hex') } catch (e) { error = e.code }
  files[role] = { mode: (stat.mode & 0o777).toString(8), uid: stat.uid, gid: stat.gid, sha256, error }
}
console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), files }))
`

const digest = (text: string) => createHash('sha256').update(text).digest('hex')

test('the hook pod reads its 0400 password files as UID 65532 through the fsGroup the kubelet gives them', async () => {
  const provisioner = `provisioner-${randomBytes(9).toString('base64url')}`
  const owner = `owner-${randomBytes(9).toString('base64url')}`
  // Nothing listens on this port yet: dbhook keeps the hook pod running while it waits.
  const port = await freePort()
  const installing = helmChart(cluster, 'install', release, [ciValues('openzro-postgres-values.yaml')], {
    ...localImage,
    postgres: {
      host: cluster.host,
      port,
      sslMode: 'disable',
      password: owner,
      provisioning: { username: 'postgres', password: provisioner },
    },
    waitTimeout: '600s',
  })
  const pod = await waitFor('the hook pod to run', async () => {
    const pods = await podsOfJob(cluster, `${release}-dbhook`).catch(() => [])
    return pods.find((p) => p.status.containerStatuses?.[0]?.state.running)?.metadata.name
  })
  const seen = JSON.parse(
    await kubectlOk(cluster, ['-n', cluster.namespace, 'exec', pod, '-c', 'dbhook', '--', '/nodejs/bin/node', '-e', probe]),
  )
  expect(seen).toEqual({
    uid: 65532,
    gid: 65532,
    groups: expect.arrayContaining([65532]),
    files: {
      admin: { mode: '440', uid: 0, gid: 65532, sha256: digest(provisioner), error: null },
      owner: { mode: '440', uid: 0, gid: 65532, sha256: digest(owner), error: null },
    },
  })

  // Its bootstrap superuser is the provisioning user: no role has to be made before the waiting pod gets in.
  server = await startHostPostgres(cluster, { port, password: provisioner })
  const install = await installing
  expect(install.code, install.stderr).toBe(0)
  const owners = await server.query<{ owner: string }>(
    "SELECT DISTINCT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname IN ('openzro', 'openzro_flow', 'openzro_activity', 'dex')",
  )
  expect(owners).toEqual([{ owner: 'openzro' }])
}, 1_200_000)
