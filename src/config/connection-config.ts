import type { Command, Engine, HostPort, TargetSessionAttrs } from './config.ts'
import { parseHosts } from './hosts.ts'
import type { Settings } from './variables.ts'

/** Commands that write, so they must end on a host that accepts writes. */
const writingCommands: ReadonlySet<Command> = new Set(['apply', 'verify', 'restore', 'drill'])

export interface ConnectionSettings {
  readonly hosts: readonly HostPort[]
  readonly targetSessionAttrs: TargetSessionAttrs
  readonly warnings: readonly string[]
}

/**
 * DBHOOK_HOST, DBHOOK_PORT and DBHOOK_TARGET_SESSION_ATTRS: where the server is and which of several hosts a
 * session may end on. `sql` needs no server; a list of hosts is for PostgreSQL only.
 */
export function readConnection(
  input: {
    readonly settings: Pick<Settings, 'DBHOOK_HOST' | 'DBHOOK_TARGET_SESSION_ATTRS'>
    readonly given: Readonly<Record<string, string>>
    readonly engine: Engine
    readonly command: Command
    readonly defaultPort: number
  },
  problems: string[],
): ConnectionSettings {
  const { settings, given, engine, command } = input
  if (command !== 'sql' && settings.DBHOOK_HOST === '') problems.push('DBHOOK_HOST (or PGHOST) is required')
  const { hosts, problems: hostProblems } = parseHosts(settings.DBHOOK_HOST, given.DBHOOK_PORT, input.defaultPort)
  problems.push(...hostProblems)
  if (hosts.length > 1 && engine !== 'postgres') {
    problems.push(`DBHOOK_HOST lists ${hosts.length} hosts: a list of hosts is supported for PostgreSQL only; give MySQL/MariaDB one host`)
  }
  const attrs = settings.DBHOOK_TARGET_SESSION_ATTRS
  const attrsGiven = given.DBHOOK_TARGET_SESSION_ATTRS !== undefined
  if (attrsGiven && writingCommands.has(command) && ['read-only', 'standby', 'prefer-standby'].includes(attrs)) {
    problems.push(
      `DBHOOK_TARGET_SESSION_ATTRS=${attrs} cannot be used with ${command}, which writes: use read-write (the default), primary or any`,
    )
  }
  const warnings = engine !== 'postgres' && attrsGiven ? ['DBHOOK_TARGET_SESSION_ATTRS is for PostgreSQL only and is ignored'] : []
  return { hosts, targetSessionAttrs: attrs, warnings }
}
