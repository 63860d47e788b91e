import type { Command, Config } from './config.ts'
import { readDatabaseList, type DatabaseSpec } from './databases.ts'
import { quoteValue } from './quote.ts'
import type { ConfigRules } from './rules.ts'
import type { Settings } from './variables.ts'

/** The variables that mean the same on Spanner as on the other engines, and Spanner's own, as load-config read them. */
export type SharedSettings = Pick<
  Settings,
  | 'DBHOOK_SPANNER_PROJECT'
  | 'DBHOOK_SPANNER_INSTANCE'
  | 'DBHOOK_DATABASES'
  | 'DBHOOK_PARALLEL'
  | 'DBHOOK_WAIT_TIMEOUT'
  | 'DBHOOK_CONNECT_TIMEOUT'
  | 'DBHOOK_LOG_LEVEL'
  | 'DBHOOK_LOG_FORMAT'
  | 'DBHOOK_TERMINATION_LOG'
>

/** What a Spanner run reads; every other DBHOOK_ variable that is set is refused below. */
const meaningful = new Set([
  'DBHOOK_ENGINE',
  'DBHOOK_SPANNER_PROJECT',
  'DBHOOK_SPANNER_INSTANCE',
  'DBHOOK_DATABASES',
  'DBHOOK_PARALLEL',
  'DBHOOK_WAIT_TIMEOUT',
  'DBHOOK_CONNECT_TIMEOUT',
  'DBHOOK_LOG_LEVEL',
  'DBHOOK_LOG_FORMAT',
  'DBHOOK_TERMINATION_LOG',
])

const credentials =
  'dbhook calls Spanner as the identity Application Default Credentials find (workload identity on GKE, GOOGLE_APPLICATION_CREDENTIALS elsewhere): grant that identity roles/spanner.databaseAdmin on the instance instead'
const application =
  'the application signs in to Spanner as an IAM principal, not with a password: grant its service account roles/spanner.databaseUser and connect it through PGAdapter'
const backups = "backup, restore and drill do not run on Spanner: use Spanner's managed backups and backup schedules"

/** Why a setting of the other engines has no meaning on Spanner, and what to do instead (docs/spanner.md says more). */
const refusals: Record<string, string> = {
  DBHOOK_HOST:
    'Spanner is reached through its API, not a host: set DBHOOK_SPANNER_PROJECT and DBHOOK_SPANNER_INSTANCE (and SPANNER_EMULATOR_HOST for the emulator)',
  DBHOOK_PORT:
    'Spanner is reached through its API, not a port: set DBHOOK_SPANNER_PROJECT and DBHOOK_SPANNER_INSTANCE (and SPANNER_EMULATOR_HOST for the emulator)',
  DBHOOK_ADMIN_USER: credentials,
  DBHOOK_ADMIN_PASSWORD: credentials,
  DBHOOK_ADMIN_DATABASE: 'dbhook creates databases through the instance admin API and connects to no database',
  DBHOOK_OWNER:
    "Spanner databases have no owner: grant the application's service account roles/spanner.databaseUser on the instance or on each database",
  DBHOOK_OWNER_PASSWORD:
    "Spanner databases have no owner and Spanner no passwords: grant the application's service account roles/spanner.databaseUser",
  DBHOOK_APP_USER: application,
  DBHOOK_APP_PASSWORD: application,
  DBHOOK_SSLMODE: 'the client library always uses TLS to spanner.googleapis.com, verified against the system trust store',
  DBHOOK_SSLROOTCERT: 'the client library verifies spanner.googleapis.com against the system trust store',
  DBHOOK_SSLCERT: 'Spanner authenticates the caller by its Google credentials, not by a client certificate',
  DBHOOK_SSLKEY: 'Spanner authenticates the caller by its Google credentials, not by a client certificate',
  DBHOOK_EXTENSIONS: "Spanner's PostgreSQL interface has no CREATE EXTENSION; the functions it supports are built in",
  DBHOOK_EVENT_TRIGGER:
    "Spanner has no event triggers: access is granted through IAM (or fine-grained access control roles in the application's schema)",
  DBHOOK_CONNECTION_LIMIT: 'dbhook creates no roles on Spanner; Spanner limits sessions itself',
  DBHOOK_BACKUP_DIR: backups,
  DBHOOK_BACKUP_KEEP_DAYS: backups,
  DBHOOK_BACKUP_KEY_FILE: backups,
  DBHOOK_PG_DUMP: backups,
}

