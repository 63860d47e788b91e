import type pg from 'pg'
import { runBounded } from '../../concurrency.ts'
import type { Logger } from '../../log.ts'
import { describeStep, type PlanResult, type Step } from '../../plan.ts'
import { onInterrupt } from '../connections.ts'
import type { ApplyReport, DatabaseOutcome, RunContext } from '../engine.ts'
import { errorCode, stepError } from './postgres-errors.ts'
import { inspectDatabaseItems, itemRunsAsOwner, itemStatements } from './postgres-grants.ts'
import type { AdminFacts } from './postgres-inspect.ts'
import { passwordVerifier } from './postgres-password.ts'
import { checkPrivileges } from './postgres-privileges.ts'
import {
  alterOwnerSql,
  createDatabaseSql,
  createRoleSql,
  grantMembershipSql,
  loggableSql,
  quoteIdentifier,
  revokeMembershipSql,
  setPasswordSql,
} from './postgres-statements.ts'

/** Opens another admin connection, to `database`. */
export type ConnectAdmin = (database: string) => Promise<pg.Client>

type DatabaseStep = Extract<Step, { database: unknown }>

/**
 * Executes the plan on the admin connection, which holds the provisioning lock: roles first, then the admin
 * lends itself the memberships the privilege check asked for, creates databases on up to DBHOOK_PARALLEL
 * connections, hands over owners, and puts each database's items in place (again up to DBHOOK_PARALLEL
 * databases at once). Lent memberships are taken back at the end whatever happens.
 */
