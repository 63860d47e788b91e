import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** `20261123T023000Z`: the UTC time a backup was started, to the second, as it appears in file names. */
export function backupTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z')
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
const manifestSuffix = '.manifest'

/** One line of a sidecar: a file in the same folder as the dump, and its SHA-256. */
export interface SidecarEntry {
  readonly name: string
  readonly digest: string
}

/** The entries of a sidecar's text; the first names the dump. Lines that are not `<sha256>  <name>` are skipped. */
export function parseSidecar(text: string): SidecarEntry[] {
  const entries: SidecarEntry[] = []
  for (const line of text.split('\n')) {
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trimEnd())
    if (match) entries.push({ digest: match[1]!.toLowerCase(), name: match[2]! })
  }
  return entries
}

/** The names a sidecar lists besides the dump, or undefined when it cannot be read. */
async function sidecarCompanions(file: string): Promise<string[] | undefined> {
  const text = await readFile(file + sidecarSuffix, 'utf8').catch(() => undefined)
  return text === undefined
    ? undefined
    : parseSidecar(text)
        .slice(1)
        .map((entry) => entry.name)
}

/** `<database>-<timestamp>.manifest` beside `<database>-<timestamp>.dump`. */
export function manifestFileName(dumpName: string): string {
  return dumpName.replace(/\.dump$/, '') + manifestSuffix
}

/**
 * One backup found on disk. `finished`: its SHA-256 sidecar exists, which backup writes last. `good`: finished,
 * and every file the sidecar lists with the dump (its manifest) is there too. A sidecar that lists only the dump
 * comes from a dbhook that wrote no manifest: such a backup is good but has no manifest (`manifest: false`).
 */
export interface BackupFile {
  readonly name: string
  readonly takenAt: Date
  readonly finished: boolean
  readonly good: boolean
  readonly manifest: boolean
}

/**
 * The backups of `database` among the names of its folder, oldest first. Other files are ignored.
 * `companions(name)` gives what the sidecar of a dump lists besides it (undefined: no readable sidecar).
 */
export function backupsAmong(
  database: string,
  names: readonly string[],
  companions: (name: string) => readonly string[] | undefined,
): BackupFile[] {
  const present = new Set(names)
  const prefix = `${database}-`
  const found: BackupFile[] = []
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.dump')) continue
    const takenAt = parseBackupTimestamp(name.slice(prefix.length, -'.dump'.length))
    if (!takenAt) continue
    const listed = present.has(name + sidecarSuffix) ? companions(name) : undefined
    const finished = listed !== undefined
    const good = finished && listed.every((other) => present.has(other))
    found.push({ name, takenAt, finished, good, manifest: good && listed.includes(manifestFileName(name)) })
  }
  return found.sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime())
}

/** Lists the backups of `database` in its folder (none when the folder does not exist), reading their sidecars. */
export async function listBackups(backupDir: string, database: string): Promise<BackupFile[]> {
  const dir = databaseBackupDir(backupDir, database)
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[]
    throw error
  })
  const listed = new Map<string, string[] | undefined>()
  for (const name of names) {
    if (name.endsWith('.dump') && names.includes(name + sidecarSuffix)) listed.set(name, await sidecarCompanions(join(dir, name)))
  }
  return backupsAmong(database, names, (name) => listed.get(name))
}

export function newestGoodBackup(backups: readonly BackupFile[]): BackupFile | undefined {
  return backups.filter((b) => b.good).at(-1)
}

/** The newest backup that finished (has its sidecar), good or not: the one the drill must prove. */
export function newestFinishedBackup(backups: readonly BackupFile[]): BackupFile | undefined {
  return backups.filter((b) => b.finished).at(-1)
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
