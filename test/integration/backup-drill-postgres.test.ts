import { createHash, randomBytes } from 'node:crypto'
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, type RunResult } from '../support/dbhook.ts'
import { startPostgres, testedMajors, type PostgresServer } from '../support/postgres.ts'
import { backupFileOf, debianTools, manifestOf, pgDumpFor, startWriter, summaryOf } from './backup-support.ts'

// 13 with Debian's pg_dump 15; 16 and 18 with PostgreSQL 18's tools (pg_restore 18 into 16 goes through psql).
const majors = testedMajors().filter((m) => m === 13 || m === 16 || m === 18)

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex')

/** Rewrites a backup's sidecar to match its files as they are now (`withManifest: false`: as an old dbhook wrote it). */
async function resealSidecar(dump: string, withManifest = true): Promise<void> {
  const lines = [`${await sha256(dump)}  ${basename(dump)}`]
  if (withManifest) lines.push(`${await sha256(manifestOf(dump))}  ${basename(manifestOf(dump))}`)
  await writeFile(`${dump}.sha256`, `${lines.join('\n')}\n`)
}

describe.each(majors)('the drill of a live database on PostgreSQL %i, by an admin that is not a superuser', (major) => {
  let server: PostgresServer
  let scratch: string
  const admin = 'drill_admin'
  const adminPassword = `Adm-${randomBytes(6).toString('hex')}`
  let counter = 0

  beforeAll(async () => {
    server = await startPostgres(major)
    scratch = await mkdtemp(join(tmpdir(), 'dbhook-drill-test-'))
    await server.query(`CREATE ROLE ${admin} LOGIN CREATEDB CREATEROLE PASSWORD '${adminPassword}'`)
  })
  afterAll(async () => {
    await server?.stop()
    if (scratch) await rm(scratch, { recursive: true, force: true })
  })

  const memberships = async () =>
    (
      await server.query<{ m: string }>(
        `SELECT roleid::regrole::text || ' ' || grantor::regrole::text AS m FROM pg_auth_members WHERE member = '${admin}'::regrole ORDER BY 1`,
      )
    ).map((r) => r.m)
  const lendings = async () =>
    (await server.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname LIKE 'dbhook\\_lent\\_%'")).map((r) => r.rolname)
  const scratchDatabases = async () =>
    (await server.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE '%drill%'")).map((r) => r.datname)

  /**
   * A database provisioned by the admin (which creates the owner), owned by the owner, holding 3000 rows in
   * public.items, a few in app.notes, a view, a function and pg_trgm. `env` is what the chart's CronJobs get: the
   * admin's login and no owner password, so the owner must be lent; `ownerEnv` adds the owner's password.
   */
  async function provisioned() {
    counter += 1
    const owner = `owner_${counter}`
    const database = `shop_${counter}`
    const ownerPassword = `Own-${randomBytes(6).toString('hex')}`
    const common = {
      DBHOOK_OWNER: owner,
      DBHOOK_DATABASES: database,
      DBHOOK_BACKUP_DIR: join(scratch, `backups_${counter}`),
      DBHOOK_PG_DUMP: pgDumpFor(major),
    }
    const applied = await runDbhook(
      ['apply'],
      server.env(admin, adminPassword, { ...common, DBHOOK_OWNER_PASSWORD: ownerPassword, DBHOOK_EXTENSIONS: 'pg_trgm' }),
    )
    expect(applied.code, applied.stdout).toBe(0)
    const asOwner = { database, user: owner, password: ownerPassword }
    await server.query(
      `CREATE TABLE items (id bigserial PRIMARY KEY, label text NOT NULL);
       INSERT INTO items (label) SELECT 'item ' || g FROM generate_series(1, 3000) g;
       CREATE SCHEMA app;
       CREATE TABLE app.notes (id serial PRIMARY KEY, body text);
       INSERT INTO app.notes (body) VALUES ('a'), ('b');
       CREATE VIEW app.recent AS SELECT * FROM items WHERE id > 2990;
       CREATE FUNCTION app.label_of(bigint) RETURNS text LANGUAGE sql AS 'SELECT label FROM public.items WHERE id = $1'`,
      [],
      asOwner,
    )
    const env = server.env(admin, adminPassword, common)
    return { owner, database, env, ownerEnv: { ...env, DBHOOK_OWNER_PASSWORD: ownerPassword }, asOwner }
  }

  test('a writer inserts, updates and deletes all along; every drill passes against the manifest, with encryption and without', async () => {
    const { database, env, ownerEnv, asOwner } = await provisioned()
    const before = await memberships()
    const keyFile = join(scratch, `key_${counter}`)
    await writeFile(keyFile, randomBytes(32).toString('hex'))
    const client = new pg.Client({ host: server.host, port: server.port, ...asOwner })
    await client.connect()
    const writer = startWriter(async (n) => {
      if (n % 3 === 0) await client.query("INSERT INTO items (label) VALUES ('new'), ('new')")
      else if (n % 3 === 1) await client.query("UPDATE items SET label = label || '+' WHERE id = (SELECT max(id) FROM items)")
      else await client.query("DELETE FROM items WHERE id = (SELECT min(id) FROM items); INSERT INTO app.notes (body) VALUES ('more')")
    })
    const drills: RunResult[] = []
    try {
      // The chart's way (no owner password: the owner is lent for the run), encrypted; then the owner's own login.
      for (const [runEnv, drillsInARow] of [
        [{ ...env, DBHOOK_BACKUP_KEY_FILE: keyFile }, 3],
        [ownerEnv, 2],
      ] as const) {
        const written = writer.writes()
        const backup = await runDbhook(['backup'], runEnv)
        expect(backup.code, backup.stdout).toBe(0)
        expect(writer.writes()).toBeGreaterThan(written)
        const taken = summaryOf(backup, database)
        expect(summaryOf(backup, database)).toMatchObject({ result: 'ok', tables: 2 })
        expect(backup.logs.find((l) => l.summary)?.server).toBe(`PostgreSQL ${major}`)
        for (let i = 0; i < drillsInARow; i += 1) {
          const writesBefore = writer.writes()
          const drill = await runDbhook(['drill'], runEnv)
          expect(drill.code, drill.stdout).toBe(0)
          expect(writer.writes()).toBeGreaterThan(writesBefore)
          expect(drill.terminationMessage.trimEnd()).toMatch(
            new RegExp(
              `^drill: passed: ${database} from \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\(\\d+ min old\\), 2 tables, [\\d,]+ rows, [\\d.]+ (KiB|MiB), restored in [\\d.]+ s$`,
            ),
          )
          const drilled = summaryOf(drill, database)
          expect(drilled).toMatchObject({ result: 'passed', comparedWith: 'manifest', file: taken.file, rows: taken.rows, tables: 2 })
          expect(drill.logs.find((l) => l.summary)?.server).toBe(`PostgreSQL ${major}`)
          drills.push(drill)
        }
      }
    } finally {
      await writer.stop().finally(() => client.end())
    }
    // The source moved on: a comparison with it would have failed.
    const live = Number(
      (await server.query<{ n: string }>('SELECT (SELECT count(*) FROM items) + (SELECT count(*) FROM app.notes) AS n', [], asOwner))[0]?.n,
    )
    expect(live).not.toBe(summaryOf(drills.at(-1)!, database).rows)
    const said = (run: RunResult, start: string) => run.logs.some((line) => String(line.msg).startsWith(start))
    expect(said(drills[0]!, `lent "${admin}" the role "${asOwner.user}" for this run`)).toBe(true)
    expect(said(drills.at(-1)!, 'lent ')).toBe(false)
    expect(await lendings()).toEqual([])
    expect(await memberships()).toEqual(before)
    expect(await scratchDatabases()).toEqual([])
    // Objects restore owned by the owner: a restore the owner can write in.
    const restore = await runDbhook(
      ['restore', '--database', database, '--into', `${database}_copy`, '--from', String(summaryOf(drills.at(-1)!, database).file)],
      ownerEnv,
    )
    expect(restore.code, restore.stdout).toBe(0)
    const owners = await server.query<{ owner: string }>(
      "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relnamespace IN ('public'::regnamespace, 'app'::regnamespace)",
      [],
      { database: `${database}_copy` },
    )
    expect(owners).toEqual([{ owner: asOwner.user }])
    await server.query("INSERT INTO items (label) VALUES ('x')", [], { ...asOwner, database: `${database}_copy` })
  }, 300_000)

  test('a missing manifest, a changed count, a dump without a table and a truncated dump each fail the drill, naming the file; an old backup without a manifest is compared with the source', async () => {
    const { database, env } = await provisioned()
    const backup = await runDbhook(['backup'], env)
    expect(backup.code, backup.stdout).toBe(0)
    const file = backupFileOf(backup, database)
    const manifest = manifestOf(file)
    const original = join(scratch, `original_${counter}`)
    await copyFile(file, original)
    const drillFails = async (expected: string) => {
      const drill = await runDbhook(['drill'], env)
      expect(drill.code, drill.stdout).toBe(1)
      expect(drill.terminationMessage).toContain(expected)
    }

    await rename(manifest, `${manifest}.away`)
    await drillFails(`backup ${file} is incomplete: ${manifest}, which its sidecar lists, does not exist`)
    await rename(`${manifest}.away`, manifest)

    const recorded = await readFile(manifest, 'utf8')
    await writeFile(manifest, recorded.replace(/("name": "public.items",\n\s*"rows": )3000/, '$13001'))
    await resealSidecar(file)
    await drillFails(`the restore of ${file} differs from its manifest: table public.items has 3000 rows, the manifest 3001`)
    await writeFile(manifest, recorded)

    // A dump of the same data without app.notes, sealed as if it were the backup.
    const { spawnSync } = await import('node:child_process')
    const dumped = spawnSync(pgDumpFor(major), ['--format=custom', '--exclude-table=app.notes', `--file=${file}`], {
      env: { PGHOST: server.host, PGPORT: String(server.port), PGUSER: 'postgres', PGPASSWORD: server.password, PGDATABASE: database },
    })
    expect(dumped.status, dumped.stderr.toString()).toBe(0)
    await resealSidecar(file)
    await drillFails(`the restore of ${file} differs from its manifest: table app.notes is missing`)

    await copyFile(original, file)
    await truncate(file, Math.floor((await readFile(file)).length / 2))
    await drillFails(`backup ${file} is damaged or truncated`)

    await copyFile(original, file)
    await rm(manifest)
    await resealSidecar(file, false)
    const old = await runDbhook(['drill'], env)
    expect(old.code, old.stdout).toBe(0)
    expect(old.logs.some((line) => line.level === 'warn' && String(line.msg).startsWith(`backup ${file} has no manifest`))).toBe(true)
    expect(old.terminationMessage).toContain('(no manifest: compared with the source)')
    expect(await scratchDatabases()).toEqual([])
  }, 300_000)

  test('a backup stopped by SIGTERM takes the lent role back; one killed by SIGKILL leaves it to the next run, which drops it', async () => {
    const { env } = await provisioned()
    const before = await memberships()
    // A pg_dump that waits to be let go, so that the run is surely mid-dump (lent) when the signal comes.
    const tools = join(scratch, `tools_${counter}`)
    await mkdir(tools)
    const real = pgDumpFor(major)
    await writeFile(
      join(tools, 'pg_dump'),
      `#!/bin/sh\ncase "$1" in --version) exec ${real} "$@";; esac\necho $$ > ${tools}/started\nwhile [ ! -e ${tools}/go ]; do sleep 0.1; done\nexec ${real} "$@"\n`,
    )
    await chmod(join(tools, 'pg_dump'), 0o755)
    for (const tool of ['pg_restore', 'psql']) await symlink(join(dirname(real), tool), join(tools, tool))
    const waiting = { ...env, DBHOOK_PG_DUMP: join(tools, 'pg_dump') }
    const untilStarted = async () => {
      for (let i = 0; i < 600 && !existsSync(join(tools, 'started')); i += 1) await new Promise((r) => setTimeout(r, 100))
      expect(existsSync(join(tools, 'started'))).toBe(true)
      expect(await lendings()).toHaveLength(1)
    }

    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      await rm(join(tools, 'started'), { force: true })
      let pid = 0
      const running = runDbhook(['backup'], waiting, { onSpawn: (p) => (pid = p) })
      await untilStarted()
      process.kill(pid, signal)
      const stopped = await running
      const wrapper = Number((await readFile(join(tools, 'started'), 'utf8')).trim())
      try {
        process.kill(wrapper, 'SIGKILL')
      } catch {
        // already gone with dbhook
      }
      if (signal === 'SIGTERM') {
        expect(stopped.code).toBe(143)
        expect(await lendings()).toEqual([])
      } else {
        expect(stopped.signal).toBe('SIGKILL')
        expect(await lendings()).toHaveLength(1)
      }
    }
    const next = await runDbhook(['backup'], env)
    expect(next.code, next.stdout).toBe(0)
    expect(next.stdout).toMatch(/dropped dbhook_lent_[0-9a-f]+, a lending of the owner left behind by a dbhook run that was killed/)
    expect(await lendings()).toEqual([])
    expect(await memberships()).toEqual(before)
  }, 300_000)

  test('an extension the new database already has from template1, owned by the superuser, does not fail the restore on its COMMENT', async () => {
    // COMMENT ON EXTENSION needs the extension's owner; a drill that is not a superuser leaves it out.
    await server.query('CREATE EXTENSION IF NOT EXISTS pg_trgm', [], { database: 'template1' })
    try {
      const { database, env } = await provisioned()
      const backup = await runDbhook(['backup'], env)
      expect(backup.code, backup.stdout).toBe(0)
      const drill = await runDbhook(['drill'], env)
      expect(drill.code, drill.stdout).toBe(0)
      expect(summaryOf(drill, database)).toMatchObject({ result: 'passed', comparedWith: 'manifest' })
    } finally {
      await server.query('DROP EXTENSION pg_trgm', [], { database: 'template1' })
    }
  })

  // Only servers newer than Debian's pg_dump have something to refuse.
  if (major > 15)
    test("Debian's pg_dump 15 is refused before anything is written, naming both versions", async () => {
      const { env } = await provisioned()
      const refused = await runDbhook(['backup'], { ...env, DBHOOK_PG_DUMP: join(debianTools, 'pg_dump') })
      expect(refused.code, refused.stdout).toBe(78)
      expect(refused.terminationMessage).toContain(`is pg_dump 15 (pg_dump (PostgreSQL) 15.`)
      expect(refused.terminationMessage).toContain(`older than the server, PostgreSQL ${major}`)
      expect(existsSync(env.DBHOOK_BACKUP_DIR!)).toBe(false)
    })
})