function refusal(name: string): string {
  const base = name.endsWith('_FILE') && refusals[name.slice(0, -5)] ? name.slice(0, -5) : name
  const reason =
    refusals[base] ??
    (base.startsWith('DBHOOK_MYSQL_') ? 'it is a MySQL/MariaDB setting' : 'it belongs to the PostgreSQL and MySQL engines')
  return `${name} has no meaning with DBHOOK_ENGINE=spanner: ${reason}; unset it (docs/spanner.md)`
}

/**
 * The Config of a Spanner run. Spanner has no host, admin, owner, passwords or TLS choices: each such variable
 * that is set is refused by name with what to do instead, so that nobody believes a setting took effect.
 * Problems are added to `problems`, which already holds what load-config found (invalid values); load-config throws
 * them together, so the Config returned is only used when there are none.
 */
export function loadSpannerConfig(options: {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly command: Command
  readonly settings: SharedSettings
  readonly known: ReadonlySet<string>
  readonly rules: ConfigRules
  readonly problems: string[]
}): Config {
  const { env, command, settings, known, rules, problems } = options
  const given = Object.keys(env).filter((name) => name.startsWith('DBHOOK_') && env[name] !== undefined && env[name] !== '')
  for (const name of given) {
    if (!meaningful.has(name) && known.has(name)) problems.push(refusal(name))
  }
  if (command === 'backup' || command === 'restore' || command === 'drill') {
    problems.push(
      `dbhook ${command} does not run on Spanner: use Spanner's managed backups and backup schedules (gcloud spanner backups create, gcloud spanner backup-schedules create; docs/spanner.md)`,
    )
  }

  const project = settings.DBHOOK_SPANNER_PROJECT.trim()
  const instance = settings.DBHOOK_SPANNER_INSTANCE.trim()
  if (project === '')
    problems.push('DBHOOK_SPANNER_PROJECT is required with DBHOOK_ENGINE=spanner: the Google Cloud project id of the instance')
  else {
    const problem = rules.spannerProjectProblem(project)
    if (problem) problems.push(`DBHOOK_SPANNER_PROJECT ${quoteValue(project)} ${problem}`)
  }
  if (instance === '')
    problems.push('DBHOOK_SPANNER_INSTANCE is required with DBHOOK_ENGINE=spanner: the id of the Spanner instance that holds the databases')
  else {
    const problem = rules.spannerInstanceProblem(instance)
    if (problem) problems.push(`DBHOOK_SPANNER_INSTANCE ${quoteValue(instance)} ${problem}`)
  }

  const emulatorHost = env.SPANNER_EMULATOR_HOST?.trim() || undefined
  let endpoint = { host: 'spanner.googleapis.com', port: 443 }
  if (emulatorHost !== undefined) {
    const match = /^([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(emulatorHost)
    const port = Number(match?.[2])
    if (!match || port < 1 || port > 65535)
      problems.push(`SPANNER_EMULATOR_HOST ${quoteValue(emulatorHost)} must be host:port without a scheme, e.g. localhost:9010`)
    else endpoint = { host: match[1]!, port }
  }

  const databases: DatabaseSpec[] =
    command === 'wait' ? [] : readDatabaseList(settings.DBHOOK_DATABASES, rules.engines.spanner.databaseNameProblem, problems)

  const warnings = given.filter((name) => !known.has(name)).map((name) => `${name} is not a dbhook variable and is ignored`)
  const emulator = emulatorHost !== undefined
  return {
    engine: 'spanner',
    host: endpoint.host,
    port: endpoint.port,
    hosts: [endpoint],
    targetSessionAttrs: 'any',
    admin: { user: '', database: '' },
    owner: { name: '' },
    databases,
    extensions: [],
    eventTrigger: 'off',
    parallel: settings.DBHOOK_PARALLEL,
    tls: emulator ? { mode: 'disable', word: 'disable' } : { mode: 'verify-full', word: 'verify-full', rootCert: 'system' },
    waitTimeoutMs: settings.DBHOOK_WAIT_TIMEOUT,
    connectTimeoutMs: settings.DBHOOK_CONNECT_TIMEOUT,
    logLevel: settings.DBHOOK_LOG_LEVEL,
    logFormat: settings.DBHOOK_LOG_FORMAT,
    terminationLog: settings.DBHOOK_TERMINATION_LOG,
    mysql: { charset: 'utf8mb4', userHost: '%', requireSsl: false },
    backup: { keepDays: 7 },
    spanner: { project, instance, emulatorHost },
    generatedSecrets: {},
    secrets: [],
    warnings,
  }
}
