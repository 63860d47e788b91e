import { execFile as execFileCallback } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { dbhookBin, runDbhook } from '../support/dbhook.ts'
import { createTestCertificates } from '../support/certificates.ts'
import { runPsqlScript, startPostgres, testedMajors, type PostgresServer } from '../support/postgres.ts'
import { ciValues, helmBinary, only, render, type Manifest } from './helm.ts'
import { runRenderedPod, type PodRun } from './rendered-pod.ts'

const _execFile = promisify(execFileCallback)
const openZroDatabases = ['openzro', 'openzro_flow', 'openzro_activity', 'dex']

let server: PostgresServer

async function owners(names: readonly string[]): Promise<Record<string, string>> {
  const rows = await server.query<{ datname: string; owner: string }>(
    'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY($1::text[])',
    [names],
  )
  return Object.fromEntries(rows.map((r) => [r.datname, r.owner]))
}

/** The values a user would give for this server, on top of a file from the chart's ci/ matrix. */
async function renderFor(file: string, postgres: Record<string, unknown>): Promise<Manifest[]> {
  const result = await render([
    ciValues(file),
    { postgres: { host: server.host, port: server.port, sslMode: 'disable', ...postgres }, waitTimeout: '20s', connectTimeout: '5s' },
  ])
  expect(result.code, result.stderr).toBe(0)
  return result.manifests
}

function explain(run: PodRun): string {
  return `exit ${run.code}\n${run.stdout}\n${run.stderr}`
}

beforeAll(async () => {
  helmBinary()
  if (!existsSync(dbhookBin)) throw new Error(`${dbhookBin} is missing: run npm run build first`)
  server = await startPostgres(Math.max(...testedMajors()))
})

afterAll(async () => {
  await server?.stop()
})

