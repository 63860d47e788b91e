import type { Config } from './config/config.ts'
import type { DatabaseSpec } from './config/databases.ts'

/** What the server should hold, derived from the configuration alone. */
export interface DesiredState {
  readonly roles: readonly DesiredRole[]
  readonly databases: readonly DesiredDatabase[]
}

export interface DesiredRole {
  readonly name: string
  readonly kind: 'owner' | 'app'
  /** Set only when dbhook may create the role and keep its password; never rendered in a step. */
  readonly password?: string
  readonly connectionLimit?: number
}

export interface DesiredDatabase extends DatabaseSpec {
  readonly owner: string
  /** Per-database items beyond existence and ownership, in the order they are applied. */
  readonly items: readonly DatabaseItem[]
}

/**
 * Something one database must hold beyond existing with the right owner: a grant, an extension, a trigger.
 * Each engine lists its kinds in one registry (`postgres-items.ts`, `mysql-items.ts`) and decides which items a
 * configuration needs (its `databaseItems`); the planner only compares ids.
 */
export interface DatabaseItem {
  /** Stable text that names the item in plans, tests and logs, e.g. `extension:pg_trgm`. */
  readonly id: string
  /** The registry entry it is an instance of, e.g. `extension`. */
  readonly kind: string
  /** What applying it does, for a person: `grant CONNECT to "app"`. */
  readonly description: string
  readonly role?: string
  readonly extension?: string
}

/** The engine facts the planner needs; it never asks for the engine's name. */
export interface PlanCapabilities {
  /** The items each listed database must hold, in the order they are applied. */
  databaseItems(config: Config): readonly DatabaseItem[]
}

/** What the server holds, as far as the desired state asks. */
export interface ObservedState {
  readonly roles: ReadonlyMap<string, ObservedRole>
  /** Only the listed databases; a missing key means the database does not exist. */
  readonly databases: ReadonlyMap<string, ObservedDatabase>
  /**
   * ids of the items a database created now holds from the start (on MySQL, what a grant on `*.*` covers): a
   * created database is planned with the rest. Without it, with all its items.
   */
  readonly newDatabase?: ReadonlySet<string>
}

export interface ObservedRole {
  /** undefined when no password was given, so none was tried; false when a login with the given one failed. */
  readonly passwordWorks?: boolean
}

export interface ObservedDatabase {
  /** null on engines without database ownership (MySQL grants privileges instead). */
  readonly owner: string | null
  /** ids of the desired items found in place. */
  readonly present: ReadonlySet<string>
}

export type Step =
  | { readonly action: 'create-role'; readonly role: DesiredRole }
  | { readonly action: 'set-password'; readonly role: DesiredRole }
  | { readonly action: 'create-database'; readonly database: DesiredDatabase }
  | { readonly action: 'alter-owner'; readonly database: DesiredDatabase; readonly from: string }
  | { readonly action: 'ensure'; readonly database: DesiredDatabase; readonly item: DatabaseItem }

/** Plan-time problems that no step can fix (a role to own databases that does not exist and cannot be made). */
export interface PlanResult {
  readonly steps: readonly Step[]
  readonly problems: readonly string[]
}

/** Derives the desired state from configuration; pure. */
export function desiredState(config: Config, capabilities: PlanCapabilities): DesiredState {
  const roles: DesiredRole[] = [
    { name: config.owner.name, kind: 'owner', password: config.owner.password, connectionLimit: config.connectionLimit },
  ]
  const app = config.app
  if (app) roles.push({ name: app.name, kind: 'app', password: app.password, connectionLimit: config.connectionLimit })
  const items = capabilities.databaseItems(config)
  const databases = config.databases.map((db): DesiredDatabase => ({ key: db.key, name: db.name, owner: config.owner.name, items }))
  return { roles, databases }
}

/**
 * Compares what should be with what is and returns the ordered steps that close the gap: roles first, then
 * each database in the configured order (create or fix its owner, then its items). Pure and deterministic.
 */
export function planChanges(desired: DesiredState, observed: ObservedState): PlanResult {
  const steps: Step[] = []
  const problems: string[] = []

  for (const role of desired.roles) {
    const found = observed.roles.get(role.name)
    if (!found) {
      if (role.password !== undefined) steps.push({ action: 'create-role', role })
      else problems.push(`role ${JSON.stringify(role.name)} does not exist; ${howToCreate(role)}`)
    } else if (found.passwordWorks === false) {
      steps.push({ action: 'set-password', role })
    }
  }

  for (const database of desired.databases) {
    const found = observed.databases.get(database.name)
    if (!found) {
      steps.push({ action: 'create-database', database })
      for (const item of database.items) {
        if (!observed.newDatabase?.has(item.id)) steps.push({ action: 'ensure', database, item })
      }
      continue
    }
    if (found.owner !== null && found.owner !== database.owner) {
      steps.push({ action: 'alter-owner', database, from: found.owner })
    }
    for (const item of database.items) {
      if (!found.present.has(item.id)) steps.push({ action: 'ensure', database, item })
    }
  }
  return { steps, problems }
}

function howToCreate(role: DesiredRole): string {
  const variable = role.kind === 'owner' ? 'DBHOOK_OWNER_PASSWORD' : 'DBHOOK_APP_PASSWORD'
  return `set ${variable} to have dbhook create it, or create it first`
}

/** The one answer to "is there anything to do". */
export function isInSync(plan: PlanResult): boolean {
  return plan.steps.length === 0 && plan.problems.length === 0
}

/** One line a person reads, e.g. `dex: create database "dex" owned by "openzro"`. Never holds a password. */
export function describeStep(step: Step): string {
  switch (step.action) {
    case 'create-role':
      return `create ${step.role.kind} role ${JSON.stringify(step.role.name)} (LOGIN, no extra attributes)`
    case 'set-password':
      return `update the password of role ${JSON.stringify(step.role.name)}: a login with the given one failed`
    case 'create-database':
      // Engines without database owners (Spanner) have an empty owner name.
      return `${step.database.key}: create database ${JSON.stringify(step.database.name)}${step.database.owner === '' ? '' : ` owned by ${JSON.stringify(step.database.owner)}`}`
    case 'alter-owner':
      return `${step.database.key}: change the owner of ${JSON.stringify(step.database.name)} from ${JSON.stringify(step.from)} to ${JSON.stringify(step.database.owner)}`
    case 'ensure':
      return `${step.database.key}: ${step.item.description}`
    default:
      return `unknown step ${JSON.stringify(step satisfies never)}`
  }
}
