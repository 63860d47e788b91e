import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { requiredBackupDir } from '../backup/backup-engine.ts'
import { loadBackupEngine } from '../engines/load-engine.ts'
import { expiredBackups, databaseBackupDir, listBackups, manifestFileName, sidecarSuffix } from '../backup/backup-files.ts'
import { totalRows } from '../backup/backup-manifest.ts'
import { takeBackup } from '../backup/backup-operations.ts'
import type { RunContext } from '../engines/engine.ts'
import { ExitCode } from '../errors.ts'
import type { CommandResult } from './command-result.ts'

interface BackupEntry {
  readonly key: string
  readonly name: string
  readonly result: string
  readonly file?: string
  readonly bytes?: number
  /** When the snapshot the dump holds was taken. */
  readonly snapshotAt?: string
  readonly tables?: number
  readonly rows?: number
  deleted: number
}

/**
 * `dbhook backup`: dumps every listed database into DBHOOK_BACKUP_DIR with the manifest of what each dump holds,
 * checks each dump, then applies retention. A database that fails does not stop the others; the run then exits 1
 * and names it.
 */
export async function runBackup(context: RunContext, _version?: string, now: () => Date = () => new Date()): Promise<CommandResult> {
  const { config, log } = context
  const backupDir = requiredBackupDir(config)
  const started = Date.now()
  const engine = await loadBackupEngine(context)
  // Waiting for the server the way apply does; the dump tools themselves would give up at once.
  const session = await engine.connect()
  const databases: BackupEntry[] = []
  try {
    await session.readyToDump()
    for (const db of config.databases) {
      if (context.signal.aborted) throw context.signal.reason
      let entry: BackupEntry
      try {
        const taken = await takeBackup(engine, session, db.name, backupDir, config.backup.key, now)
        const { inventory, snapshotAt } = taken.manifest
        const rows = totalRows(inventory)
        log.info(
          {
            database: db.name,
            file: taken.file,
            bytes: taken.bytes,
            encrypted: Boolean(config.backup.key),
            tables: inventory.tables.size,
            rows,
          },
          `backed up ${db.name} to ${taken.file}: ${inventory.tables.size} tables, ${rows} rows as of ${snapshotAt.toISOString()}`,
        )
        entry = {
          key: db.key,
          name: db.name,
          result: 'ok',
          file: taken.file,
          bytes: taken.bytes,
          snapshotAt: snapshotAt.toISOString(),
          tables: inventory.tables.size,
          rows,
          deleted: 0,
        }
      } catch (error) {
        if (context.signal.aborted) throw context.signal.reason
        const reason = (error as Error).message
        log.error({ database: db.name }, reason)
        entry = { key: db.key, name: db.name, result: `failed: ${reason}`, deleted: 0 }
      }
      entry.deleted = await applyRetention(context, db.name, now())
      databases.push(entry)
    }
  } finally {
    await session.close()
  }
  const failed = databases.filter((db) => db.result !== 'ok')
  const outcome = databases.map((db) => (db.result === 'ok' ? `${db.name} ok (${db.file})` : `${db.name} ${db.result}`)).join('; ')
  log.info({ summary: true, server: session.server, databases, durationMs: Date.now() - started }, `backup finished: ${outcome}`)
  return { exitCode: failed.length > 0 ? ExitCode.failed : ExitCode.ok, outcome }
}

/** Deletes the backups (sidecars, manifests) of `database` older than DBHOOK_BACKUP_KEEP_DAYS, keeping the newest good one. */
async function applyRetention(context: RunContext, database: string, now: Date): Promise<number> {
  const { config, log } = context
  const dir = databaseBackupDir(config.backup.dir!, database)
  const expired = expiredBackups(await listBackups(config.backup.dir!, database), now, config.backup.keepDays)
  for (const backup of expired) {
    // The sidecar first: a backup half deleted is no longer good.
    await rm(join(dir, backup.name + sidecarSuffix), { force: true })
    await rm(join(dir, manifestFileName(backup.name)), { force: true })
    await rm(join(dir, backup.name), { force: true })
    log.info({ database, file: join(dir, backup.name) }, `retention: deleted ${backup.name}, older than ${config.backup.keepDays} days`)
  }
  return expired.length
}
