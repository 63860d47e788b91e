import { type CleanedEnv, type CleanedEnvAccessors, customCleanEnv, str } from 'envalid'
import { logLevels, type Engine, type EventTriggerMode, type LogFormat, type SslMode, type TargetSessionAttrs } from './config.ts'
import { generatedSecretVariables } from './generated-secret-config.ts'
import { choice, connectionLimit, countUpTo, duration, flag } from './validators.ts'

const engineAliases: Record<string, Engine> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  pg: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  spanner: 'spanner',
}

const targetSessionAttrs: Record<string, TargetSessionAttrs> = {
  any: 'any',
  'read-write': 'read-write',
  'read-only': 'read-only',
  primary: 'primary',
  standby: 'standby',
  'prefer-standby': 'prefer-standby',
}

// DBHOOK_SSLMODE accepts libpq's words, MySQL's own and the Go MySQL driver's (openZro's `tls:` values).
const sslModeAliases: Record<string, SslMode> = {
  disable: 'disable',
  allow: 'allow',
  prefer: 'prefer',
  require: 'require',
  'verify-ca': 'verify-ca',
  'verify-full': 'verify-full',
  disabled: 'disable',
  preferred: 'prefer',
  required: 'require',
  verify_ca: 'verify-ca',
  verify_identity: 'verify-full',
  false: 'disable',
  true: 'verify-full',
  'skip-verify': 'require',
}

/**
 * Every DBHOOK_ variable (README.md's table), with its validator and default. The order is the order in which
 * invalid values are reported.
 */
const dbhookVariables = {
  DBHOOK_ENGINE: choice('postgres, mysql (alias mariadb) or spanner', engineAliases)({ default: 'postgres' }),
  DBHOOK_HOST: str({ default: '' }),
  DBHOOK_PORT: str({ default: '' }),
  DBHOOK_TARGET_SESSION_ATTRS: choice(
    'one of any, read-write, read-only, primary, standby, prefer-standby',
    targetSessionAttrs,
  )({
    default: 'read-write',
  }),
  DBHOOK_ADMIN_USER: str({ default: '' }),
  DBHOOK_ADMIN_PASSWORD: str({ default: '' }),
  DBHOOK_ADMIN_DATABASE: str({ default: 'postgres' }),
  DBHOOK_OWNER: str({ default: '' }),
  DBHOOK_OWNER_PASSWORD: str({ default: '' }),
  DBHOOK_APP_USER: str({ default: '' }),
  DBHOOK_APP_PASSWORD: str({ default: '' }),
  DBHOOK_DATABASES: str({ default: '' }),
  DBHOOK_EXTENSIONS: str({ default: '' }),
  DBHOOK_EVENT_TRIGGER: choice<EventTriggerMode>('auto, on or off', { auto: 'auto', on: 'on', off: 'off' })({ default: 'auto' }),
  DBHOOK_CONNECTION_LIMIT: connectionLimit({ default: undefined }),
  DBHOOK_PARALLEL: countUpTo(32)({ default: 4 }),
  DBHOOK_SSLMODE: choice(
    'one of disable, allow, prefer, require, verify-ca, verify-full (or a MySQL mode)',
    sslModeAliases,
  )({
    default: 'prefer',
  }),
  DBHOOK_SSLROOTCERT: str({ default: '' }),
  DBHOOK_SSLCERT: str({ default: '' }),
  DBHOOK_SSLKEY: str({ default: '' }),
  DBHOOK_WAIT_TIMEOUT: duration({ default: 300_000 }),
  DBHOOK_CONNECT_TIMEOUT: duration({ default: 10_000 }),
  DBHOOK_LOG_LEVEL: choice(logLevels.join(', '), Object.fromEntries(logLevels.map((l) => [l, l])))({ default: 'info' }),
  DBHOOK_LOG_FORMAT: choice<LogFormat>('json or pretty', { json: 'json', pretty: 'pretty' })({ default: 'json' }),
  DBHOOK_TERMINATION_LOG: str({ default: '/dev/termination-log' }),
  DBHOOK_MYSQL_CHARSET: str({ default: 'utf8mb4' }),
  DBHOOK_MYSQL_COLLATION: str({ default: '' }),
  DBHOOK_MYSQL_USER_HOST: str({ default: '%' }),
  DBHOOK_MYSQL_REQUIRE_SSL: flag({ default: false }),
  DBHOOK_BACKUP_DIR: str({ default: '' }),
  DBHOOK_BACKUP_KEEP_DAYS: countUpTo(3650)({ default: 7 }),
  DBHOOK_BACKUP_KEY_FILE: str({ default: '' }),
  DBHOOK_PG_DUMP: str({ default: '' }),
  ...generatedSecretVariables,
  DBHOOK_SPANNER_PROJECT: str({ default: '' }),
  DBHOOK_SPANNER_INSTANCE: str({ default: '' }),
}

/** The variables read and validated. One whose value was refused reads as undefined (its problem is reported). */
export type Settings = Omit<CleanedEnv<typeof dbhookVariables>, keyof CleanedEnvAccessors>

/**
 * The names dbhook read, each with its `*_FILE` form: any other DBHOOK_ variable is unknown. Taken from the settings,
 * which leave out a variable whose value was refused, so that Spanner does not refuse it a second time by name.
 */
export function knownVariables(settings: Settings): ReadonlySet<string> {
  return new Set(Object.keys(settings).flatMap((name) => [name, `${name}_FILE`]))
}

/**
 * Validates the given variables through envalid, adding one problem per invalid value to `problems`.
 * customCleanEnv without envalid's strict proxy, so that the cross-variable checks still run on the rest and every
 * problem is reported at once.
 */
export function readSettings(given: Readonly<Record<string, string>>, problems: string[]): Settings {
  return customCleanEnv(given, dbhookVariables, (cleaned) => cleaned, {
    reporter: ({ errors }) => {
      for (const [name, error] of Object.entries(errors)) {
        if (error) problems.push(`${name} ${error.message}`)
      }
    },
  })
}
