import { createHash, randomBytes } from 'node:crypto'
import { copyFile, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook } from '../support/dbhook.ts'
import { startMariadb, type MariadbServer } from '../support/mariadb.ts'
import { backupFileOf, manifestOf, startWriter, summaryOf } from './backup-support.ts'

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex')

async function resealSidecar(dump: string): Promise<void> {
  await writeFile(
    `${dump}.sha256`,
    `${await sha256(dump)}  ${basename(dump)}\n${await sha256(manifestOf(dump))}  ${basename(manifestOf(dump))}\n`,
  )
}

describe('the drill of a live database on MariaDB', () => {
  let server: MariadbServer
  let scratch: string

  beforeAll(async () => {
    server = await startMariadb()
    scratch = await mkdtemp(join(tmpdir(), 'dbhook-drill-test-'))
  })
  afterAll(async () => {
    await server?.stop()
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  let counter = 0
  async function provisioned() {
    counter += 1
    const database = `shop_${counter}`
    const env = server.env(server.admin, server.password, {
      DBHOOK_OWNER: `owner_${counter}`,
      DBHOOK_OWNER_PASSWORD: `Own-${randomBytes(6).toString('hex')}`,
      DBHOOK_DATABASES: database,
      DBHOOK_BACKUP_DIR: join(scratch, `backups_${counter}`),
    })
    expect((await runDbhook(['apply'], env)).code).toBe(0)
    await server.query(`CREATE TABLE ${database}.items (id INT AUTO_INCREMENT PRIMARY KEY, label TEXT NOT NULL)`)
    await server.query(`INSERT INTO ${database}.items (label) SELECT CONCAT('it''s (', seq, ');') FROM seq_1_to_2000`, [], { database })
    await server.query(`CREATE TABLE ${database}.notes (body TEXT)`)
    await server.query(`INSERT INTO ${database}.notes VALUES ('a'), ('b\nc')`)
    await server.query(`CREATE VIEW ${database}.recent AS SELECT id FROM ${database}.items WHERE id > 1990`)
    await server.query(`CREATE FUNCTION ${database}.twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2`)
    // Unqualified, as an application creates it: mariadb-dump keeps a trigger's text as written, and a qualified
    // one would name the source database in any restore (docs/backup.md).
    await server.query('CREATE TRIGGER stamp BEFORE INSERT ON notes FOR EACH ROW SET NEW.body = NEW.body', [], { database })
    return { database, env }
  }

  test('a writer inserts, updates and deletes all along; every drill passes against the manifest counted from the dump, with encryption and without', async () => {
    const { database, env } = await provisioned()
    const keyFile = join(scratch, `key_${counter}`)
    await writeFile(keyFile, randomBytes(32))
    const connection = await mysql.createConnection({
      host: server.host,
      port: server.port,
      user: server.admin,
      password: server.password,
      database,
    })
    const writer = startWriter(async (n) => {
      if (n % 3 === 0) await connection.query("INSERT INTO items (label) VALUES ('new'), ('new')")
      else if (n % 3 === 1) await connection.query("UPDATE items SET label = CONCAT(label, '+') ORDER BY id DESC LIMIT 1")
      else await connection.query('DELETE FROM items ORDER BY id LIMIT 1')
    })
    let lastRows: unknown
    try {
      for (const [runEnv, drillsInARow] of [
        [{ ...env, DBHOOK_BACKUP_KEY_FILE: keyFile }, 2],
        [env, 2],
      ] as const) {
        const written = writer.writes()
        const backup = await runDbhook(['backup'], runEnv)
        expect(backup.code, backup.stdout).toBe(0)
        expect(writer.writes()).toBeGreaterThan(written)
        const taken = summaryOf(backup, database)
        expect(taken).toMatchObject({ result: 'ok', tables: 2 })
        for (let i = 0; i < drillsInARow; i += 1) {
          const writesBefore = writer.writes()
          const drill = await runDbhook(['drill'], runEnv)
          expect(drill.code, drill.stdout).toBe(0)
          expect(writer.writes()).toBeGreaterThan(writesBefore)
          expect(drill.terminationMessage.trimEnd()).toMatch(
            new RegExp(
              `^drill: passed: ${database} from \\S+Z \\(\\d+ min old\\), 2 tables, [\\d,]+ rows, [\\d.]+ KiB, restored in [\\d.]+ s$`,
            ),
          )
          expect(summaryOf(drill, database)).toMatchObject({
            result: 'passed',
            comparedWith: 'manifest',
            file: taken.file,
            rows: taken.rows,
          })
          lastRows = taken.rows
        }
      }
    } finally {
      await writer.stop().finally(() => connection.end())
    }
    const [live] = await server.query<{ n: number }>(
      `SELECT (SELECT COUNT(*) FROM ${database}.items) + (SELECT COUNT(*) FROM ${database}.notes) AS n`,
    )
    expect(Number(live?.n)).not.toBe(lastRows)
    expect(
      (await server.query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name LIKE '%drill%'"))[0]?.n,
    ).toBe(0)
  }, 300_000)

  test('a dump without a table, a changed count, a truncated dump and a missing manifest each fail the drill, naming the file', async () => {
    const { database, env } = await provisioned()
    const backup = await runDbhook(['backup'], env)
    expect(backup.code, backup.stdout).toBe(0)
    const file = backupFileOf(backup, database)
    const manifest = manifestOf(file)
    const original = await readFile(file, 'utf8')
    const drillFails = async (expected: string) => {
      const drill = await runDbhook(['drill'], env)
      expect(drill.code, drill.stdout).toBe(1)
      expect(drill.terminationMessage).toContain(expected)
    }

    // The notes table's section (structure, data, trigger) cut out of the dump, and the sidecar made to match.
    const start = original.indexOf('--\n-- Table structure for table `notes`')
    const end = original.indexOf('\n--\n-- ', original.indexOf('UNLOCK TABLES;\n', start)) + 1
    expect(start).toBeGreaterThan(0)
    await writeFile(file, original.slice(0, start) + original.slice(end))
    await resealSidecar(file)
    await drillFails(`the restore of ${file} differs from its manifest: table notes is missing`)
    await writeFile(file, original)

    const recorded = await readFile(manifest, 'utf8')
    await writeFile(manifest, recorded.replace(/("name": "items",\n\s*"rows": )2000/, '$11999'))
    await resealSidecar(file)
    await drillFails(`the restore of ${file} differs from its manifest: table items has 2000 rows, the manifest 1999`)
    await writeFile(manifest, recorded)
    await resealSidecar(file)

    await truncate(file, Math.floor(original.length / 2))
    await drillFails(`backup ${file} is damaged or truncated`)
    await writeFile(file, original)

    await rename(manifest, `${manifest}.away`)
    await drillFails(`backup ${file} is incomplete: ${manifest}, which its sidecar lists, does not exist`)
    await copyFile(`${manifest}.away`, manifest)
    const again = await runDbhook(['drill'], env)
    expect(again.code, again.stdout).toBe(0)
  }, 300_000)
})
