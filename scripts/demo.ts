// `npm run demo`: starts an embedded PostgreSQL from npm, provisions the openZro four into it with dbhook
// (plan, apply, plan again, verify) and stops it. Needs nothing but `npm ci`.
import { spawnSync } from 'node:child_process'
import { startPostgres } from '../test/support/postgres.ts'

const server = await startPostgres(18)
try {
  console.log(`\nPostgreSQL 18 is listening on ${server.host}:${server.port}\n`)
  await server.query("CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD 'provisioner-demo'")
  const env = {
    PATH: process.env.PATH ?? '',
    DBHOOK_HOST: server.host,
    DBHOOK_PORT: String(server.port),
    DBHOOK_ADMIN_USER: 'provisioner',
    DBHOOK_ADMIN_PASSWORD: 'provisioner-demo',
    DBHOOK_OWNER: 'openzro',
    DBHOOK_OWNER_PASSWORD: 'openzro-demo',
    DBHOOK_DATABASES: 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex',
    DBHOOK_SSLMODE: 'disable',
    DBHOOK_LOG_FORMAT: 'pretty',
  }
  for (const command of ['plan', 'apply', 'plan', 'verify']) {
    console.log(`$ dbhook ${command}`)
    const result = spawnSync(process.execPath, ['dist/dbhook.mjs', command], { env, stdio: 'inherit' })
    console.log(`(exit ${result.status})\n`)
  }
  const rows = await server.query(
    "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1') ORDER BY 1",
  )
  console.table(rows)
} finally {
  await server.stop()
}
