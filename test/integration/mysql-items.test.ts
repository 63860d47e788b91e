import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { mysqlItems, type MysqlItemKind } from '../../src/engines/mysql/mysql-items.ts'
import { runDbhook, stepLines, summaryOf } from '../support/dbhook.ts'
import { startMariadb, type MariadbServer } from '../support/mariadb.ts'

/**
 * How a DBA's hand takes each registry item away again. Typed by the registry: an item added there without a way
 * to remove it here fails `tsc`, so every item is tested. Names hold no `_`, so the grant pattern is the name.
 */
const removals: Record<MysqlItemKind, (names: { database: string; owner: string; app: string }) => string> = {
  'owner-privileges': ({ database, owner }) => `REVOKE ALL PRIVILEGES ON \`${database}\`.* FROM '${owner}'@'%'`,
  'app-privileges': ({ database, app }) => `REVOKE SELECT, INSERT, UPDATE, DELETE ON \`${database}\`.* FROM '${app}'@'%'`,
}

const roleOf: Record<MysqlItemKind, 'owner' | 'app'> = { 'owner-privileges': 'owner', 'app-privileges': 'app' }

describe('MariaDB: the item registry', () => {
  let server: MariadbServer
  let n = 0
  const fresh = (prefix: string) => `${prefix}${++n}`

  beforeAll(async () => {
    server = await startMariadb()
  })
  afterAll(async () => {
    await server?.stop()
  })

  test.each(Object.keys(mysqlItems) as MysqlItemKind[])(
    '%s: plan finds it missing once removed, apply restores it, plan is in sync',
    async (kind) => {
      const names = { database: fresh('flightctl'), owner: fresh('migrator'), app: fresh('app') }
      const env = server.env(server.admin, server.password, {
        DBHOOK_OWNER: names.owner,
        DBHOOK_OWNER_PASSWORD: 'owner-pw',
        DBHOOK_APP_USER: names.app,
        DBHOOK_APP_PASSWORD: 'app-pw',
        DBHOOK_DATABASES: names.database,
      })
      expect((await runDbhook(['apply'], env)).code).toBe(0)
      expect((await runDbhook(['plan'], env)).code).toBe(0)
      await server.query(removals[kind](names))

      const plan = await runDbhook(['plan'], env)
      expect(plan.code, plan.stdout).toBe(2)
      expect(stepLines(plan)).toEqual([`${names.database}: ${mysqlItems[kind].describe(names[roleOf[kind]])}`])
      const apply = await runDbhook(['apply'], env)
      expect(apply.code, apply.stdout).toBe(0)
      expect(stepLines(apply)).toEqual(stepLines(plan))
      expect(summaryOf(apply)?.statements).toBe(1)
      expect((await runDbhook(['plan'], env)).code).toBe(0)
    },
  )
})
