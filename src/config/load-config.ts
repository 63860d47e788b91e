import { readFileSync } from 'node:fs'
import { customCleanEnv, makeValidator, str } from 'envalid'
import { parseBackupKey } from '../backup/backup-crypto.ts'
import { ConfigError } from '../errors.ts'
import { logLevels, type Command, type Config, type Engine, type EventTriggerMode, type LogFormat, type SslMode, type TargetSessionAttrs } from './config.ts'
import { parseDatabases, type DatabaseSpec } from './databases.ts'
import { parseDuration } from './duration.ts'
import { engineRules } from './engine-rules.ts'
import { generatedSecretVariables, readGeneratedSecrets } from './generated-secret-config.ts'
import { parseHosts } from './hosts.ts'
import { loadSpannerConfig } from './spanner-config.ts'

export type Env = Readonly<Record<string, string | undefined>>

/** Secrets: each has a `*_FILE` variant that wins over the plain one, and a libpq fallback where libpq has one. */
const secretVariables = ['DBHOOK_ADMIN_PASSWORD', 'DBHOOK_OWNER_PASSWORD', 'DBHOOK_APP_PASSWORD'] as const

/** DBHOOK_* variable -> the libpq variable read when it is unset. */
const libpqFallbacks: Record<string, string> = {
  DBHOOK_HOST: 'PGHOST',
  DBHOOK_PORT: 'PGPORT',
  DBHOOK_ADMIN_USER: 'PGUSER',
  DBHOOK_ADMIN_PASSWORD: 'PGPASSWORD',
  DBHOOK_SSLMODE: 'PGSSLMODE',
  DBHOOK_SSLROOTCERT: 'PGSSLROOTCERT',
  DBHOOK_SSLCERT: 'PGSSLCERT',
  DBHOOK_SSLKEY: 'PGSSLKEY',
  DBHOOK_CONNECT_TIMEOUT: 'PGCONNECT_TIMEOUT',
  DBHOOK_TARGET_SESSION_ATTRS: 'PGTARGETSESSIONATTRS',
}

const targetSessionAttrs: Record<string, TargetSessionAttrs> = {
  any: 'any',
  'read-write': 'read-write',
  'read-only': 'read-only',
  primary: 'primary',
  standby: 'standby',
  'prefer-standby': 'prefer-standby',
}

/** Commands that write, so they must end on a host that accepts writes. */
const writingCommands: ReadonlySet<Command> = new Set(['apply', 'verify', 'restore', 'drill'])

const engineAliases: Record<string, Engine> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  pg: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  spanner: 'spanner',
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


/** A validator whose error names the accepted values. Only used for variables that hold no secret. */
function choice<T extends string>(what: string, table: Record<string, T>) {
  return makeValidator<T>((input) => {
    const value = table[input.trim().toLowerCase()]
    if (value === undefined) throw new Error(`must be ${what}, got ${quote(input)}`)
    return value
  })
}

const duration = makeValidator<number>((input) => {
  const ms = parseDuration(input)
  if (ms === undefined || ms <= 0) throw new Error(`must be a positive duration such as 30, 90s or 5m, got ${quote(input)}`)
  return ms
})

function positiveInt(max: number) {
  return makeValidator<number>((input) => {
    const value = Number(input.trim())
    if (!/^\d+$/.test(input.trim()) || value < 1 || value > max) {
      throw new Error(`must be a whole number from 1 to ${max}, got ${quote(input)}`)
    }
    return value
  })
}

const connectionLimit = makeValidator<number>((input) => {
  const value = Number(input.trim())
  if (!/^-?\d+$/.test(input.trim()) || value < -1 || value > 1_000_000) {
    throw new Error(`must be a whole number, -1 for no limit, got ${quote(input)}`)
  }
  return value
})

const bool = makeValidator<boolean>((input) => {
  const value = input.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(value)) return true
  if (['false', '0', 'no', 'off'].includes(value)) return false
  throw new Error(`must be true or false, got ${quote(input)}`)
})

