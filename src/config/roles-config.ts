import type { Command, RoleSpec } from './config.ts'
import { readGeneratedSecrets, type GeneratedSecrets } from './generated-secret-config.ts'
import { quoteValue } from './quote.ts'
import type { EngineRules } from './rules.ts'
import type { Settings } from './variables.ts'

export interface RoleSettings {
  readonly admin: { readonly user: string; readonly password?: string; readonly database: string }
  readonly owner: RoleSpec
  readonly app?: RoleSpec
  readonly generatedSecrets: GeneratedSecrets
}

type RoleVariables =
  | 'DBHOOK_ADMIN_USER'
  | 'DBHOOK_ADMIN_PASSWORD'
  | 'DBHOOK_ADMIN_DATABASE'
  | 'DBHOOK_OWNER'
  | 'DBHOOK_OWNER_PASSWORD'
  | 'DBHOOK_APP_USER'
  | 'DBHOOK_APP_PASSWORD'
  | 'DBHOOK_OWNER_GENERATED_SECRET'
  | 'DBHOOK_APP_GENERATED_SECRET'

/**
 * The admin dbhook logs in as, the owner of the databases (the admin unless DBHOOK_OWNER names another role, whose
 * password is then the admin's only when it is the admin) and the optional app role, with their passwords given or
 * kept in a generated Secret. Problems never hold a password.
 */
export function readRoles(
  input: {
    readonly settings: Pick<Settings, RoleVariables>
    readonly command: Command
    readonly roleNameProblem: EngineRules['roleNameProblem']
  },
  problems: string[],
): RoleSettings {
  const { settings, command, roleNameProblem } = input
  const adminUser = settings.DBHOOK_ADMIN_USER
  const adminPassword = settings.DBHOOK_ADMIN_PASSWORD || undefined
  const ownerName = settings.DBHOOK_OWNER || adminUser
  const ownerIsAdmin = ownerName === adminUser
  const ownerPassword = settings.DBHOOK_OWNER_PASSWORD || (ownerIsAdmin ? adminPassword : undefined)

  if (command !== 'sql' && command !== 'verify' && adminUser === '') {
    problems.push('DBHOOK_ADMIN_USER (or PGUSER) is required')
  }
  if (ownerName === '' && command !== 'wait') problems.push('DBHOOK_OWNER is required (or DBHOOK_ADMIN_USER to own the databases)')
  const ownerProblem = ownerName === '' ? undefined : roleNameProblem(ownerName)
  if (ownerProblem && command !== 'wait') problems.push(`DBHOOK_OWNER ${quoteValue(ownerName)} ${ownerProblem}`)
  if (command === 'verify' && !ownerIsAdmin && ownerPassword === undefined && settings.DBHOOK_OWNER_GENERATED_SECRET === '') {
    problems.push('DBHOOK_OWNER_PASSWORD (or DBHOOK_OWNER_PASSWORD_FILE) is required: verify logs in as the owner')
  }

  const appName = settings.DBHOOK_APP_USER
  if (appName !== '') {
    const appProblem = roleNameProblem(appName)
    if (appProblem) problems.push(`DBHOOK_APP_USER ${quoteValue(appName)} ${appProblem}`)
    else if (appName === ownerName) problems.push('DBHOOK_APP_USER must differ from the owner role')
  } else if (settings.DBHOOK_APP_PASSWORD !== '') {
    problems.push('DBHOOK_APP_PASSWORD is set but DBHOOK_APP_USER is not')
  }

  const generated = readGeneratedSecrets({
    ownerSecret: settings.DBHOOK_OWNER_GENERATED_SECRET,
    appSecret: settings.DBHOOK_APP_GENERATED_SECRET,
    ownerPasswordGiven: settings.DBHOOK_OWNER_PASSWORD !== '',
    appPasswordGiven: settings.DBHOOK_APP_PASSWORD !== '',
    ownerIsAdmin,
    appUser: appName,
  })
  problems.push(...generated.problems)

  return {
    admin: { user: adminUser, password: adminPassword, database: settings.DBHOOK_ADMIN_DATABASE },
    owner: { name: ownerName, password: ownerPassword },
    app: appName === '' ? undefined : { name: appName, password: settings.DBHOOK_APP_PASSWORD || undefined },
    generatedSecrets: generated.settings,
  }
}