describe('the rendered hooks run against a real PostgreSQL', () => {
  test('openZro values: the apply Job creates the four databases owned by the runtime user, the helm test pod verifies them', async () => {
    const ownerPassword = 'openzro runtime pw 1'
    const manifests = await renderFor('openzro-postgres-values.yaml', {
      username: 'openzro',
      password: ownerPassword,
      provisioning: { enabled: true, username: 'postgres', password: server.password },
    })
    const job = only(manifests, 'Job', 'provision')

    const install = await runRenderedPod(job, manifests)
    expect(install.code, explain(install)).toBe(0)
    expect(await owners(openZroDatabases)).toEqual(Object.fromEntries(openZroDatabases.map((d) => [d, 'openzro'])))
    expect(install.terminationMessage).toMatch(/^apply: /)
    // Every password file was mounted 0400 (0440 with the fsGroup's read, as the kubelet leaves it).
    expect(Object.values(install.mountedModes)).toEqual(['0440', '0440'])
    for (const password of [ownerPassword, server.password])
      expect(install.stdout + install.stderr + install.terminationMessage).not.toContain(password)

    // pre-upgrade: the same Job again changes nothing.
    const upgrade = await runRenderedPod(job, manifests)
    expect(upgrade.code, explain(upgrade)).toBe(0)
    expect(upgrade.stdout).toContain('"statements":0')

    const helmTest = await runRenderedPod(only(manifests, 'Pod', 'test'), manifests)
    expect(helmTest.code, explain(helmTest)).toBe(0)
    expect(helmTest.terminationMessage).toContain('4 databases exist, are owned by "openzro"')
  })

  test('existing Secrets: a provisioning user with CREATEDB and CREATEROLE creates the runtime and app users', async () => {
    await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD 'provisioner-pw-1'`)
    const names = { management: 'es_management', flow: 'es_flow', activity: 'es_activity', dex: 'es_dex' }
    const manifests = await renderFor('existing-secrets-values.yaml', {
      username: 'es_owner',
      appUser: { username: 'es_app' },
      databases: names,
      extensions: [],
    })
    const cluster = {
      secrets: {
        'openzro-db': { password: 'es-owner-pw-1', 'app-password': 'es-app-pw-1' },
        'postgres-admin': { 'admin-password': 'provisioner-pw-1' },
      },
    }
    const run = await runRenderedPod(only(manifests, 'Job', 'provision'), manifests, cluster, { memoryProbe: true })
    expect(run.code, explain(run)).toBe(0)
    // The 64Mi limit: what the kernel cannot reclaim (anonymous memory) stays far below it; the rest is node's
    // own code, file-backed and shared.
    const memory = run.memory!
    console.info(
      `apply Job peak memory: anonymous ${(memory.anonKiB / 1024).toFixed(1)} MiB, file-backed ${(memory.fileKiB / 1024).toFixed(1)} MiB, VmHWM ${(memory.totalKiB / 1024).toFixed(1)} MiB`,
    )
    expect(memory.anonKiB).toBeGreaterThan(0)
    expect(memory.anonKiB).toBeLessThan(40 * 1024)
    const dbs = Object.values(names)
    expect(await owners(dbs)).toEqual(Object.fromEntries(dbs.map((d) => [d, 'es_owner'])))
    const app = await server.query('SELECT current_user AS me', [], { user: 'es_app', password: 'es-app-pw-1', database: 'es_flow' })
    expect(app[0]?.me).toBe('es_app')
    const helmTest = await runRenderedPod(only(manifests, 'Pod', 'test'), manifests, cluster)
    expect(helmTest.code, explain(helmTest)).toBe(0)
  })

  test('provisioning disabled: the verify hook fails naming the missing databases, dbhook sql gives the DBA the SQL, then it passes', async () => {
    // The DBA created the runtime user, but not yet its databases.
    await server.query(`CREATE ROLE verify_owner LOGIN PASSWORD 'verify-owner-pw-1'`)
    const names = { management: 'v_openzro', flow: 'v_openzro_flow', activity: 'v_openzro_activity', dex: 'v_dex' }
    const manifests = await renderFor('verify-only-values.yaml', {
      username: 'verify_owner',
      password: 'verify-owner-pw-1',
      databases: names,
    })
    const job = only(manifests, 'Job', 'verify')

    const failed = await runRenderedPod(job, manifests)
    expect(failed.code, explain(failed)).toBe(1)
    for (const name of Object.values(names)) expect(failed.terminationMessage).toContain(`database "${name}" does not exist`)
    expect(await owners(Object.values(names))).toEqual({})

    // The command in the Job's annotation, run as written (the image's entrypoint is dbhook).
    const command = job.metadata.annotations!['dbhook.io/dba-sql-command']!
    const env = Object.fromEntries(
      [...command.matchAll(/--env='((?:[^']|'\\'')*)'/g)].map((m) => m[1]!.replace(/'\\''/g, "'").split(/=(.*)/s).slice(0, 2)),
    )
    const args = command.slice(command.lastIndexOf(' -- ') + 4).split(' ')
    expect(args).toEqual(['sql'])
    const sql = await runDbhook(args, env)
    expect(sql.code, sql.stderr).toBe(0)
    for (const name of Object.values(names)) expect(sql.stdout).toContain(`CREATE DATABASE "${name}" OWNER "verify_owner"`)

    // The DBA runs it with psql as a user with CREATEDB.
    const psql = await runPsqlScript(server, sql.stdout)
    expect(psql.code, psql.output).toBe(0)

    const passed = await runRenderedPod(job, manifests)
    expect(passed.code, explain(passed)).toBe(0)
    expect(await owners(Object.values(names))).toEqual(Object.fromEntries(Object.values(names).map((d) => [d, 'verify_owner'])))
  })
  test('TLS values: verify-full with the CA from a ConfigMap and a client certificate from a Secret, on a TLS-only server', async () => {
    const certs = await createTestCertificates('tls_provisioner')
    const tlsServer = await startPostgres(Math.max(...testedMajors()), {
      conf: ['ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'", "ssl_ca_file = 'ca.crt'"],
      files: {
        'server.crt': { content: certs.server.cert, mode: 0o644 },
        'server.key': { content: certs.server.key, mode: 0o600 },
        'ca.crt': { content: certs.ca.cert, mode: 0o644 },
      },
      // The harness's superuser may use plaintext; everyone else needs TLS and a client certificate from the CA.
      hba: [
        'local all all scram-sha-256',
        'host all postgres 127.0.0.1/32 scram-sha-256',
        'hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca',
        '',
      ].join('\n'),
    })
    try {
      await tlsServer.query(`CREATE ROLE tls_provisioner LOGIN CREATEDB CREATEROLE PASSWORD 'tls-provisioner-pw-1'`)
      const result = await render([
        ciValues('tls-client-cert-values.yaml'),
        {
          postgres: {
            host: tlsServer.host,
            port: tlsServer.port,
            username: 'tls_owner',
            password: 'tls-owner-pw-1',
            provisioning: { username: 'tls_provisioner', password: 'tls-provisioner-pw-1' },
          },
          waitTimeout: '20s',
        },
      ])
      expect(result.code, result.stderr).toBe(0)
      const cluster = {
        configMaps: { 'postgres-ca': { 'ca.crt': certs.ca.cert } },
        secrets: { 'openzro-client-cert': { 'tls.crt': certs.client.cert, 'tls.key': certs.client.key } },
      }
      const run = await runRenderedPod(only(result.manifests, 'Job', 'provision'), result.manifests, cluster)
      expect(run.code, explain(run)).toBe(0)
      expect(run.mountedModes['/var/run/secrets/dbhook/client/tls.key']).toBe('0440')
      expect(run.mountedModes['/var/run/secrets/dbhook/ca/ca.crt']).toBe('0444')
      const rows = await tlsServer.query<{ datname: string; owner: string }>(
        "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname LIKE 'openzro%' ORDER BY datname",
      )
      expect(rows).toEqual([
        { datname: 'openzro', owner: 'tls_owner' },
        { datname: 'openzro_activity', owner: 'tls_owner' },
        { datname: 'openzro_flow', owner: 'tls_owner' },
      ])
      const helmTest = await runRenderedPod(only(result.manifests, 'Pod', 'test'), result.manifests, cluster)
      expect(helmTest.code, explain(helmTest)).toBe(0)
    } finally {
      await tlsServer.stop()
      await certs.remove()
    }
  })
})
