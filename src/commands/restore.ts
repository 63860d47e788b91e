import { requiredBackupDir, type BackupSession } from '../backup/backup-engine.ts'
import { loadBackupEngine } from '../engines/load-engine.ts'
import { backupTimestamp, databaseBackupDir, listBackups, newestGoodBackup } from '../backup/backup-files.ts'
import { prepareDump } from '../backup/backup-operations.ts'
import { join } from 'node:path'
import type { Config } from '../config/config.ts'
import { engineRules } from '../config-rules.ts'
import type { RunContext } from '../engines/engine.ts'
import { DbhookError, ExitCode } from '../errors.ts'
import type { CommandOptions, CommandResult } from './command-result.ts'

/**
 * `dbhook restore --database NAME [--from FILE|latest] [--into NAME] [--replace]`: restores a backup into a new
 * database owned by the owner. An existing target is only replaced with --replace, and never while other
 * sessions are connected to it.
 */
export async function runRestore(context: RunContext, _version: string, options: CommandOptions): Promise<CommandResult> {
  const { config, log } = context
  const started = Date.now()
  const database = listedDatabase(config, options.database)
  const engine = await loadBackupEngine(context)
  const file = await chosenBackup(config, database, options.from)
  const target = options.into ?? (options.replace ? database : `${database}_restore_${backupTimestamp(new Date()).toLowerCase()}`)
  const nameProblem = engineRules[config.engine].databaseNameProblem(target)
  if (nameProblem) throw new DbhookError(`--into ${JSON.stringify(target)} ${nameProblem}`, ExitCode.usage)

  const dump = await prepareDump(engine, file, config.backup.key, false)
  const session = await engine.connect().catch(async (error: unknown) => {
    await dump.cleanup()
    throw error
  })
  if (dump.sidecar === 'no sidecar') log.warn(`${file} has no SHA-256 sidecar: restoring it unchecked against one`)
  try {
    await restoreInto(context, session, dump.path, target, options.replace === true)
  } finally {
    await dump.cleanup()
    await session.close()
  }
  const outcome = `restored ${file} into ${target}`
  log.info({ summary: true, database, file, into: target, durationMs: Date.now() - started }, `restore finished: ${outcome}`)
  return { exitCode: ExitCode.ok, outcome }
}

/** The listed database `--database` names, by name or by key. */
function listedDatabase(config: Config, wanted: string | undefined): string {
  const found = config.databases.find((db) => db.name === wanted) ?? config.databases.find((db) => db.key === wanted)
  if (!found) {
    throw new DbhookError(
      `--database ${JSON.stringify(wanted ?? '')} is not among DBHOOK_DATABASES (${config.databases.map((db) => db.name).join(', ')})`,
      ExitCode.usage,
    )
  }
  return found.name
}

async function chosenBackup(config: Config, database: string, from: string | undefined): Promise<string> {
  if (from !== undefined && from !== 'latest') return from
  const dir = requiredBackupDir(config)
  const newest = newestGoodBackup(await listBackups(dir, database))
  if (!newest) throw new DbhookError(`no backup of ${JSON.stringify(database)} in ${databaseBackupDir(dir, database)}`, ExitCode.failed)
  return join(databaseBackupDir(dir, database), newest.name)
}

async function restoreInto(context: RunContext, session: BackupSession, dump: string, target: string, replace: boolean): Promise<void> {
  const { log } = context
  if (await session.databaseExists(target)) {
    if (!replace) {
      throw new DbhookError(
        `database ${JSON.stringify(target)} exists: restore never writes over a database; choose another --into, or add --replace to drop and restore it`,
        ExitCode.failed,
      )
    }
    const others = await session.otherSessions(target)
    if (others.length > 0) {
      throw new DbhookError(
        `refusing to replace ${JSON.stringify(target)}: ${others.length} other sessions are connected to it (${others.join(', ')}); stop the application (scale it to zero) and run restore again`,
        ExitCode.failed,
      )
    }
    log.warn(`--replace: dropping database ${target}`)
    await session.dropDatabase(target)
  }
  await session.createDatabase(target)
  try {
    await session.restore(dump, target)
  } catch (error) {
    await session.dropDatabase(target).catch(() => undefined)
    throw new DbhookError(
      `restore into ${JSON.stringify(target)} failed and the database was dropped again: ${(error as Error).message}`,
      ExitCode.failed,
      { cause: error },
    )
  }
}
