import type { BackupEngine } from '../backup/backup-engine.ts'
import type { Config } from '../config/config.ts'
import type { EngineAdapter, RunContext } from './engine.ts'

/** Loads only the engine the configuration names, so the other driver is never parsed. */
export async function loadEngine(config: Config): Promise<EngineAdapter> {
  switch (config.engine) {
    case 'postgres':
      return (await import('./postgres/postgres-adapter.ts')).postgresAdapter
    case 'mysql':
      return (await import('./mysql/mysql-adapter.ts')).mysqlAdapter
    case 'spanner':
      return (await import('./spanner/spanner-adapter.ts')).spannerAdapter
    default:
      throw new Error(`unknown engine ${JSON.stringify(config.engine satisfies never)}`)
  }
}

/** The configured engine's backup side, through the same adapter every other command loads. */
export async function loadBackupEngine(context: RunContext): Promise<BackupEngine> {
  return (await loadEngine(context.config)).backup(context)
}
