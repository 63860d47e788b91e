import { randomBytes } from 'node:crypto'
import type { RowDataPacket } from 'mysql2'
import type { RunContext } from '../engine.ts'
import { closeMysql, connectMysqlWithWait } from './mysql-connect.ts'
import { quoteIdentifier } from './mysql-statements.ts'
import { readMysqlTlsMaterial } from './mysql-tls.ts'

/**
 * Checks as the owner: every listed database exists and the owner can create a table in it and drop it again (a
 * table with a random name, gone when verify ends). Returns every problem, not the first.
 */
export async function verifyMysql(context: RunContext): Promise<readonly string[]> {
  const { config } = context
  const material = readMysqlTlsMaterial(config.tls)
  const owner = config.owner
  const connection = await connectMysqlWithWait(
    context,
    material,
    { user: owner.name, password: owner.password ?? (owner.name === config.admin.user ? config.admin.password : undefined) },
    'DBHOOK_OWNER_PASSWORD',
  )
  const problems: string[] = []
  try {
    const names = config.databases.map((db) => db.name)
    const [rows] = await connection.query<RowDataPacket[]>(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)',
      [names],
    )
    const visible = new Set(rows.map((row) => String(row.name)))
    for (const db of config.databases) {
      if (!visible.has(db.name)) {
        problems.push(
          `${db.key}: database ${JSON.stringify(db.name)} does not exist or ${JSON.stringify(owner.name)} has no privilege on it`,
        )
        continue
      }
      const table = `${quoteIdentifier(db.name)}.${quoteIdentifier(`dbhook_verify_${randomBytes(6).toString('hex')}`)}`
      try {
        await connection.query(`CREATE TABLE ${table} (id integer)`)
        await connection.query(`DROP TABLE ${table}`)
      } catch (error) {
        problems.push(
          `${db.key}: ${JSON.stringify(owner.name)} cannot create and drop a table in ${JSON.stringify(db.name)}: ${(error as Error).message}`,
        )
      }
    }
  } finally {
    await closeMysql(connection)
  }
  return problems
}
