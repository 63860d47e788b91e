import { ConfigError } from '../errors.ts'
import type { Command, Config, Engine } from './config.ts'
import { readBackupSettings } from './backup-config.ts'
import { readConnection } from './connection-config.ts'
import { readDatabaseList } from './databases.ts'
import { readExtensions } from './extensions-config.ts'
import { readGivenVariables, type Env } from './given-variables.ts'
import { readMysqlSettings } from './mysql-config.ts'
import { readRoles } from './roles-config.ts'
import type { ConfigRules } from './rules.ts'
import { loadSpannerConfig } from './spanner-config.ts'
import { readTls } from './tls-config.ts'
import { knownVariables, readSettings } from './variables.ts'

export type { Env } from './given-variables.ts'

export interface LoadConfigOptions {
  /** The name, port, id and key rules of the layers that own them (src/config-rules.ts). */
  readonly rules: ConfigRules
  /** restore was given `--from FILE`, so it needs no DBHOOK_BACKUP_DIR. */
  readonly restoreFromFile?: boolean
}

/**
 * Reads the environment into one validated Config, or throws a ConfigError that names every invalid or missing
 * variable at once. `command` decides what is required: `sql` needs no server, `wait` no database list. Secret
 * values are never part of a message.
 */
export function loadConfig(env: Env, command: Command, options: LoadConfigOptions): Config {
  const { rules } = options
  const problems: string[] = []
  const given = readGivenVariables(env, problems)
  const settings = readSettings(given, problems)

  // An invalid DBHOOK_ENGINE is already among the problems and reads as undefined: check the rest as postgres.
  const engine: Engine = settings.DBHOOK_ENGINE ?? 'postgres'
  // Spanner has no server, admin, owner or TLS settings: its own reader refuses each one that is set.
  if (engine === 'spanner') {
    const config = loadSpannerConfig({ env, command, settings, known: knownVariables(settings), rules, problems })
    if (problems.length > 0) throw new ConfigError(problems)
    return config
  }

  const engineRules = rules.engines[engine]
  const connection = readConnection({ settings, given, engine, command, defaultPort: engineRules.defaultPort }, problems)
  const roles = readRoles({ settings, command, roleNameProblem: engineRules.roleNameProblem }, problems)
  const databases = command === 'wait' ? [] : readDatabaseList(settings.DBHOOK_DATABASES, engineRules.databaseNameProblem, problems)
  const extensions = readExtensions(settings.DBHOOK_EXTENSIONS, problems)
  const { tls, warnings: tlsWarnings } = readTls({ settings, given, engine }, problems)
  const backup = readBackupSettings(
    { settings, command, restoreFromFile: options.restoreFromFile ?? false, parseBackupKey: rules.parseBackupKey },
    problems,
  )

  if (problems.length > 0) throw new ConfigError(problems)

  const known = knownVariables(settings)
  const warnings = [
    ...Object.keys(env)
      .filter((name) => name.startsWith('DBHOOK_') && !known.has(name))
      .map((name) => `${name} is not a dbhook variable and is ignored`),
    ...connection.warnings,
    ...tlsWarnings,
  ]
  const secrets = [roles.admin.password, roles.owner.password, roles.app?.password, backup.key?.toString('hex')].filter(
    (secret): secret is string => Boolean(secret),
  )
  const [first] = connection.hosts

  return {
    engine,
    host: first?.host ?? '',
    port: first?.port ?? engineRules.defaultPort,
    hosts: connection.hosts,
    targetSessionAttrs: connection.targetSessionAttrs,
    admin: roles.admin,
    owner: roles.owner,
    app: roles.app,
    databases,
    extensions,
    eventTrigger: settings.DBHOOK_EVENT_TRIGGER,
    connectionLimit: settings.DBHOOK_CONNECTION_LIMIT,
    parallel: settings.DBHOOK_PARALLEL,
    tls,
    waitTimeoutMs: settings.DBHOOK_WAIT_TIMEOUT,
    connectTimeoutMs: settings.DBHOOK_CONNECT_TIMEOUT,
    logLevel: settings.DBHOOK_LOG_LEVEL,
    logFormat: settings.DBHOOK_LOG_FORMAT,
    terminationLog: settings.DBHOOK_TERMINATION_LOG,
    mysql: readMysqlSettings(settings),
    backup,
    generatedSecrets: roles.generatedSecrets,
    secrets,
    warnings,
  }
}
