import type { Readable, Writable } from 'node:stream'
import type { Config } from '../config/config.ts'
import { DbhookError, ExitCode } from '../errors.ts'
import type { Inventory, Manifest } from './backup-manifest.ts'

/**
 * What backup, restore and drill need from an engine: its client tools (run as child processes, the password in
 * their environment only) and an admin session for the statements around them.
 */
export interface BackupEngine {
  /** Reads a whole plaintext dump and throws, saying what is wrong, when it is not a complete dump. */
  check(input: Readable): Promise<void>
  /** An authenticated admin session, waiting for the server as apply does, able to act as the owner. */
  connect(): Promise<BackupSession>
}

export interface BackupSession {
  /** `PostgreSQL 15`, `MariaDB 10.11.6`. */
  readonly server: string
  /** Throws (before anything is written) when the dump tool cannot dump this server: pg_dump older than it. */
  readyToDump(): Promise<void>
  /**
   * Writes a dump of `database` to `output` (pg_dump -Fc, or mariadb-dump --single-transaction) and returns the
   * manifest of exactly what it holds: read in the dump's own snapshot, or counted from the dump itself.
   */
  dump(database: string, output: Writable): Promise<Manifest>
  /** Restores a plaintext dump file into the existing, empty `database`, its objects owned by the owner. */
  restore(file: string, database: string): Promise<void>
  databaseExists(name: string): Promise<boolean>
  /** Creates an empty database owned by (MySQL: granted to) the configured owner. */
  createDatabase(name: string): Promise<void>
  dropDatabase(name: string): Promise<void>
  /** Other sessions connected to `name`, each described for a person (`pid 123 app@10.0.0.5 (psql)`). */
  otherSessions(name: string): Promise<string[]>
  /** What `name` holds now: every table with its exact row count, the other objects, the sequences. */
  inventory(name: string): Promise<Inventory>
  /** Takes back whatever was lent for the run, and closes the session. */
  close(): Promise<void>
}

/** DBHOOK_BACKUP_DIR, which configuration already requires for backup and drill. */
export function requiredBackupDir(config: Config): string {
  if (!config.backup.dir) throw new DbhookError('DBHOOK_BACKUP_DIR is required', ExitCode.config)
  return config.backup.dir
}
