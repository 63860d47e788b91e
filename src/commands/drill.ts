import { join } from 'node:path'
import { requiredBackupDir, type BackupEngine, type BackupSession } from '../backup/backup-engine.ts'
import { loadBackupEngine } from '../engines/load-engine.ts'
import { formatAge, formatBytes, formatCount, formatDuration, formatInstant } from '../backup/backup-figures.ts'
import { backupTimestamp, databaseBackupDir, listBackups, newestFinishedBackup } from '../backup/backup-files.ts'
import { compareWithManifest, totalRows } from '../backup/backup-manifest.ts'
import { prepareDump } from '../backup/backup-operations.ts'
import { engineRules } from '../config-rules.ts'
import type { DatabaseSpec } from '../config/databases.ts'
import type { RunContext } from '../engines/engine.ts'
import { ExitCode } from '../errors.ts'
import type { CommandResult } from './command-result.ts'

interface DrillResult {
  readonly key: string
  readonly name: string
  readonly file?: string
  readonly result: 'passed' | 'failed'
  /** What the restore was compared with: the backup's manifest, or (old backups without one) the live source. */
  readonly comparedWith?: 'manifest' | 'source'
  /** When the snapshot the backup holds was taken, and how old it was at the drill (the RPO at that moment). */
  readonly snapshotAt?: string
  readonly ageMs?: number
  readonly bytes?: number
  readonly tables?: number
  readonly rows?: number
  /** How long the restore took: the RTO this backup gives. */
  readonly restoreMs?: number
  readonly problem?: string
}

/** Differences named in one message; the rest are counted. */
const differencesShown = 10

/**
 * `dbhook drill`: restores the newest backup of each database into a scratch database, compares it with the
 * manifest recorded in the backup's own snapshot (never with the live source, which moves on), and drops the
 * scratch database. Exit 0 only when every database matches.
 */
export async function runDrill(context: RunContext): Promise<CommandResult> {
  const { config, log } = context
  const backupDir = requiredBackupDir(config)
  const started = Date.now()
  const engine = await loadBackupEngine(context)
  const session = await engine.connect()
  const results: DrillResult[] = []
  try {
    for (const db of config.databases) {
      if (context.signal.aborted) throw context.signal.reason
      results.push(await drillOne(context, engine, session, db, backupDir))
    }
  } finally {
    await session.close()
  }
  for (const r of results)
    if (r.result === 'failed') log.error({ database: r.name, file: r.file }, `drill failed for ${r.name}: ${r.problem}`)
  const failed = results.filter((r) => r.result === 'failed')
  const outcome = `${failed.length === 0 ? 'passed' : 'FAILED'}: ${results.map(describeResult).join('; ')}`
  log.info({ summary: true, server: session.server, databases: results, durationMs: Date.now() - started }, `drill ${outcome}`)
  return { exitCode: failed.length === 0 ? ExitCode.ok : ExitCode.failed, outcome }
}

/** `openzro from 2026-12-01T02:00:00Z (26 h old), 57 tables, 1,203,441 rows, 48.2 MiB, restored in 41 s`. */
function describeResult(r: DrillResult): string {
  if (r.result === 'failed') return `${r.name} failed: ${r.problem}`
  return (
    `${r.name} from ${r.snapshotAt} (${formatAge(r.ageMs!)} old), ${formatCount(r.tables!)} tables, ${formatCount(r.rows!)} rows, ` +
    `${formatBytes(r.bytes!)}, restored in ${formatDuration(r.restoreMs!)}${r.comparedWith === 'source' ? ' (no manifest: compared with the source)' : ''}`
  )
}

async function drillOne(
  context: RunContext,
  engine: BackupEngine,
  session: BackupSession,
  db: DatabaseSpec,
  backupDir: string,
): Promise<DrillResult> {
  const { config, log } = context
  const dir = databaseBackupDir(backupDir, db.name)
  // The newest backup that finished, good or not: a newest backup with its manifest missing fails the drill
  // rather than letting an older one pass in its place.
  const newest = newestFinishedBackup(await listBackups(backupDir, db.name))
  if (!newest) return { key: db.key, name: db.name, result: 'failed', problem: `no backup in ${dir}` }
  const file = join(dir, newest.name)
  const stamp = backupTimestamp(new Date()).toLowerCase()
  const scratch = [`${db.name}_drill_${stamp}`, `dbhook_drill_${stamp}`].find(
    (name) => !engineRules[config.engine].databaseNameProblem(name),
  )!
  let created = false
  try {
    const dump = await prepareDump(engine, file, config.backup.key, true)
    let restoreMs: number
    try {
      await session.createDatabase(scratch)
      created = true
      const restoreStarted = Date.now()
      await session.restore(dump.path, scratch)
      restoreMs = Date.now() - restoreStarted
    } finally {
      await dump.cleanup()
    }
    const restored = await session.inventory(scratch)
    const { manifest } = dump
    let differences: string[]
    if (manifest) {
      differences = compareWithManifest(manifest.inventory, restored)
    } else {
      log.warn(
        `backup ${file} has no manifest (it was made by a dbhook that wrote none): comparing the restore with the source as it is now, ` +
          'which fails when the source was written since the backup; the next backup has a manifest',
      )
      differences = compareCounts((await session.inventory(db.name)).tables, restored.tables)
    }
    if (differences.length > 0) {
      const shown = differences.slice(0, differencesShown).join('; ')
      const more = differences.length > differencesShown ? `; and ${differences.length - differencesShown} more` : ''
      const against = manifest ? 'differs from its manifest' : 'differs from the source (it has no manifest)'
      return { key: db.key, name: db.name, file, result: 'failed', problem: `the restore of ${file} ${against}: ${shown}${more}` }
    }
    const snapshotAt = manifest?.snapshotAt ?? newest.takenAt
    return {
      key: db.key,
      name: db.name,
      file,
      result: 'passed',
      comparedWith: manifest ? 'manifest' : 'source',
      snapshotAt: formatInstant(snapshotAt),
      ageMs: Date.now() - snapshotAt.getTime(),
      bytes: dump.bytes,
      tables: restored.tables.size,
      rows: totalRows(restored),
      restoreMs,
    }
  } catch (error) {
    if (context.signal.aborted) throw error
    const reason = (error as Error).message
    return { key: db.key, name: db.name, file, result: 'failed', problem: reason.includes(file) ? reason : `${file}: ${reason}` }
  } finally {
    if (created)
      await session
        .dropDatabase(scratch)
        .catch((error: Error) => log.warn(`could not drop the scratch database ${scratch}: ${error.message}`))
  }
}

/** `table: source N, restored M` for every table whose counts differ or that exists on one side only. */
export function compareCounts(source: ReadonlyMap<string, number>, restored: ReadonlyMap<string, number>): string[] {
  const tables = [...new Set([...source.keys(), ...restored.keys()])].sort()
  return tables
    .filter((t) => source.get(t) !== restored.get(t))
    .map((t) => `${t}: source ${source.get(t) ?? 'missing'}, restored ${restored.get(t) ?? 'missing'}`)
}
