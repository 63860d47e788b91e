import { join } from 'node:path'
import { requiredBackupDir } from '../backup/backup-engine.ts'
import { loadBackupEngine } from '../engines/load-engine.ts'
import { backupTimestamp, databaseBackupDir, listBackups, newestGoodBackup } from '../backup/backup-files.ts'
import { prepareDump } from '../backup/backup-operations.ts'
import { engineRules } from '../config/engine-rules.ts'
import type { RunContext } from '../engines/engine.ts'
import { ExitCode } from '../errors.ts'
import type { CommandResult } from './command-result.ts'

interface DrillResult {
  readonly key: string
  readonly name: string
  readonly file?: string
  readonly result: 'passed' | 'failed'
  readonly tables?: number
  readonly rows?: number
  readonly problem?: string
}

/**
 * `dbhook drill`: restores the newest backup of each database into a scratch database, compares every table's
 * row count with the source, and drops the scratch database. Exit 0 only when every database matches.
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
      const dir = databaseBackupDir(backupDir, db.name)
      const newest = newestGoodBackup(await listBackups(backupDir, db.name))
      if (!newest) {
        results.push({ key: db.key, name: db.name, result: 'failed', problem: `no backup in ${dir}` })
        continue
      }
      const file = join(dir, newest.name)
      const stamp = backupTimestamp(new Date()).toLowerCase()
      const scratch = [`${db.name}_drill_${stamp}`, `dbhook_drill_${stamp}`].find((name) => !engineRules[config.engine].databaseNameProblem(name))!
      let created = false
      try {
        const dump = await prepareDump(engine, file, config.backup.key, true)
        try {
          await session.createDatabase(scratch)
          created = true
          await engine.restore(dump.path, scratch)
        } finally {
          await dump.cleanup()
        }
        const source = await session.rowCounts(db.name)
        const restored = await session.rowCounts(scratch)
        const differences = compareCounts(source, restored)
        const rows = [...restored.values()].reduce((sum, n) => sum + n, 0)
        results.push(
          differences.length === 0
            ? { key: db.key, name: db.name, file, result: 'passed', tables: restored.size, rows }
            : { key: db.key, name: db.name, file, result: 'failed', problem: `row counts differ from the source: ${differences.join(', ')}` },
        )
      } catch (error) {
        if (context.signal.aborted) throw error
        const reason = (error as Error).message
        results.push({ key: db.key, name: db.name, file, result: 'failed', problem: reason.includes(file) ? reason : `${file}: ${reason}` })
      } finally {
        if (created) await session.dropDatabase(scratch).catch((error: Error) => log.warn(`could not drop the scratch database ${scratch}: ${error.message}`))
      }
    }
  } finally {
    await session.close()
  }
  for (const r of results) if (r.result === 'failed') log.error({ database: r.name, file: r.file }, `drill failed for ${r.name}: ${r.problem}`)
  const failed = results.filter((r) => r.result === 'failed')
  const outcome = `${failed.length === 0 ? 'passed' : 'FAILED'}: ${results
    .map((r) => (r.result === 'passed' ? `${r.name} passed (${r.tables} tables, ${r.rows} rows from ${r.file})` : `${r.name} failed: ${r.problem}`))
    .join('; ')}`
  log.info({ summary: true, server: session.server, databases: results, durationMs: Date.now() - started }, `drill ${outcome}`)
  return { exitCode: failed.length === 0 ? ExitCode.ok : ExitCode.failed, outcome }
}

/** `table: source N, restored M` for every table whose counts differ or that exists on one side only. */
export function compareCounts(source: ReadonlyMap<string, number>, restored: ReadonlyMap<string, number>): string[] {
  const tables = [...new Set([...source.keys(), ...restored.keys()])].sort()
  return tables
    .filter((t) => source.get(t) !== restored.get(t))
    .map((t) => `${t}: source ${source.get(t) ?? 'missing'}, restored ${restored.get(t) ?? 'missing'}`)
}
