import type { Config } from '../../config/config.ts'
import { spannerSettings } from './spanner-client.ts'

declare const DBHOOK_VERSION: string

/** A word for a POSIX shell: bare when it holds only safe characters, else in single quotes. */
export function shellWord(text: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/**
 * The gcloud commands a DBA runs by hand for this configuration, safe to run more than once: each database is
 * created only when `describe` does not find it. dbhook's own check of the dialect is `dbhook verify`.
 */
export function spannerScript(config: Config): string {
  const { project, instance } = spannerSettings(config)
  const scope = `--instance=${shellWord(instance)} --project=${shellWord(project)}`
  const lines = [
    '#!/bin/sh',
    `# dbhook ${typeof DBHOOK_VERSION === 'string' ? DBHOOK_VERSION : 'dev'}: the Cloud Spanner databases for this configuration, PostgreSQL dialect; safe to run more than once.`,
    '# Run it as a principal holding spanner.databases.create and spanner.databases.get on the instance',
    '# (roles/spanner.databaseAdmin), for example: dbhook sql > provision.sh && sh provision.sh',
    'set -e',
    '',
  ]
  for (const db of config.databases) {
    const name = shellWord(db.name)
    lines.push(`# ${/\p{Cc}/u.test(db.key) ? JSON.stringify(db.key) : db.key}`)
    lines.push(`gcloud spanner databases describe ${name} ${scope} >/dev/null 2>&1 ||`)
    lines.push(`  gcloud spanner databases create ${name} ${scope} --database-dialect=POSTGRESQL`)
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}
