import type pg from 'pg'
import { runBounded } from '../../concurrency.ts'
import type { Logger } from '../../log.ts'
import { describeStep, type DesiredDatabase, type PlanResult, type Step } from '../../plan.ts'
import type { ApplyReport, DatabaseOutcome, RunContext } from '../engine.ts'
import { errorCode } from '../driver-errors.ts'
import { stepError } from './postgres-errors.ts'
import { SqlState } from './postgres-sqlstate.ts'
import type { AdminFacts } from './postgres-inspect.ts'
import { itemNames, specOf } from './postgres-items.ts'
import { withLentMemberships } from './postgres-lending.ts'
import { passwordVerifier } from './postgres-password.ts'
import { checkPrivileges, runsAsOwner } from './postgres-privileges.ts'
import {
  alterOwnerSql,
  createDatabaseSql,
  createRoleSql,
  loggableSql,
  quoteIdentifier,
  setPasswordSql,
  type ItemStatement,
} from './postgres-statements.ts'

/** Opens another admin connection, to `database`. */
export type ConnectAdmin = (database: string) => Promise<pg.Client>

type EnsureStep = Extract<Step, { action: 'ensure' }>

/** A database this run gives its owner: created as the admin's own, or found with another owner. */
interface HandOver {
  readonly database: DesiredDatabase
  readonly from: string
  readonly step: Step
}

/**
 * Executes the plan's steps, and only those, on the admin connection, which holds the provisioning lock: roles
 * first, then databases are created on up to DBHOOK_PARALLEL connections, handed over to their owner, and given
 * the items the plan lists for them (again up to DBHOOK_PARALLEL databases at once). The one departure: a database
 * someone created meanwhile without dbhook's lock, with another owner, is handed over too.
 *
 * A membership the admin must lend itself (to act as the owner) exists only inside a transaction that also does
 * the work and takes it back (see `withLentMemberships`), so that a run killed at any point leaves none behind.
 * CREATE DATABASE ... OWNER r would need that membership outside any transaction, so such an admin creates the
 * database as its own and hands it over in the transaction that puts its items in place; a run killed in between
 * leaves a database owned by the admin, which the next run plans as a change of owner.
 */