// The value of a non-secret variable is safe to echo, but cap it so one bad value cannot flood a message.
function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
}

const text = (options: { default?: string } = {}) => str(options.default === undefined ? {} : options)

/**
 * Reads the environment into one validated Config, or throws a ConfigError that names every invalid or missing
 * variable at once. `command` decides what is required: `sql` needs no server, `wait` no database list. Secret
 * values are never part of a message.
 */
export function loadConfig(env: Env, command: Command, options: { restoreFromFile?: boolean } = {}): Config {
  const problems: string[] = []
  const raw: Record<string, string> = {}
  const secrets: string[] = []

  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('DBHOOK_') && value !== undefined) raw[name] = value
  }
  for (const [name, fallback] of Object.entries(libpqFallbacks)) {
    if (raw[name] === undefined && env[fallback] !== undefined) raw[name] = env[fallback]
  }
  for (const name of secretVariables) {
    const file = raw[`${name}_FILE`]
    delete raw[`${name}_FILE`]
    if (file === undefined || file === '') continue
    try {
      raw[name] = stripOneNewline(readFileSync(file, 'utf8'))
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${quote(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  // An empty variable means "not set": Helm renders absent values as empty strings.
  for (const [name, value] of Object.entries(raw)) if (value === '') delete raw[name]

  const needsServer = command !== 'sql'
  const needsDatabases = command !== 'wait'

  // customCleanEnv without envalid's strict proxy: an invalid variable reads as its default, so the checks below
  // still run and every problem is reported at once.
  const cleaned = customCleanEnv(
    raw,
    {
      DBHOOK_ENGINE: choice('postgres, mysql (alias mariadb) or spanner', engineAliases)({ default: 'postgres' }),
      DBHOOK_HOST: text({ default: '' }),
      DBHOOK_PORT: text({ default: '' }),
      DBHOOK_TARGET_SESSION_ATTRS: choice('one of any, read-write, read-only, primary, standby, prefer-standby', targetSessionAttrs)({
        default: 'read-write',
      }),
      DBHOOK_ADMIN_USER: text({ default: '' }),
      DBHOOK_ADMIN_PASSWORD: text({ default: '' }),
      DBHOOK_ADMIN_DATABASE: text({ default: 'postgres' }),
      DBHOOK_OWNER: text({ default: '' }),
      DBHOOK_OWNER_PASSWORD: text({ default: '' }),
      DBHOOK_APP_USER: text({ default: '' }),
      DBHOOK_APP_PASSWORD: text({ default: '' }),
      DBHOOK_DATABASES: text({ default: '' }),
      DBHOOK_EXTENSIONS: text({ default: '' }),
      DBHOOK_EVENT_TRIGGER: choice<EventTriggerMode>('auto, on or off', { auto: 'auto', on: 'on', off: 'off' })({
        default: 'auto',
      }),
      DBHOOK_CONNECTION_LIMIT: connectionLimit({ default: undefined }),
      DBHOOK_PARALLEL: positiveInt(32)({ default: 4 }),
      DBHOOK_SSLMODE: choice(
        'one of disable, allow, prefer, require, verify-ca, verify-full (or a MySQL mode)',
        sslModeAliases,
      )({ default: 'prefer' }),
      DBHOOK_SSLROOTCERT: text({ default: '' }),
      DBHOOK_SSLCERT: text({ default: '' }),
      DBHOOK_SSLKEY: text({ default: '' }),
      DBHOOK_WAIT_TIMEOUT: duration({ default: 300_000 }),
      DBHOOK_CONNECT_TIMEOUT: duration({ default: 10_000 }),
      DBHOOK_LOG_LEVEL: choice(logLevels.join(', '), Object.fromEntries(logLevels.map((l) => [l, l])))({
        default: 'info',
      }),
      DBHOOK_LOG_FORMAT: choice<LogFormat>('json or pretty', { json: 'json', pretty: 'pretty' })({ default: 'json' }),
      DBHOOK_TERMINATION_LOG: text({ default: '/dev/termination-log' }),
      DBHOOK_MYSQL_CHARSET: text({ default: 'utf8mb4' }),
      DBHOOK_MYSQL_COLLATION: text({ default: '' }),
      DBHOOK_MYSQL_USER_HOST: text({ default: '%' }),
      DBHOOK_MYSQL_REQUIRE_SSL: bool({ default: false }),
      DBHOOK_BACKUP_DIR: text({ default: '' }),
      DBHOOK_BACKUP_KEEP_DAYS: positiveInt(3650)({ default: 7 }),
      DBHOOK_BACKUP_KEY_FILE: text({ default: '' }),
      DBHOOK_PG_DUMP: text({ default: '' }),
      ...generatedSecretVariables,
      DBHOOK_SPANNER_PROJECT: text({ default: '' }),
      DBHOOK_SPANNER_INSTANCE: text({ default: '' }),
    },
    (env) => env,
    {
      reporter: ({ errors }) => {
        for (const [name, error] of Object.entries(errors)) {
          if (error) problems.push(`${name} ${error.message}`)
        }
      },
    },
  )

  // An invalid DBHOOK_ENGINE is already among the problems and reads as undefined: check the rest as postgres.
  const engine: Engine = cleaned.DBHOOK_ENGINE ?? 'postgres'
  // Spanner has no server, admin, owner or TLS settings: its own reader refuses each one that is set.
  if (engine === 'spanner') {
    const known = new Set(Object.keys(cleaned).flatMap((name) => [name, `${name}_FILE`]))
    return loadSpannerConfig({ env, command, settings: cleaned, known, problems })
  }
  const rules = engineRules[engine]
  const adminUser = cleaned.DBHOOK_ADMIN_USER
  const adminPassword = cleaned.DBHOOK_ADMIN_PASSWORD || undefined
  const ownerName = cleaned.DBHOOK_OWNER || adminUser
  const ownerIsAdmin = ownerName === adminUser
  const ownerPassword = cleaned.DBHOOK_OWNER_PASSWORD || (ownerIsAdmin ? adminPassword : undefined)

  if (needsServer && cleaned.DBHOOK_HOST === '') problems.push('DBHOOK_HOST (or PGHOST) is required')
  const { hosts, problems: hostProblems } = parseHosts(cleaned.DBHOOK_HOST, raw.DBHOOK_PORT, rules.defaultPort)
  problems.push(...hostProblems)
  if (hosts.length > 1 && engine !== 'postgres') {
    problems.push(`DBHOOK_HOST lists ${hosts.length} hosts: a list of hosts is supported for PostgreSQL only; give MySQL/MariaDB one host`)
  }
  const attrs = cleaned.DBHOOK_TARGET_SESSION_ATTRS
  if (raw.DBHOOK_TARGET_SESSION_ATTRS !== undefined && writingCommands.has(command) && ['read-only', 'standby', 'prefer-standby'].includes(attrs)) {
    problems.push(`DBHOOK_TARGET_SESSION_ATTRS=${attrs} cannot be used with ${command}, which writes: use read-write (the default), primary or any`)
  }
  if (needsServer && command !== 'verify' && adminUser === '') {
    problems.push('DBHOOK_ADMIN_USER (or PGUSER) is required')
  }
  if (ownerName === '' && command !== 'wait') problems.push('DBHOOK_OWNER is required (or DBHOOK_ADMIN_USER to own the databases)')
  const ownerProblem = ownerName === '' ? undefined : rules.roleNameProblem(ownerName)
  if (ownerProblem && command !== 'wait') problems.push(`DBHOOK_OWNER ${quote(ownerName)} ${ownerProblem}`)
  if (command === 'verify' && !ownerIsAdmin && ownerPassword === undefined && cleaned.DBHOOK_OWNER_GENERATED_SECRET === '') {
    problems.push('DBHOOK_OWNER_PASSWORD (or DBHOOK_OWNER_PASSWORD_FILE) is required: verify logs in as the owner')
  }

  const appName = cleaned.DBHOOK_APP_USER
  if (appName !== '') {
    const appProblem = rules.roleNameProblem(appName)
    if (appProblem) problems.push(`DBHOOK_APP_USER ${quote(appName)} ${appProblem}`)
    else if (appName === ownerName) problems.push('DBHOOK_APP_USER must differ from the owner role')
  } else if (cleaned.DBHOOK_APP_PASSWORD !== '') {
    problems.push('DBHOOK_APP_PASSWORD is set but DBHOOK_APP_USER is not')
  }

  const generated = readGeneratedSecrets({
    ownerSecret: cleaned.DBHOOK_OWNER_GENERATED_SECRET,
    appSecret: cleaned.DBHOOK_APP_GENERATED_SECRET,
    ownerPasswordGiven: cleaned.DBHOOK_OWNER_PASSWORD !== '',
    appPasswordGiven: cleaned.DBHOOK_APP_PASSWORD !== '',
    ownerIsAdmin,
    appUser: appName,
  })
  problems.push(...generated.problems)

  let databases: DatabaseSpec[] = []
  if (needsDatabases) {
    if (cleaned.DBHOOK_DATABASES === '') {
      problems.push('DBHOOK_DATABASES is required: a list such as management=openzro,dex=dex')
    } else {
      try {
        databases = parseDatabases(cleaned.DBHOOK_DATABASES)
        for (const db of databases) {
          const problem = rules.databaseNameProblem(db.name)
          if (problem) problems.push(`DBHOOK_DATABASES: database ${quote(db.name)} ${problem}`)
        }
      } catch (error) {
        problems.push(`DBHOOK_DATABASES ${(error as Error).message}`)
      }
    }
  }

  const extensions = cleaned.DBHOOK_EXTENSIONS.split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
  for (const extension of extensions) {
    if (!/^[A-Za-z0-9_-]{1,63}$/.test(extension)) {
      problems.push(`DBHOOK_EXTENSIONS: ${quote(extension)} is not an extension name (letters, digits, _ and -)`)
    }
  }

  const tls = {
    mode: cleaned.DBHOOK_SSLMODE,
    word: (raw.DBHOOK_SSLMODE ?? 'prefer').trim().toLowerCase(),
    rootCert: cleaned.DBHOOK_SSLROOTCERT || undefined,
    cert: cleaned.DBHOOK_SSLCERT || undefined,
    key: cleaned.DBHOOK_SSLKEY || undefined,
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    problems.push('DBHOOK_SSLCERT and DBHOOK_SSLKEY go together: set both or neither')
  }
  // libpq ignores the certificate files in disable mode; only `system`, which libpq 16 refuses with a weak sslmode,
  // is a contradiction.
  if (tls.mode === 'disable' && tls.rootCert === 'system') {
    problems.push('DBHOOK_SSLROOTCERT=system verifies the server, which DBHOOK_SSLMODE=disable never contacts over TLS: choose one')
  }
  if ((tls.mode === 'verify-ca' || tls.mode === 'verify-full') && !tls.rootCert && engine === 'postgres') {
    problems.push(`DBHOOK_SSLMODE=${tls.word} needs DBHOOK_SSLROOTCERT (a CA file, or "system" for the system trust store)`)
  }

  const backupCommand = command === 'backup' || command === 'restore' || command === 'drill'
  const backupDir = cleaned.DBHOOK_BACKUP_DIR || undefined
  if (backupCommand && backupDir === undefined && !(command === 'restore' && options.restoreFromFile)) {
    problems.push(`DBHOOK_BACKUP_DIR is required: the folder ${command} ${command === 'backup' ? 'writes' : 'reads'} backups in${command === 'restore' ? ' (or give --from FILE)' : ''}`)
  }
  let backupKey: Buffer | undefined
  const keyFile = cleaned.DBHOOK_BACKUP_KEY_FILE
  if (backupCommand && keyFile !== '') {
    try {
      const parsed = parseBackupKey(readFileSync(keyFile))
      if (typeof parsed === 'string') problems.push(`DBHOOK_BACKUP_KEY_FILE ${quote(keyFile)} ${parsed}`)
      else backupKey = parsed
    } catch (error) {
      problems.push(`DBHOOK_BACKUP_KEY_FILE: cannot read ${quote(keyFile)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }

  if (problems.length > 0) throw new ConfigError(problems)

  const known = new Set(Object.keys(cleaned).flatMap((name) => [name, `${name}_FILE`]))
  const warnings = Object.keys(env)
    .filter((name) => name.startsWith('DBHOOK_') && !known.has(name))
    .map((name) => `${name} is not a dbhook variable and is ignored`)
  if (engine !== 'postgres' && raw.DBHOOK_TARGET_SESSION_ATTRS !== undefined) {
    warnings.push('DBHOOK_TARGET_SESSION_ATTRS is for PostgreSQL only and is ignored')
  }
  if (tls.mode === 'disable' && (tls.cert || tls.rootCert)) {
    warnings.push('DBHOOK_SSLMODE is disable: DBHOOK_SSLROOTCERT, DBHOOK_SSLCERT and DBHOOK_SSLKEY are ignored, as libpq ignores them')
  }

  for (const secret of [adminPassword, ownerPassword, cleaned.DBHOOK_APP_PASSWORD, backupKey?.toString('hex')]) {
    if (secret) secrets.push(secret)
  }

  return {
    engine,
    host: hosts[0]?.host ?? '',
    port: hosts[0]?.port ?? rules.defaultPort,
    hosts,
    targetSessionAttrs: attrs,
    admin: { user: adminUser, password: adminPassword, database: cleaned.DBHOOK_ADMIN_DATABASE },
    owner: { name: ownerName, password: ownerPassword },
    app: appName === '' ? undefined : { name: appName, password: cleaned.DBHOOK_APP_PASSWORD || undefined },
    databases,
    extensions,
    eventTrigger: cleaned.DBHOOK_EVENT_TRIGGER,
    connectionLimit: cleaned.DBHOOK_CONNECTION_LIMIT,
    parallel: cleaned.DBHOOK_PARALLEL,
    tls,
    waitTimeoutMs: cleaned.DBHOOK_WAIT_TIMEOUT,
    connectTimeoutMs: cleaned.DBHOOK_CONNECT_TIMEOUT,
    logLevel: cleaned.DBHOOK_LOG_LEVEL,
    logFormat: cleaned.DBHOOK_LOG_FORMAT,
    terminationLog: cleaned.DBHOOK_TERMINATION_LOG,
    mysql: {
      charset: cleaned.DBHOOK_MYSQL_CHARSET,
      collation: cleaned.DBHOOK_MYSQL_COLLATION || undefined,
      userHost: cleaned.DBHOOK_MYSQL_USER_HOST,
      requireSsl: cleaned.DBHOOK_MYSQL_REQUIRE_SSL,
    },
    backup: { dir: backupDir, keepDays: cleaned.DBHOOK_BACKUP_KEEP_DAYS, key: backupKey, pgDump: cleaned.DBHOOK_PG_DUMP || undefined },
    generatedSecrets: generated.settings,
    secrets,
    warnings,
  }
}

// Files written by `echo` or a Secret created from a file end in one newline that is not part of the password.
function stripOneNewline(value: string): string {
  if (value.endsWith('\r\n')) return value.slice(0, -2)
  if (value.endsWith('\n')) return value.slice(0, -1)
  return value
}
