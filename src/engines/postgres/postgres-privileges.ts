import type { EventTriggerMode } from '../../config/config.ts'
import type { DatabaseItem, Step } from '../../plan.ts'
import type { AdminFacts } from './postgres-inspect.ts'
import { specOf } from './postgres-items.ts'

export interface PrivilegeCheck {
  /** Steps the admin cannot do, each naming the missing privilege; apply refuses (exit 77) before any change. */
  readonly problems: readonly string[]
  /** Roles the admin cannot act as by itself: apply lends them only inside the transactions that act for them. */
  readonly temporaryMemberships: readonly string[]
}

/**
 * Decides, before anything changes, whether the admin can carry out each step, and which role memberships it
 * must lend itself. CREATE DATABASE ... OWNER r and ALTER DATABASE ... OWNER TO r need CREATEDB and the right
 * to act as r (membership up to 15, SET from 16), and handing over a database also needs to act as its owner.
 * Pure: works on the facts the inspection read.
 */
export function checkPrivileges(steps: readonly Step[], facts: AdminFacts): PrivilegeCheck {
  const problems: string[] = []
  const memberships = new Set<string>()
  const createdRoles = new Set(steps.flatMap((s) => (s.action === 'create-role' ? [s.role.name] : [])))
  const createdDatabases = new Set(steps.flatMap((s) => (s.action === 'create-database' ? [s.database.name] : [])))
  const who = JSON.stringify(facts.user)

  const actAs = (role: string, why: string) => {
    if (facts.superuser || role === facts.user) return
    const relation = facts.roles.get(role)
    if (relation?.canActAs) return
    if (relation?.superuser) {
      problems.push(`${why}: role ${JSON.stringify(role)} is a superuser and ${who} is not`)
      return
    }
    // A CREATEROLE admin gets ADMIN OPTION on roles it creates (16+) and may grant any non-superuser role (<= 15).
    const canGrant = relation?.canGrant || (facts.createrole && (facts.major < 16 || createdRoles.has(role) || relation === undefined))
    if (canGrant) memberships.add(role)
    else {
      const right = facts.major >= 16 ? 'SET ROLE' : 'membership in'
      problems.push(
        `${why}: ${who} needs ${right} ${JSON.stringify(role)} (GRANT ${JSON.stringify(role)} TO ${who}${facts.major >= 16 ? ' WITH SET TRUE' : ''}), or CREATEROLE with ADMIN OPTION on it`,
      )
    }
  }

  for (const step of steps) {
    switch (step.action) {
      case 'create-role':
      case 'set-password': {
        const relation = facts.roles.get(step.role.name)
        const allowed =
          facts.superuser || (facts.createrole && (step.action === 'create-role' || facts.major < 16 || relation?.canGrant === true))
        if (!allowed) {
          const verb = step.action === 'create-role' ? 'create role' : 'change the password of role'
          const need = step.action === 'create-role' || facts.major < 16 ? 'CREATEROLE' : 'CREATEROLE and ADMIN OPTION on the role'
          problems.push(`cannot ${verb} ${JSON.stringify(step.role.name)}: ${who} lacks ${need}`)
        }
        break
      }
      case 'create-database':
        if (!facts.superuser && !facts.createdb) {
          problems.push(`cannot create database ${JSON.stringify(step.database.name)}: ${who} lacks CREATEDB`)
        }
        actAs(
          step.database.owner,
          `cannot create database ${JSON.stringify(step.database.name)} owned by ${JSON.stringify(step.database.owner)}`,
        )
        break
      case 'alter-owner': {
        const why = `cannot change the owner of ${JSON.stringify(step.database.name)}`
        if (!facts.superuser && !facts.createdb) problems.push(`${why}: ${who} lacks CREATEDB`)
        actAs(step.from, why)
        actAs(step.database.owner, why)
        break
      }
      case 'ensure': {
        const { item, database } = step
        const where = JSON.stringify(database.name)
        const requirement = specOf(item).requirement(facts.major)
        switch (requirement) {
          case 'event-triggers':
            if (!facts.mayCreateEventTriggers) {
              problems.push(
                `cannot install the permission event trigger in ${where}: ${who} is not a superuser (nor rds_superuser, cloudsqlsuperuser or alloydbsuperuser); set DBHOOK_EVENT_TRIGGER=auto to rely on default privileges instead`,
              )
            }
            break
          case 'extension': {
            const extension = JSON.stringify(item.extension)
            const available = facts.extensions.get(item.extension ?? '')
            if (!available)
              problems.push(
                `cannot create extension ${extension} in ${where}: the server does not have it (install its package on the server)`,
              )
            else if (available.trusted) actAs(database.owner, `cannot create extension ${extension} in ${where} as its owner`)
            else if (!facts.superuser)
              problems.push(`cannot create extension ${extension} in ${where}: it is not trusted, so it needs a superuser`)
            break
          }
          case 'own-schema-public':
            // A database created in this run is planned with all its items; with a template1 as PostgreSQL makes
            // it, its owner may create in public from the start, and the statement runs only where that is not so.
            if (!facts.superuser && !createdDatabases.has(database.name)) {
              problems.push(
                `cannot ${item.description} in ${where}: schema public belongs to the bootstrap superuser, so this needs a superuser`,
              )
            }
            break
          case 'act-as-owner':
            actAs(database.owner, `cannot ${item.description} in ${where}`)
            break
          default:
            problems.push(`unknown requirement ${JSON.stringify(requirement satisfies never)}`)
        }
        break
      }
      default:
        problems.push(`unknown step ${JSON.stringify(step satisfies never)}`)
    }
  }
  return { problems, temporaryMemberships: [...memberships] }
}

/**
 * Steps left out by design rather than refused, each with its registry entry's reason: the event trigger in auto
 * mode, and (PostgreSQL 14 and older) taking CREATE on public away from PUBLIC, when the admin lacks the rights.
 */
export function skippedSteps(
  steps: readonly Step[],
  facts: AdminFacts,
  eventTrigger: EventTriggerMode,
  owner: string,
): { step: Step; reason: string }[] {
  return steps.flatMap((step) => {
    if (step.action !== 'ensure') return []
    const reason = specOf(step.item).skipped?.({ facts, eventTrigger, owner })
    return reason === undefined ? [] : [{ step, reason }]
  })
}

/** Who runs an item's statements: the owner (through SET ROLE, so objects and grants are the owner's) or the admin. */
export function runsAsOwner(item: DatabaseItem, facts: AdminFacts): boolean {
  switch (specOf(item).requirement(facts.major)) {
    case 'act-as-owner':
      return true
    case 'extension':
      return facts.extensions.get(item.extension ?? '')?.trusted === true
    default:
      return false
  }
}
