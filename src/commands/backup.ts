import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { requiredBackupDir } from '../backup/backup-engine.ts'
import { loadBackupEngine } from '../engines/load-engine.ts'
import { expiredBackups, databaseBackupDir, listBackups, sidecarSuffix } from '../backup/backup-files.ts'
import { takeBackup } from '../backup/backup-operations.ts'
import type { RunContext } from '../engines/engine.ts'
import { ExitCode } from '../errors.ts'
import type { CommandResult } from './command-result.ts'

/**
 * `dbhook backup`: dumps every listed database into DBHOOK_BACKUP_DIR, checks each dump, then applies retention.
 * A database that fails does not stop the others; the run then exits 1 and names it.
 */
export async function runBackup(context: RunContext, _version?: string, now: () => Date = () => new Date()): Promise<CommandResult> {
  const { config, log } = context
  const backupDir = requiredBackupDir(config)
  const started = Date.now()
  const engine = await loadBackupEngine(context)
  // Waiting for the server the way apply does; the dump tools themselves would give up at once.
  const session = await engine.connect()
  const server = session.server
  await session.close()

  const databases: { key: string; name: string; result: string; file?: string; bytes?: number; deleted: number }[] = []
  for (const db of config.databases) {
    if (context.signal.aborted) throw context.signal.reason
    let entry: (typeof databases)[number]
    try {
      const taken = await takeBackup(engine, db.name, backupDir, config.backup.key, now)
      log.info({ database: db.name, file: taken.file, bytes: taken.bytes, encrypted: Boolean(config.backup.key) }, `backed up ${db.name} to ${taken.file}`)
      entry = { key: db.key, name: db.name, result: 'ok', file: taken.file, bytes: taken.bytes, deleted: 0 }
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason
      const reason = (error as Error).message
      log.error({ database: db.name }, reason)
      entry = { key: db.key, name: db.name, result: `failed: ${reason}`, deleted: 0 }
    }
    entry.deleted = await applyRetention(context, db.name, now())
    databases.push(entry)
  }
  const failed = databases.filter((db) => db.result !== 'ok')
  const outcome = databases.map((db) => (db.result === 'ok' ? `${db.name} ok (${db.file})` : `${db.name} ${db.result}`)).join('; ')
  log.info({ summary: true, server, databases, durationMs: Date.now() - started }, `backup finished: ${outcome}`)
  return { exitCode: failed.length > 0 ? ExitCode.failed : ExitCode.ok, outcome }
}

/** Deletes the backups (and sidecars) of `database` older than DBHOOK_BACKUP_KEEP_DAYS, keeping the newest good one. */
async function applyRetention(context: RunContext, database: string, now: Date): Promise<number> {
  const { config, log } = context
  const dir = databaseBackupDir(config.backup.dir!, database)
  const expired = expiredBackups(await listBackups(config.backup.dir!, database), now, config.backup.keepDays)
  for (const backup of expired) {
    await rm(join(dir, backup.name + sidecarSuffix), { force: true })
    await rm(join(dir, backup.name), { force: true })
    log.info({ database, file: join(dir, backup.name) }, `retention: deleted ${backup.name}, older than ${config.backup.keepDays} days`)
  }
  return expired.length
}