export async function applyPostgresPlan(
  client: pg.Client,
  plan: PlanResult,
  facts: AdminFacts,
  context: RunContext,
  connect: ConnectAdmin,
): Promise<ApplyReport> {
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
  const who = JSON.stringify(facts.user)

  // The roles the admin cannot act as by itself; each transaction lends itself those it needs, and no others.
  const lendable = new Set(checkPrivileges(plan.steps, facts).temporaryMemberships)
  const lendings = new Map<string, number>()
  const lend = (roles: readonly string[]) => {
    const needed = [...new Set(roles)].filter((role) => lendable.has(role))
    for (const role of needed) lendings.set(role, (lendings.get(role) ?? 0) + 1)
    return needed
  }
  for (const role of lendable) {
    log.info(
      `${who} lends itself membership in ${JSON.stringify(role)} only inside the transactions that act for it (GRANT, the work, REVOKE, COMMIT): a run killed at any point leaves no membership behind`,
    )
  }

  for (const step of [...of('create-role'), ...of('set-password')]) {
    await run(step, async () => {
      const password = step.role.password
      const verifier = password === undefined ? undefined : passwordVerifier(password, step.role.name, facts.passwordEncryption)
      await execute(step.action === 'create-role' ? createRoleSql(step.role, verifier) : setPasswordSql(step.role.name, verifier ?? ''))
    })
    log.info({ step: step.action }, describeStep(step))
  }

  const handOvers = new Map<string, HandOver>()
  const creates = of('create-database')
  await onConnections(
    client,
    Math.min(config.parallel, creates.length),
    connect,
    config.admin.database,
    async (target, next) => {
      for (let step = next(); step; step = next()) {
        const { database } = step
        const asAdmin = lendable.has(database.owner)
        await run(step, async () => {
          const created = await createDatabase(executeOn(target), database.name, asAdmin ? undefined : database.owner, log)
          if (created) outcomes.set(database.name, 'created')
          const owner = created ? (asAdmin ? facts.user : database.owner) : await ownerOf(target, database.name)
          if (owner !== undefined && owner !== database.owner) handOvers.set(database.name, { database, from: owner, step })
        })
        log.info(
          { step: step.action },
          asAdmin
            ? `${database.key}: create database ${JSON.stringify(database.name)} (owned by ${who} until a transaction hands it over to ${JSON.stringify(database.owner)})`
            : describeStep(step),
        )
      }
    },
    creates,
  )
  for (const step of of('alter-owner')) handOvers.set(step.database.name, { database: step.database, from: step.from, step })

  const handedOver = (handOver: HandOver) => {
    const { key, name, owner } = handOver.database
    if (outcomes.get(name) === 'unchanged') outcomes.set(name, 'owner-fixed')
    // A hand-over of a database this run created as the admin's own is part of its create step, not a step.
    if (handOver.step.action === 'alter-owner') log.info({ step: handOver.step.action }, describeStep(handOver.step))
    else log.info(`${key}: handed ${JSON.stringify(name)} over to ${JSON.stringify(owner)}`)
  }

  const byDatabase = new Map<string, EnsureStep[]>()
  for (const step of of('ensure')) byDatabase.set(step.database.name, [...(byDatabase.get(step.database.name) ?? []), step])

  // Databases that need nothing but their owner are handed over together, in one transaction on this connection.
  const ownerOnly = [...handOvers.values()].filter((handOver) => !byDatabase.has(handOver.database.name))
  if (ownerOnly.length > 0) {
    await withLentMemberships(client, lend(ownerOnly.flatMap((h) => [h.from, h.database.owner])), facts.major, log, async () => {
      for (const handOver of ownerOnly)
        await run(handOver.step, () => execute(alterOwnerSql(handOver.database.name, handOver.database.owner)))
    })
    for (const handOver of ownerOnly) handedOver(handOver)
  }

  // Every other database gets one transaction of its own, on a connection to it: hand-over first, then its items.
  await runBounded([...byDatabase.values()], config.parallel, async (steps) => {
    const database = steps[0]!.database
    const handOver = handOvers.get(database.name)
    const asOwner = (step: EnsureStep) => database.owner !== facts.user && runsAsOwner(step.item, facts)
    const roles = [...(handOver ? [handOver.from, database.owner] : []), ...(steps.some(asOwner) ? [database.owner] : [])]
    const target = await connect(database.name)
    try {
      await withLentMemberships(target, lend(roles), facts.major, log, async () => {
        if (handOver) await run(handOver.step, () => executeOn(target)(alterOwnerSql(database.name, database.owner)))
        let actingAsOwner = false
        for (const step of steps) {
          await run(step, async () => {
            if (asOwner(step) !== actingAsOwner) {
              actingAsOwner = asOwner(step)
              // LOCAL, so the role ends with this transaction: behind a pooler per transaction (PgBouncer) a plain
              // SET ROLE would stay on a server backend that the pooler hands to other clients.
              await target.query(actingAsOwner ? `SET LOCAL ROLE ${quoteIdentifier(database.owner)}` : 'SET LOCAL ROLE NONE')
            }
            const statements = specOf(step.item).statements(itemNames(step.item, database.name, database.owner))
            await executeItem(target, statements, executeOn(target))
          })
        }
        if (actingAsOwner) await target.query('SET LOCAL ROLE NONE')
      })
    } finally {
      await target.end().catch(() => undefined)
    }
    if (handOver) handedOver(handOver)
    for (const step of steps) log.info({ step: step.action }, describeStep(step))
    if (outcomes.get(database.name) === 'unchanged') outcomes.set(database.name, 'updated')
  })

  for (const [role, count] of lendings) {
    log.info(
      `revoked the membership in ${JSON.stringify(role)} lent for this run: each of the ${count} transaction(s) that lent it took it back before COMMIT`,
    )
  }
  return { outcomes, statements }
}

/** Runs an item's statements; a generating query is read first and each statement it returns is run in order. */
async function executeItem(
  client: pg.Client,
  statements: readonly ItemStatement[],
  execute: (sql: string) => Promise<void>,
): Promise<void> {
  for (const statement of statements) {
    if (typeof statement === 'string') {
      await execute(statement)
      continue
    }
    const { rows } = await client.query<unknown[]>({ text: statement.generate, rowMode: 'array' })
    for (const [sql] of rows) await execute(String(sql))
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
 * CREATE DATABASE outside any transaction, owned by `owner` (the admin when undefined). A concurrent creator that
 * does not take dbhook's lock makes this fail with 42P04, or 23505 on pg_database_datname_index: both mean the
 * database exists now. Returns whether this run created it.
 */
async function createDatabase(
  execute: (sql: string) => Promise<void>,
  name: string,
  owner: string | undefined,
  log: Logger,
): Promise<boolean> {
  try {
    await execute(createDatabaseSql(name, owner))
    return true
  } catch (error) {
    const code = errorCode(error)
    const duplicate =
      code === SqlState.duplicateDatabase ||
      (code === SqlState.uniqueViolation && /pg_database_datname_index/.test((error as Error).message))
    if (!duplicate) throw error
    log.info(`database ${JSON.stringify(name)} was created by someone else meanwhile (${code}); checking its owner`)
    return false
  }
}

async function ownerOf(client: pg.Client, name: string): Promise<string | undefined> {
  const result = await client.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [
    name,
  ])
  return result.rows[0]?.owner
}