export async function applyPostgresPlan(client: pg.Client, plan: PlanResult, facts: AdminFacts, context: RunContext, connect: ConnectAdmin): Promise<ApplyReport> {
  const { log, config } = context
  const outcomes = new Map<string, DatabaseOutcome>(config.databases.map((db) => [db.name, 'unchanged']))
  let statements = 0
  const executeOn = (target: pg.Client) => async (sql: string) => {
    log.debug({ sql: loggableSql(sql) }, 'executing')
    await target.query(sql)
    statements += 1
  }
  const execute = executeOn(client)
  const run = async (step: Step, action: () => Promise<void>) => {
    context.signal.throwIfAborted()
    try {
      await action()
    } catch (error) {
      throw stepError(describeStep(step), error)
    }
  }

  const of = <A extends Step['action']>(action: A) => plan.steps.filter((s): s is Extract<Step, { action: A }> => s.action === action)
  const { temporaryMemberships } = checkPrivileges(plan.steps, facts)
  const lent: string[] = []
  const forgetInterruptCleanups: (() => void)[] = []
  try {
    for (const step of [...of('create-role'), ...of('set-password')]) {
      await run(step, async () => {
        const password = step.role.password
        const verifier = password === undefined ? undefined : passwordVerifier(password, step.role.name, facts.passwordEncryption)
        await execute(step.action === 'create-role' ? createRoleSql(step.role, verifier) : setPasswordSql(step.role.name, verifier ?? ''))
      })
      log.info(describeStep(step))
    }

    for (const role of temporaryMemberships) {
      log.info(`granting ${JSON.stringify(facts.user)} membership in ${JSON.stringify(role)} for this run, to act for the role that owns the databases; revoked at the end`)
      // A signal closes the admin connection mid-statement; the revoke then needs a connection of its own.
      forgetInterruptCleanups.push(onInterrupt(() => revokeOnOwnConnection(connect, config.admin.database, role)))
      await execute(grantMembershipSql(role, facts.major))
      lent.push(role)
    }

    const creates = of('create-database')
    await onConnections(client, Math.min(config.parallel, creates.length), connect, config.admin.database, async (target, next) => {
      for (let step = next(); step; step = next()) {
        const { name, owner } = step.database
        await run(step, async () => {
          if (await createDatabase(target, executeOn(target), name, owner, log)) outcomes.set(name, 'created')
        })
        log.info(describeStep(step))
      }
    }, creates)

    for (const step of of('alter-owner')) {
      await run(step, () => execute(alterOwnerSql(step.database.name, step.database.owner)))
      outcomes.set(step.database.name, 'owner-fixed')
      log.info(describeStep(step))
    }

    const createdNames = new Set(creates.map((step) => step.database.name))
    const byDatabase = new Map<string, DatabaseStep[]>()
    for (const step of of('ensure')) byDatabase.set(step.database.name, [...(byDatabase.get(step.database.name) ?? []), step])
    const trusted = new Set([...facts.extensions].filter(([, e]) => e.trusted).map(([name]) => name))
    await runBounded([...byDatabase.values()], config.parallel, async (steps) => {
      const database = steps[0]!.database
      const target = await connect(database.name)
      try {
        const asOwner = database.owner !== facts.user
        // A database created in this run was planned with all its items; many come with creation itself
        // (CREATE on public, PUBLIC's rights on 15+), so look again and do only what is still missing.
        const present = createdNames.has(database.name)
          ? await inspectDatabaseItems(target, database.items, database.owner, config.app?.name)
          : new Set<string>()
        for (const step of steps) {
          if (step.action !== 'ensure' || present.has(step.item.id)) continue
          await run(step, async () => {
            const owned = asOwner && itemRunsAsOwner(step.item, trusted, facts.major)
            // One transaction per item, the role set LOCAL to it: behind a pooler per transaction (PgBouncer)
            // a plain SET ROLE would stay on a server backend that the pooler hands to other clients.
            await target.query('BEGIN')
            try {
              if (owned) await target.query(`SET LOCAL ROLE ${quoteIdentifier(database.owner)}`)
              for (const sql of await itemStatements(target, step.item, database.name, database.owner, facts.major)) await executeOn(target)(sql)
              await target.query('COMMIT')
            } catch (error) {
              await target.query('ROLLBACK').catch(() => undefined)
              throw error
            }
          })
          log.info(describeStep(step))
        }
      } finally {
        await target.end().catch(() => undefined)
      }
      if (outcomes.get(database.name) === 'unchanged') outcomes.set(database.name, 'updated')
    })
  } finally {
    for (const forget of forgetInterruptCleanups) forget()
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

async function revokeOnOwnConnection(connect: ConnectAdmin, database: string, role: string): Promise<void> {
  const client = await connect(database)
  try {
    await client.query(revokeMembershipSql(role))
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Runs `work` on `count` connections at once (the admin connection plus count-1 more to `database`), all
 * taking items from one queue; the extra connections are closed afterwards. A failure stops the queue.
 */
async function onConnections<T>(
  main: pg.Client,
  count: number,
  connect: ConnectAdmin,
  database: string,
  work: (client: pg.Client, next: () => T | undefined) => Promise<void>,
  items: readonly T[],
): Promise<void> {
  if (items.length === 0) return
  let index = 0
  let failed = false
  const next = () => (failed ? undefined : items[index++])
  const extra: pg.Client[] = []
  try {
    const workers = [main]
    for (let i = 1; i < count; i += 1) {
      const client = await connect(database)
      extra.push(client)
      workers.push(client)
    }
    const results = await Promise.allSettled(
      workers.map(async (client) => {
        try {
          await work(client, next)
        } catch (error) {
          failed = true
          throw error
        }
      }),
    )
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (rejected) throw rejected.reason
  } finally {
    await Promise.all(extra.map((c) => c.end().catch(() => undefined)))
  }
}

/**
 * CREATE DATABASE outside any transaction. A concurrent creator that does not take dbhook's lock makes this
 * fail with 42P04, or 23505 on pg_database_datname_index: both mean the database exists now. Returns whether
 * this run created it; when the other creator chose another owner, the owner is handed over.
 */
async function createDatabase(client: pg.Client, execute: (sql: string) => Promise<void>, name: string, owner: string, log: Logger): Promise<boolean> {
  try {
    await execute(createDatabaseSql(name, owner))
    return true
  } catch (error) {
    const code = errorCode(error)
    const duplicate = code === '42P04' || (code === '23505' && /pg_database_datname_index/.test((error as Error).message))
    if (!duplicate) throw error
    log.info(`database ${JSON.stringify(name)} was created by someone else meanwhile (${code}); checking its owner`)
    const result = await client.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [name])
    const found = result.rows[0]?.owner
    if (found !== undefined && found !== owner) await execute(alterOwnerSql(name, owner))
    return false
  }
}
