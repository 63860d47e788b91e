import type { Readable, Writable } from 'node:stream'
import type { Config } from '../config/config.ts'
import { DbhookError, ExitCode } from '../errors.ts'

/**
 * What backup, restore and drill need from an engine: its client tools (run as child processes, the password in
 * their environment only) and an admin session for the few statements around them.
 */
export interface BackupEngine {
  /** Writes a dump of `database` to `output`: pg_dump -Fc, or mariadb-dump --single-transaction. */
  dump(database: string, output: Writable): Promise<void>
  /** Reads a whole plaintext dump and throws, saying what is wrong, when it is not a complete dump. */
  check(input: Readable): Promise<void>
  /** Restores a plaintext dump file into the existing, empty `database`. */
  restore(file: string, database: string): Promise<void>
  /** An authenticated admin session, waiting for the server as apply does. */
  connect(): Promise<BackupSession>
}

export interface BackupSession {
  /** `PostgreSQL 15`, `MariaDB 10.11.6`. */
  readonly server: string
  databaseExists(name: string): Promise<boolean>
  /** Creates an empty database owned by (MySQL: granted to) the configured owner. */
  createDatabase(name: string): Promise<void>
  dropDatabase(name: string): Promise<void>
  /** Other sessions connected to `name`, each described for a person (`pid 123 app@10.0.0.5 (psql)`). */
  otherSessions(name: string): Promise<string[]>
  /** Exact row count of every table in `name`, keyed `schema.table`. */
  rowCounts(name: string): Promise<Map<string, number>>
  close(): Promise<void>
}

/** DBHOOK_BACKUP_DIR, which configuration already requires for backup and drill. */
export function requiredBackupDir(config: Config): string {
  if (!config.backup.dir) throw new DbhookError('DBHOOK_BACKUP_DIR is required', ExitCode.config)
  return config.backup.dir
}
