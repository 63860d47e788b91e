import type { DatabaseSpec } from './databases.ts'
import type { GeneratedSecrets } from './generated-secret-config.ts'

export type Engine = 'postgres' | 'mysql' | 'spanner'
export type Command = 'apply' | 'plan' | 'wait' | 'verify' | 'sql' | 'backup' | 'restore' | 'drill'
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'
export type EventTriggerMode = 'auto' | 'on' | 'off'
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]
export type LogFormat = 'json' | 'pretty'
/** libpq's target_session_attrs: which of the listed hosts a session may end on. */
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby'

/** One entry of DBHOOK_HOST with its port. */
export interface HostPort {
  /** A host name, an IP address, or (PostgreSQL) a Unix socket directory. */
  readonly host: string
  readonly port: number
}

export interface TlsSettings {
  /** The libpq meaning of DBHOOK_SSLMODE, whichever word (libpq, MySQL, Go driver) was used. */
  readonly mode: SslMode
  /** DBHOOK_SSLMODE as written, lower-cased, for engines whose own words differ in detail (MySQL's). */
  readonly word: string
  /** A file path, or `system` for the system trust store (which forces verify-full, as libpq 16 does). */
  readonly rootCert?: string
  readonly cert?: string
  readonly key?: string
}

export interface RoleSpec {
  readonly name: string
  /** When set, the role is created if missing and its password reset when a login with it fails. */
  readonly password?: string
}

export interface MysqlSettings {
  readonly charset: string
  readonly collation?: string
  readonly userHost: string
  readonly requireSsl: boolean
}

/** Where the Cloud Spanner databases live (docs/spanner.md); set only when DBHOOK_ENGINE=spanner. */
export interface SpannerSettings {
  /** DBHOOK_SPANNER_PROJECT: the Google Cloud project id. */
  readonly project: string
  /** DBHOOK_SPANNER_INSTANCE: the instance id within the project. */
  readonly instance: string
  /** SPANNER_EMULATOR_HOST (`host:port`), which the client library reads itself; undefined for Google's endpoint. */
  readonly emulatorHost?: string
}

/** Settings of backup, restore and drill (docs/backup.md). */
export interface BackupSettings {
  /** DBHOOK_BACKUP_DIR; required by backup and drill, and by restore unless --from names a file. */
  readonly dir?: string
  /** DBHOOK_BACKUP_KEEP_DAYS (7). */
  readonly keepDays: number
  /** The AES-256 key read from DBHOOK_BACKUP_KEY_FILE. */
  readonly key?: Buffer
  /** DBHOOK_PG_DUMP: the pg_dump to run (pg_restore is taken from the same folder); PATH otherwise. */
  readonly pgDump?: string
}

/** Everything dbhook needs, read and validated from the environment before any connection is made. */
export interface Config {
  readonly engine: Engine
  /** The first entry of DBHOOK_HOST and its port: for MySQL/MariaDB, which takes one host. */
  readonly host: string
  readonly port: number
  /**
   * Every entry of DBHOOK_HOST with its port, in order (libpq's rules: one port for all, or one per host).
   * PostgreSQL tries them in order and stays on the one its admin session chose: every later connection of the
   * run goes there (see `connectWithWait`), never to `host`.
   */
  readonly hosts: readonly HostPort[]
  /** DBHOOK_TARGET_SESSION_ATTRS (PGTARGETSESSIONATTRS); read-write when unset. PostgreSQL only. */
  readonly targetSessionAttrs: TargetSessionAttrs
  readonly admin: { readonly user: string; readonly password?: string; readonly database: string }
  readonly owner: RoleSpec
  readonly app?: RoleSpec
  readonly databases: readonly DatabaseSpec[]
  readonly extensions: readonly string[]
  readonly eventTrigger: EventTriggerMode
  readonly connectionLimit?: number
  readonly parallel: number
  readonly tls: TlsSettings
  readonly waitTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly logLevel: LogLevel
  readonly logFormat: LogFormat
  readonly terminationLog: string
  readonly mysql: MysqlSettings
  readonly backup: BackupSettings
  readonly spanner?: SpannerSettings
  /** DBHOOK_OWNER_GENERATED_SECRET / DBHOOK_APP_GENERATED_SECRET: Secrets that keep generated passwords (apply, plan, verify). */
  readonly generatedSecrets: GeneratedSecrets
  /** Every secret value read, so that the logger can scrub them from any line as a last line of defence. */
  readonly secrets: readonly string[]
  /** Things worth a warning that do not stop the run, such as an unknown DBHOOK_ variable. */
  readonly warnings: readonly string[]
}
