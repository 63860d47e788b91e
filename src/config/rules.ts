import type { Engine } from './config.ts'

/** What configuration needs to know of an engine without loading its driver. */
export interface EngineRules {
  readonly defaultPort: number
  readonly databaseNameProblem: (name: string) => string | undefined
  readonly roleNameProblem: (name: string) => string | undefined
}

/**
 * The rules loadConfig checks values against that other layers own: each engine's names and port, Spanner's ids,
 * the backup format's key. The caller hands them in (src/config-rules.ts holds them), so that config/ imports
 * nothing above it. Each `*Problem` returns why a value is refused, or undefined when it is accepted.
 */
export interface ConfigRules {
  readonly engines: Readonly<Record<Engine, EngineRules>>
  readonly spannerProjectProblem: (project: string) => string | undefined
  readonly spannerInstanceProblem: (instance: string) => string | undefined
  /** The key held by DBHOOK_BACKUP_KEY_FILE's content, or why it is refused; never the content itself. */
  readonly parseBackupKey: (content: Buffer) => Buffer | string
}
