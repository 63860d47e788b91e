import { readFileSync } from 'node:fs'
import type { BackupSettings, Command } from './config.ts'
import { quoteValue } from './quote.ts'
import type { ConfigRules } from './rules.ts'
import type { Settings } from './variables.ts'

/**
 * The folder, retention, key and pg_dump of backup, restore and drill. The key file is read only by those commands,
 * and its content is never part of a message.
 */
export function readBackupSettings(
  input: {
    readonly settings: Pick<Settings, 'DBHOOK_BACKUP_DIR' | 'DBHOOK_BACKUP_KEEP_DAYS' | 'DBHOOK_BACKUP_KEY_FILE' | 'DBHOOK_PG_DUMP'>
    readonly command: Command
    readonly restoreFromFile: boolean
    readonly parseBackupKey: ConfigRules['parseBackupKey']
  },
  problems: string[],
): BackupSettings {
  const { settings, command } = input
  const backupCommand = command === 'backup' || command === 'restore' || command === 'drill'
  const dir = settings.DBHOOK_BACKUP_DIR || undefined
  if (backupCommand && dir === undefined && !(command === 'restore' && input.restoreFromFile)) {
    problems.push(
      `DBHOOK_BACKUP_DIR is required: the folder ${command} ${command === 'backup' ? 'writes' : 'reads'} backups in${command === 'restore' ? ' (or give --from FILE)' : ''}`,
    )
  }
  let key: Buffer | undefined
  const keyFile = settings.DBHOOK_BACKUP_KEY_FILE
  if (backupCommand && keyFile !== '') {
    try {
      const parsed = input.parseBackupKey(readFileSync(keyFile))
      if (typeof parsed === 'string') problems.push(`DBHOOK_BACKUP_KEY_FILE ${quoteValue(keyFile)} ${parsed}`)
      else key = parsed
    } catch (error) {
      problems.push(`DBHOOK_BACKUP_KEY_FILE: cannot read ${quoteValue(keyFile)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  return { dir, keepDays: settings.DBHOOK_BACKUP_KEEP_DAYS, key, pgDump: settings.DBHOOK_PG_DUMP || undefined }
}
