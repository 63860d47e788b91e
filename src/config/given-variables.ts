import { readFileSync } from 'node:fs'
import { quoteValue } from './quote.ts'

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

/**
 * The DBHOOK_ variables as given: libpq's PG* variable where the DBHOOK_ one is unset, each secret's `*_FILE` read
 * in its place (the file wins), empty values dropped. A file that cannot be read is a problem naming the variable
 * and the path, never a value.
 */
export function readGivenVariables(env: Env, problems: string[]): Record<string, string> {
  const given: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('DBHOOK_') && value !== undefined) given[name] = value
  }
  for (const [name, fallback] of Object.entries(libpqFallbacks)) {
    const value = env[fallback]
    if (given[name] === undefined && value !== undefined) given[name] = value
  }
  for (const name of secretVariables) {
    const file = given[`${name}_FILE`]
    delete given[`${name}_FILE`]
    if (file === undefined || file === '') continue
    try {
      given[name] = stripOneNewline(readFileSync(file, 'utf8'))
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${quoteValue(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  // An empty variable means "not set": Helm renders absent values as empty strings.
  for (const [name, value] of Object.entries(given)) if (value === '') delete given[name]
  return given
}

// Files written by `echo` or a Secret created from a file end in one newline that is not part of the password.
function stripOneNewline(value: string): string {
  if (value.endsWith('\r\n')) return value.slice(0, -2)
  if (value.endsWith('\n')) return value.slice(0, -1)
  return value
}
