import type pg from 'pg'
import type { RunContext } from '../engine.ts'
import { connectPostgres, connectWithWait } from './postgres-connect.ts'
import { readTlsMaterial } from './postgres-tls.ts'
import { runBounded } from '../../concurrency.ts'

/**
 * Read-only check as the owner: every listed database exists, is owned by the owner, and the owner can connect
 * and create a table in it (inside a transaction that is rolled back). Returns every problem, not the first.
 */
export async function verifyPostgres(context: RunContext): Promise<readonly string[]> {
  const { config, log } = context
  const tls = readTlsMaterial(config.tls, log)
  const owner = config.owner
  const login = { user: owner.name, password: owner.password }
  const { client, endpoint } = await connectWithWait(context, tls, { ...login, database: config.admin.database }, 'DBHOOK_OWNER_PASSWORD')
  let owners: Map<string, string>
  try {
    const result = await client.query<{ name: string; owner: string }>(
      'SELECT datname AS name, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY($1::text[])',
      [config.databases.map((db) => db.name)],
    )
    owners = new Map(result.rows.map((row) => [row.name, row.owner]))
  } finally {
    await client.end().catch(() => undefined)
  }

  const problems: string[] = []
  const reachable = config.databases.filter((db) => {
    const found = owners.get(db.name)
    if (found === undefined) {
      problems.push(`${db.key}: database ${JSON.stringify(db.name)} does not exist`)
      return false
    }
    if (found !== owner.name) {
      problems.push(
        `${db.key}: database ${JSON.stringify(db.name)} is owned by ${JSON.stringify(found)}, not ${JSON.stringify(owner.name)}`,
      )
    }
    return true
  })

  const probes = await runBounded(reachable, config.parallel, async (db) => {
    let probe: pg.Client
    try {
      probe = await connectPostgres(config, tls, { ...login, database: db.name }, endpoint, config.connectTimeoutMs, log)
    } catch (error) {
      return `${db.key}: ${JSON.stringify(owner.name)} cannot connect to ${JSON.stringify(db.name)}: ${(error as Error).message}`
    }
    try {
      await probe.query('BEGIN')
      await probe.query('CREATE TABLE dbhook_verify_probe (id integer)')
      return undefined
    } catch (error) {
      return `${db.key}: ${JSON.stringify(owner.name)} cannot create a table in ${JSON.stringify(db.name)}: ${(error as Error).message}`
    } finally {
      await probe.query('ROLLBACK').catch(() => undefined)
      await probe.end().catch(() => undefined)
    }
  })
  for (const problem of probes) if (problem) problems.push(problem)
  return problems
}
