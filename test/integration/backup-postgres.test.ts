import { randomBytes } from 'node:crypto'
import { chmod, copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, type RunResult } from '../support/dbhook.ts'
import { startPostgres, testedMajors, type PostgresServer } from '../support/postgres.ts'
import { databaseOwners } from '../support/postgres-catalog.ts'
import { unique } from '../support/unique.ts'

// Debian's pg_dump is 15, which dumps servers up to 15: test the oldest and the newest major it can dump.
const majors = testedMajors().filter((m) => m === 13 || m === 15)

/** The file a summary line names for `database`. */
function backupFileOf(result: RunResult, database: string): string {
  const summary = result.logs.find((line) => line.summary === true) as { databases: { name: string; file?: string }[] } | undefined
  const file = summary?.databases.find((db) => db.name === database)?.file
  if (!file) throw new Error(`no backup file for ${database} in:\n${result.stdout}`)
  return file
}

describe.each(majors.length > 0 ? majors : [15])('backups on PostgreSQL %i', (major) => {
  let server: PostgresServer
  let scratch: string

  beforeAll(async () => {
    server = await startPostgres(major)
    scratch = await mkdtemp(join(tmpdir(), 'dbhook-backup-test-'))
  })
  afterAll(async () => {
    await server?.stop()
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  /** A provisioned database owned by a new owner, holding `rows` rows in public.items and 2 in app.notes. */
  async function provisioned(rows: number) {
    const owner = unique('owner')
    const database = unique('shop')
    const backupDir = join(scratch, unique('backups'))
    const ownerPassword = `Own-${randomBytes(6).toString('hex')}`
    const env = server.env('postgres', server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_OWNER_PASSWORD: ownerPassword,
      DBHOOK_DATABASES: `shop=${database}`,
      DBHOOK_BACKUP_DIR: backupDir,
    })
    const applied = await runDbhook(['apply'], env)
    expect(applied.code, applied.stdout).toBe(0)
    const asOwner = { database, user: owner, password: ownerPassword }
    await server.query('CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL)', [], asOwner)
    await server.query(`INSERT INTO items (label) SELECT 'item ' || g FROM generate_series(1, ${rows}) g`, [], asOwner)
    await server.query('CREATE SCHEMA app', [], asOwner)
    await server.query("CREATE TABLE app.notes (body text); INSERT INTO app.notes VALUES ('secret-marker-in-data'), ('b')", [], asOwner)
    return { owner, database, backupDir, env, asOwner }
  }

  const count = async (database: string, table = 'items') =>
    Number((await server.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`, [], { database }))[0]?.n)
  const databasesLike = async (pattern: string) =>
    (await server.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [pattern])).map((r) => r.datname)

  test('backup, change data, restore into a new database: the restore holds the data as backed up; the drill passes before and after the source changed', async () => {
    const { owner, database, backupDir, env, asOwner } = await provisioned(120)
    const backup = await runDbhook(['backup'], env)
    expect(backup.code, backup.stdout).toBe(0)
    const file = backupFileOf(backup, database)
    const name = file.split('/').at(-1)!
    expect(file).toMatch(new RegExp(`/${database}/${database}-\\d{8}T\\d{6}Z\\.dump$`))
    expect(await readFile(`${file}.sha256`, 'utf8')).toMatch(
      new RegExp(`^[0-9a-f]{64} {2}${name}\n[0-9a-f]{64} {2}${name.replace(/\.dump$/, '.manifest')}\n$`),
    )
    expect((await readdir(join(backupDir, database))).sort()).toEqual([name, `${name}.sha256`, name.replace(/\.dump$/, '.manifest')].sort())
    expect(backup.logs.find((line) => line.summary)?.server).toBe(`PostgreSQL ${major}`)

    const drill = await runDbhook(['drill'], env)
    expect(drill.code, drill.stdout).toBe(0)
    expect(drill.terminationMessage).toMatch(
      new RegExp(`^drill: passed: ${database} from \\S+Z \\(0 min old\\), 2 tables, 122 rows, [\\d.]+ KiB, restored in [\\d.]+ s\n?$`),
    )
    expect(await databasesLike(`%drill%`)).toEqual([])

    await server.query("INSERT INTO items (label) VALUES ('after the backup')", [], asOwner)
    const restore = await runDbhook(['restore', '--database', database], env)
    expect(restore.code, restore.stdout).toBe(0)
    const restored = /into (\S+)$/.exec(restore.terminationMessage.trim())?.[1]
    expect(restored).toMatch(new RegExp(`^${database}_restore_\\d{8}t\\d{6}z$`))
    expect(await count(restored!)).toBe(120)
    expect(await count(restored!, 'app.notes')).toBe(2)
    expect(await count(database)).toBe(121)
    expect(await databaseOwners(server, [restored!])).toEqual({ [restored!]: owner })
    // The owner works in the restored database as in the original.
    await server.query("INSERT INTO items (label) VALUES ('x')", [], { ...asOwner, database: restored! })

    // The source changed since the backup: the drill compares with the backup's manifest, not with the source.
    const after = await runDbhook(['drill'], env)
    expect(after.code, after.stdout).toBe(0)
    expect(after.terminationMessage).toContain(`, 2 tables, 122 rows, `)
  })

  test('a truncated or a corrupted backup fails the drill with exit 1 and names the file', async () => {
    const { database, env } = await provisioned(2000)
    const backup = await runDbhook(['backup'], env)
    expect(backup.code, backup.stdout).toBe(0)
    const file = backupFileOf(backup, database)
    const original = join(scratch, unique('original'))
    await copyFile(file, original)

    await truncate(file, Math.floor((await readFile(file)).length / 2))
    const truncated = await runDbhook(['drill'], env)
    expect(truncated.code, truncated.stdout).toBe(1)
    expect(truncated.terminationMessage).toContain(`backup ${file} is damaged or truncated`)

    await copyFile(original, file)
    const handle = await open(file, 'r+')
    await handle.write(Buffer.from('garbage!'), 0, 8, 600)
    await handle.close()
    const corrupted = await runDbhook(['drill'], env)
    expect(corrupted.code, corrupted.stdout).toBe(1)
    expect(corrupted.terminationMessage).toContain(`backup ${file} is damaged or truncated`)

    // A truncated file whose sidecar was rewritten to match still fails: pg_restore cannot read it.
    await copyFile(original, file)
    await truncate(file, Math.floor((await readFile(file)).length / 2))
    const { createHash } = await import('node:crypto')
    await writeFile(
      `${file}.sha256`,
      `${createHash('sha256')
        .update(await readFile(file))
        .digest('hex')}  x\n`,
    )
    const unreadable = await runDbhook(['drill'], env)
    expect(unreadable.code, unreadable.stdout).toBe(1)
    expect(unreadable.terminationMessage).toContain(`backup ${file} is not a complete dump`)
    expect(await databasesLike(`%drill%`)).toEqual([])
  })

  test('an encrypted backup restores with its key and fails cleanly without it or with another key', async () => {
    const { database, env } = await provisioned(50)
    const keyFile = join(scratch, unique('key'))
    await writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 })
    const keyed = { ...env, DBHOOK_BACKUP_KEY_FILE: keyFile }
    const backup = await runDbhook(['backup'], keyed)
    expect(backup.code, backup.stdout).toBe(0)
    const file = backupFileOf(backup, database)
    const bytes = await readFile(file)
    expect(bytes.subarray(0, 9).toString()).toBe('DBHOOKENC')
    expect(bytes.includes(Buffer.from('secret-marker-in-data'))).toBe(false)
    expect(bytes.includes(Buffer.from('PGDMP'))).toBe(false)

    const withKey = await runDbhook(['restore', '--database', database, '--into', `${database}_k`], keyed)
    expect(withKey.code, withKey.stdout).toBe(0)
    expect(await count(`${database}_k`)).toBe(50)
    const drill = await runDbhook(['drill'], keyed)
    expect(drill.code, drill.stdout).toBe(0)

    const withoutKey = await runDbhook(['restore', '--database', database, '--into', `${database}_nokey`], env)
    expect(withoutKey.code).toBe(1)
    expect(withoutKey.terminationMessage).toContain(`backup ${file} is encrypted: set DBHOOK_BACKUP_KEY_FILE`)
    const otherKey = join(scratch, unique('key'))
    await writeFile(otherKey, randomBytes(32))
    const wrongKey = await runDbhook(['restore', '--database', database, '--into', `${database}_wrong`], {
      ...env,
      DBHOOK_BACKUP_KEY_FILE: otherKey,
    })
    expect(wrongKey.code).toBe(1)
    expect(wrongKey.terminationMessage).toContain(`backup ${file} cannot be decrypted: the encrypted backup failed authentication`)
    expect(await databasesLike(`${database}_nokey`)).toEqual([])
    expect(await databasesLike(`${database}_wrong`)).toEqual([])

    await writeFile(otherKey, 'too short')
    const invalidKey = await runDbhook(['backup'], { ...env, DBHOOK_BACKUP_KEY_FILE: otherKey })
    expect(invalidKey.code).toBe(78)
    expect(invalidKey.terminationMessage).toContain('DBHOOK_BACKUP_KEY_FILE')
    expect(invalidKey.terminationMessage).not.toContain('too short')
  })

  test('restore never writes over an existing database; --replace refuses while a session is connected and names it', async () => {
    const { database, env, asOwner } = await provisioned(10)
    expect((await runDbhook(['backup'], env)).code).toBe(0)
    await server.query("INSERT INTO items (label) VALUES ('lost by the restore')", [], asOwner)

    const over = await runDbhook(['restore', '--database', database, '--into', database], env)
    expect(over.code).toBe(1)
    expect(over.terminationMessage).toContain('restore never writes over a database')

    const client = new pg.Client({ host: server.host, port: server.port, ...asOwner, application_name: 'the-app' })
    await client.connect()
    try {
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
      const refused = await runDbhook(['restore', '--database', database, '--replace'], env)
      expect(refused.code).toBe(1)
      expect(refused.terminationMessage).toContain(
        `refusing to replace "${database}": 1 other sessions are connected to it (pid ${pid} ${asOwner.user}@127.0.0.1/32 (the-app))`,
      )
      expect(await count(database)).toBe(11)
    } finally {
      await client.end()
    }
    const replaced = await runDbhook(['restore', '--database', database, '--replace'], env)
    expect(replaced.code, replaced.stdout).toBe(0)
    expect(await count(database)).toBe(10)
  })

  test('retention deletes backups older than DBHOOK_BACKUP_KEEP_DAYS only; the tools get the password in their environment, never as an argument', async () => {
    const { database, backupDir, env } = await provisioned(5)
    // Wrappers that record how dbhook runs the real tools.
    const tools = join(scratch, unique('tools'))
    const record = join(tools, 'calls.log')
    await mkdir(tools)
    for (const tool of ['pg_dump', 'pg_restore']) {
      const wrapper = join(tools, tool)
      await writeFile(wrapper, `#!/bin/sh\necho "${tool} $* PGPASSWORD=\${PGPASSWORD:+set}" >> ${record}\nexec /usr/bin/${tool} "$@"\n`)
      await chmod(wrapper, 0o755)
    }
    const first = await runDbhook(['backup'], { ...env, DBHOOK_PG_DUMP: join(tools, 'pg_dump') })
    expect(first.code, first.stdout).toBe(0)
    const calls = await readFile(record, 'utf8')
    expect(calls).toMatch(/^pg_dump --format=custom --no-password --snapshot=[0-9A-F-]+ PGPASSWORD=set$/m)
    expect(calls).toMatch(/^pg_restore --file=- PGPASSWORD=$/m)
    expect(calls).not.toContain(server.password)

    // Backups from before the retention window, one good (with its sidecar) and one without.
    const dir = join(backupDir, database)
    const current = backupFileOf(first, database).split('/').at(-1)!
    const old = [`${database}-20200101T000000Z.dump`, `${database}-20200102T000000Z.dump`]
    await copyFile(join(dir, current), join(dir, old[0]!))
    await writeFile(join(dir, `${old[0]}.sha256`), 'ignored\n')
    await copyFile(join(dir, current), join(dir, old[1]!))
    await writeFile(join(dir, 'notes.txt'), 'not a backup')
    const recent = `${database}-${new Date(Date.now() - 2 * 86_400_000)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}Z$/, 'Z')}.dump`
    await copyFile(join(dir, current), join(dir, recent))

    const second = await runDbhook(['backup'], { ...env, DBHOOK_BACKUP_KEEP_DAYS: '3' })
    expect(second.code, second.stdout).toBe(0)
    const newest = backupFileOf(second, database).split('/').at(-1)!
    const manifest = (dump: string) => dump.replace(/\.dump$/, '.manifest')
    expect((await readdir(dir)).sort()).toEqual(
      [current, `${current}.sha256`, manifest(current), newest, `${newest}.sha256`, manifest(newest), 'notes.txt', recent].sort(),
    )
  })

  test('the command line: restore needs --database, its options belong to restore, backup needs DBHOOK_BACKUP_DIR', async () => {
    const env = server.env('postgres', server.password, { DBHOOK_DATABASES: 'x' })
    expect((await runDbhook(['restore'], env)).code).toBe(64)
    expect((await runDbhook(['backup', '--into', 'y'], env)).code).toBe(64)
    expect((await runDbhook(['restore', '--database', 'x', '--bogus'], env)).code).toBe(64)
    const noDir = await runDbhook(['backup'], env)
    expect(noDir.code).toBe(78)
    expect(noDir.terminationMessage).toContain('DBHOOK_BACKUP_DIR is required')
  })
})
