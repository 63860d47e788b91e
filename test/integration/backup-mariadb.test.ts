import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, type RunResult } from '../support/dbhook.ts'
import { startMariadb, type MariadbServer } from '../support/mariadb.ts'

function backupFileOf(result: RunResult, database: string): string {
  const summary = result.logs.find((line) => line.summary === true) as { databases: { name: string; file?: string }[] } | undefined
  const file = summary?.databases.find((db) => db.name === database)?.file
  if (!file) throw new Error(`no backup file for ${database} in:\n${result.stdout}`)
  return file
}

describe('backups on MariaDB', () => {
  let server: MariadbServer
  let scratch: string

  beforeAll(async () => {
    server = await startMariadb()
    scratch = await mkdtemp(join(tmpdir(), 'dbhook-backup-test-'))
  })
  afterAll(async () => {
    await server?.stop()
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  const count = async (database: string) =>
    Number((await server.query<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${database}\`.items`))[0]?.n)

  test('backup, drill, change data, restore into a new database; an encrypted backup needs its key; a truncated one fails the drill', async () => {
    const database = 'shop'
    const owner = 'shop_owner'
    const ownerPassword = `Own-${randomBytes(6).toString('hex')}`
    const keyFile = join(scratch, 'key')
    await writeFile(keyFile, randomBytes(32))
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: ownerPassword,
      DBHOOK_DATABASES: database,
      DBHOOK_BACKUP_DIR: join(scratch, 'backups'),
    })
    expect((await runDbhook(['apply'], env)).code).toBe(0)
    await server.query(`CREATE TABLE ${database}.items (id INT AUTO_INCREMENT PRIMARY KEY, label TEXT NOT NULL)`)
    await server.query(`INSERT INTO ${database}.items (label) SELECT CONCAT('item ', seq) FROM seq_1_to_300`, [], { database })

    const backup = await runDbhook(['backup'], env)
    expect(backup.code, backup.stdout).toBe(0)
    const file = backupFileOf(backup, database)
    expect(await readFile(file, 'utf8')).toMatch(/^(.*\n)?-- MariaDB dump/)

    const drill = await runDbhook(['drill'], env)
    expect(drill.code, drill.stdout).toBe(0)
    expect(drill.terminationMessage).toMatch(
      new RegExp(`^drill: passed: ${database} from \\S+Z \\(0 min old\\), 1 tables, 300 rows, [\\d.]+ KiB, restored in [\\d.]+ s\n?$`),
    )
    expect(drill.logs.find((line) => line.summary)?.databases).toMatchObject([
      { name: database, file, result: 'passed', comparedWith: 'manifest' },
    ])

    await server.query(`INSERT INTO ${database}.items (label) VALUES ('after the backup')`)
    const restore = await runDbhook(['restore', '--database', database, '--into', 'shop_restored'], env)
    expect(restore.code, restore.stdout).toBe(0)
    expect(await count('shop_restored')).toBe(300)
    expect(await count(database)).toBe(301)
    // The owner was granted the restored database.
    const grants = await server.query<Record<string, string>>(`SHOW GRANTS FOR '${owner}'@'%'`)
    const granted = grants.map((g) => Object.values(g)[0]).join('\n')
    expect(granted).toContain('ON `shop\\_restored`.* TO `shop_owner`@`%`')
    // The drill's scratch database is gone, and so is the grant that came with it.
    expect(granted).not.toContain('drill')

    const keyed = { ...env, DBHOOK_BACKUP_KEY_FILE: keyFile }
    const encrypted = await runDbhook(['backup'], keyed)
    expect(encrypted.code, encrypted.stdout).toBe(0)
    const encryptedFile = backupFileOf(encrypted, database)
    expect((await readFile(encryptedFile)).includes(Buffer.from('item 1'))).toBe(false)
    const withoutKey = await runDbhook(['restore', '--database', database, '--into', 'shop_nokey'], env)
    expect(withoutKey.code).toBe(1)
    expect(withoutKey.terminationMessage).toContain(`backup ${encryptedFile} is encrypted`)
    const withKey = await runDbhook(['restore', '--database', database, '--into', 'shop_key'], keyed)
    expect(withKey.code, withKey.stdout).toBe(0)
    expect(await count('shop_key')).toBe(301)

    await truncate(encryptedFile, (await readFile(encryptedFile)).length - 100)
    const truncated = await runDbhook(['drill'], keyed)
    expect(truncated.code).toBe(1)
    expect(truncated.terminationMessage).toContain(`backup ${encryptedFile} is damaged or truncated`)
  })
})
