import { readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** `20261123T023000Z`: the UTC time a backup was started, to the second, as it appears in file names. */
export function backupTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')
}

/** The time in a `backupTimestamp`, or undefined when `text` is not one. */
export function parseBackupTimestamp(text: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (!match) return undefined
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[]
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!))
  return Number.isNaN(date.getTime()) || backupTimestamp(date) !== text ? undefined : date
}

/** `<dir>/<database>`: one folder per database. */
export function databaseBackupDir(backupDir: string, database: string): string {
  return join(backupDir, database)
}

/** `<database>-<timestamp>.dump`. */
export function backupFileName(database: string, started: Date): string {
  return `${database}-${backupTimestamp(started)}.dump`
}

export const sidecarSuffix = '.sha256'

/** One backup file found on disk. `good` means its SHA-256 sidecar exists, which backup writes last. */
export interface BackupFile {
  readonly name: string
  readonly takenAt: Date
  readonly good: boolean
}

/** The backups of `database` among the names of its folder, oldest first. Other files are ignored. */
export function backupsAmong(database: string, names: readonly string[]): BackupFile[] {
  const present = new Set(names)
  const prefix = `${database}-`
  const found: BackupFile[] = []
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.dump')) continue
    const takenAt = parseBackupTimestamp(name.slice(prefix.length, -'.dump'.length))
    if (takenAt) found.push({ name, takenAt, good: present.has(name + sidecarSuffix) })
  }
  return found.sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime())
}

/** Lists the backups of `database` in its folder (none when the folder does not exist). */
export async function listBackups(backupDir: string, database: string): Promise<BackupFile[]> {
  const names = await readdir(databaseBackupDir(backupDir, database)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[]
    throw error
  })
  return backupsAmong(database, names)
}

export function newestGoodBackup(backups: readonly BackupFile[]): BackupFile | undefined {
  return backups.filter((b) => b.good).at(-1)
}

/**
 * The backups retention deletes: those taken more than `keepDays` days before `now`, except the newest good
 * backup, which is kept however old it is (a database whose backups have been failing for a week still has one).
 */
export function expiredBackups(backups: readonly BackupFile[], now: Date, keepDays: number): BackupFile[] {
  const cutoff = now.getTime() - keepDays * 86_400_000
  const newest = newestGoodBackup(backups)
  return backups.filter((b) => b !== newest && b.takenAt.getTime() < cutoff)
}
