import type pg from 'pg'
import type { Logger } from '../../log.ts'
import { stepDatabase, describeStep, type PlanResult, type Step } from '../../plan.ts'
import type { ApplyReport, DatabaseOutcome, RunContext } from '../engine.ts'
import { errorCode, stepError } from './postgres-errors.ts'
import type { AdminFacts } from './postgres-inspect.ts'
import { passwordVerifier } from './postgres-password.ts'
import { checkPrivileges } from './postgres-privileges.ts'
import {
  alterOwnerSql,
  createDatabaseSql,
  createRoleSql,
  grantMembershipSql,
  loggableSql,
  revokeMembershipSql,
  setPasswordSql,
} from './postgres-statements.ts'

/** Runs a statement that changes something, logging it (without any password verifier) first. */
export type Execute = (sql: string) => Promise<void>

/** Carries out per-database items (grants, extensions, trigger); supplied by the grants module. */
export type ItemRunner = (steps: readonly Step[], context: RunContext) => Promise<number>

/**
 * Executes the plan's steps in order on the admin connection, which holds the provisioning lock. Role steps come
 * first; before the first database step that needs it, the admin lends itself the memberships the privilege
 * check found necessary, and takes them back at the end whatever happens.
 */
export async function applyPostgresPlan(
  client: pg.Client,
  plan: PlanResult,
  facts: AdminFacts,
  context: RunContext,
  runItems: ItemRunner,
): Promise<ApplyReport> {
  const { log } = context
  const outcomes = new Map<string, DatabaseOutcome>(context.config.databases.map((db) => [db.name, 'unchanged']))
  let statements = 0
  const execute: Execute = async (sql) => {
    log.debug({ sql: loggableSql(sql) }, 'executing')
    await client.query(sql)
    statements += 1
  }

  const { temporaryMemberships } = checkPrivileges(plan.steps, facts)
  const lent: string[] = []
  const lendMemberships = async () => {
    for (const role of temporaryMemberships) {
      if (lent.includes(role)) continue
      log.info(`granting ${JSON.stringify(facts.user)} membership in ${JSON.stringify(role)} for this run, to create or hand over databases it owns; revoked at the end`)
      await execute(grantMembershipSql(role, facts.major))
      lent.push(role)
    }
  }

  const itemSteps: Step[] = []
  try {
    for (const step of plan.steps) {
      context.signal.throwIfAborted()
      try {
        switch (step.action) {
          case 'create-role': {
            const verifier = step.role.password === undefined ? undefined : passwordVerifier(step.role.password, step.role.name, facts.passwordEncryption)
            await execute(createRoleSql(step.role, verifier))
            break
          }
          case 'set-password':
            await execute(setPasswordSql(step.role.name, passwordVerifier(step.role.password ?? '', step.role.name, facts.passwordEncryption)))
            break
          case 'create-database':
            await lendMemberships()
            if (await createDatabase(client, execute, step.database.name, step.database.owner, log)) {
              outcomes.set(step.database.name, 'created')
            }
            break
          case 'alter-owner':
            await lendMemberships()
            await execute(alterOwnerSql(step.database.name, step.database.owner))
            outcomes.set(step.database.name, 'owner-fixed')
            break
          case 'ensure':
            itemSteps.push(step)
            break
          default:
            throw new Error(`unknown step ${JSON.stringify(step satisfies never)}`)
        }
      } catch (error) {
        throw stepError(describeStep(step), error)
      }
      if (step.action !== 'ensure') log.info(describeStep(step))
    }
    if (itemSteps.length > 0) {
      statements += await runItems(itemSteps, context)
      for (const step of itemSteps) {
        const name = stepDatabase(step)?.name
        if (name && outcomes.get(name) === 'unchanged') outcomes.set(name, 'updated')
      }
    }
  } finally {
    for (const role of lent.reverse()) {
      try {
        await client.query(revokeMembershipSql(role))
        log.info(`revoked the membership in ${JSON.stringify(role)} lent for this run`)
      } catch (error) {
        log.warn(`could not revoke the membership in ${JSON.stringify(role)} lent for this run: ${(error as Error).message}`)
      }
    }
  }
  return { outcomes, statements }
}

/**
 * CREATE DATABASE outside any transaction. A concurrent creator that does not take dbhook's lock makes this
 * fail with 42P04, or 23505 on pg_database_datname_index: both mean the database exists now. Returns whether
 * this run created it; the caller's next plan (or a re-run) fixes an owner the other creator chose.
 */
async function createDatabase(client: pg.Client, execute: Execute, name: string, owner: string, log: Logger): Promise<boolean> {
  try {
    await execute(createDatabaseSql(name, owner))
    return true
  } catch (error) {
    const code = errorCode(error)
    const duplicate = code === '42P04' || (code === '23505' && /pg_database_datname_index/.test((error as Error).message))
    if (!duplicate) throw error
    log.info(`database ${JSON.stringify(name)} was created by someone else meanwhile (${code}); checking its owner`)
    const result = await client.query<{ owner: string }>(
      'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
      [name],
    )
    const found = result.rows[0]?.owner
    if (found !== undefined && found !== owner) await execute(alterOwnerSql(name, owner))
    return false
  }
}
