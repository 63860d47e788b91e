import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { onInterrupt } from '../connections.ts'
import type { RunContext } from '../engine.ts'
import type { AdminFacts } from './postgres-inspect.ts'
import { grantMembershipSql, revokeMembershipSql } from './postgres-statements.ts'
import { DbhookError, ExitCode } from '../../errors.ts'

const { escapeIdentifier: id, escapeLiteral: literal } = pg

/**
 * How backup, restore and drill act as the owner of the databases, which owns every table they read or create:
 * - `self`: the admin is a superuser or the owner, and acts as itself (a superuser restore keeps the dump's owners);
 * - `set-role`: the admin may SET ROLE to the owner (a member, or PostgreSQL 16+'s SET option), and the tools get
 *   `--role`;
 * - `owner-login`: DBHOOK_OWNER_PASSWORD is set and the admin may not act as the owner: the tools and the
 *   sessions that read the owner's tables log in as the owner, and nothing is lent;
 * - `lent`: the admin may grant the owner (CREATEROLE) but not act as it: it lends itself the owner for the run
 *   through a role of its own, which `release` drops (see `lendOwner`).
 */
type OwnerMode = 'self' | 'set-role' | 'owner-login' | 'lent'

export interface OwnerAccess {
  readonly mode: OwnerMode
  readonly owner: string
  /** Who the tools and the owner's sessions log in as. */
  readonly login: { readonly user: string; readonly password?: string }
  /** Arguments that make pg_dump and pg_restore act as the owner once connected. */
  readonly toolArgs: readonly string[]
  /** The statement that makes a `login` session act as the owner, or undefined when it already does. */
  readonly setRole?: string
  /** Whether the admin may hand a database to the owner (CREATE DATABASE … OWNER) directly. */
  readonly adminActsAsOwner: boolean
  /** Takes back what was lent for the run (nothing for the other modes). */
  release(): Promise<void>
}

/** A prefix no person picks by chance, which the next run recognises as a lending a killed run left behind. */
const lendingPrefix = 'dbhook_lent_'

/** Session advisory lock key that marks a lending's run as alive, in the admin database. */
const liveKey = 'hashtextextended($1, 0)'

interface LendingContext {
  readonly client: pg.Client
  readonly facts: AdminFacts
  readonly context: RunContext
  /** Opens another admin connection to the admin database (for the revoke on a signal). */
  readonly connectAdmin: () => Promise<pg.Client>
}

/** Chooses how to act as the owner, lending it for the run when nothing else works. */
export async function ownerAccess({ client, facts, context, connectAdmin }: LendingContext): Promise<OwnerAccess> {
  const { config, log } = context
  const owner = config.owner.name
  const admin = { user: config.admin.user, password: config.admin.password }
  const none = async () => undefined
  const relation = facts.roles.get(owner)
  if (!relation)
    throw new DbhookError(`role ${JSON.stringify(owner)} (DBHOOK_OWNER) does not exist: run dbhook apply first`, ExitCode.failed)
  if (facts.superuser || owner === facts.user) {
    return { mode: 'self', owner, login: admin, toolArgs: [], adminActsAsOwner: true, release: none }
  }
  const setRole = `SET ROLE ${id(owner)}`
  if (relation.canActAs) {
    return { mode: 'set-role', owner, login: admin, toolArgs: [`--role=${owner}`], setRole, adminActsAsOwner: true, release: none }
  }
  if (config.owner.password !== undefined) {
    return {
      mode: 'owner-login',
      owner,
      login: { user: owner, password: config.owner.password },
      toolArgs: [],
      adminActsAsOwner: false,
      release: none,
    }
  }
  const canGrant = !relation.superuser && (relation.canGrant || (facts.createrole && facts.major < 16))
  if (!canGrant || !facts.createrole) {
    throw new DbhookError(
      `${JSON.stringify(facts.user)} can neither act as the owner ${JSON.stringify(owner)} (which owns the tables to dump and restore) nor lend itself that role: ` +
        `set DBHOOK_OWNER_PASSWORD so that the tools log in as the owner, or GRANT ${JSON.stringify(owner)} TO ${JSON.stringify(facts.user)}` +
        (facts.major >= 16 ? ' WITH SET TRUE' : ''),
      ExitCode.noPermission,
    )
  }
  const release = await lendOwner(client, facts, context, connectAdmin)
  log.info(
    `lent ${JSON.stringify(facts.user)} the role ${JSON.stringify(owner)} for this run (pg_dump and pg_restore run in sessions of their own, so the lending is committed); taken back at the end`,
  )
  return { mode: 'lent', owner, login: admin, toolArgs: [`--role=${owner}`], setRole, adminActsAsOwner: true, release }
}

/**
 * Lends the admin the owner for one run. pg_dump and pg_restore run in sessions of their own, which see only
 * committed grants, so this lending cannot stay inside one transaction as apply's do. It goes through a NOLOGIN
 * role of its own (`dbhook_lent_<random>`, NOINHERIT, with a COMMENT saying what it is): the owner is granted to
 * that role and that role to the admin, in one committed transaction, and dropping the role takes both back at
 * once without touching any membership the admin had. Two concurrent runs each have their own. The run holds a
 * session advisory lock keyed by the role's name while it lives; the role is dropped at the end, by a fresh
 * connection on SIGTERM/SIGINT, and, when the run was killed outright, by the next run, which finds the role by
 * its name and comment and sees that no live run holds its lock.
 */
async function lendOwner(
  client: pg.Client,
  facts: AdminFacts,
  context: RunContext,
  connectAdmin: () => Promise<pg.Client>,
): Promise<() => Promise<void>> {
  const { config, log } = context
  const role = `${lendingPrefix}${randomBytes(8).toString('hex')}`
  const owner = config.owner.name
  const options = facts.major >= 16 ? ' WITH INHERIT FALSE, SET TRUE' : ''
  await client.query(`SELECT pg_advisory_lock(${liveKey})`, [role])
  const drop = async (on: pg.Client) => {
    await on.query(`DROP ROLE IF EXISTS ${id(role)}`)
  }
  const forget = onInterrupt(async () => {
    const fresh = await connectAdmin()
    try {
      await drop(fresh)
    } finally {
      await fresh.end().catch(() => undefined)
    }
  })
  try {
    await client.query('BEGIN')
    await client.query(`CREATE ROLE ${id(role)} NOLOGIN NOINHERIT`)
    await client.query(`COMMENT ON ROLE ${id(role)} IS ${literal(lendingComment(config.admin.user, owner, config.admin.database))}`)
    await client.query(`GRANT ${id(owner)} TO ${id(role)}${options}`)
    await client.query(grantMembershipSql(role, facts.major))
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    forget()
    await client.query(`SELECT pg_advisory_unlock(${liveKey})`, [role]).catch(() => undefined)
    throw new DbhookError(
      `could not lend ${JSON.stringify(config.admin.user)} the role ${JSON.stringify(owner)}: ${(error as Error).message}`,
      ExitCode.noPermission,
      { cause: error },
    )
  }
  return async () => {
    try {
      // Membership first, so that even a role that cannot be dropped no longer lends anything.
      await client.query(revokeMembershipSql(role)).catch(() => undefined)
      await drop(client)
      forget()
      log.info(`took back the role ${JSON.stringify(owner)} lent for this run`)
    } catch (error) {
      log.warn(
        `could not drop ${role}, which lent ${JSON.stringify(owner)} for this run (the next run drops it): ${(error as Error).message}`,
      )
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${liveKey})`, [role]).catch(() => undefined)
    }
  }
}

function lendingComment(admin: string, owner: string, adminDatabase: string): string {
  return `dbhook: lends ${JSON.stringify(owner)} to ${JSON.stringify(admin)} for one backup, restore or drill run, whose lock is in database ${JSON.stringify(adminDatabase)}; dropped at its end, or by the next run`
}

/**
 * Drops the lending roles of runs that were killed before they could: roles named `dbhook_lent_…` whose comment
 * is dbhook's for this admin database and whose lock no live session holds.
 */
export async function dropAbandonedLendings(client: pg.Client, context: RunContext): Promise<void> {
  const { config, log } = context
  const { rows } = await client.query<{ role: string; comment: string }>(
    `SELECT r.rolname AS role, d.description AS comment FROM pg_roles r
       JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass
      WHERE r.rolname LIKE $1`,
    [`${lendingPrefix.replace(/_/g, '\\_')}%`],
  )
  for (const { role, comment } of rows) {
    if (!comment.startsWith('dbhook: lends ') || !comment.includes(`whose lock is in database ${JSON.stringify(config.admin.database)};`))
      continue
    const free = (await client.query<{ free: boolean }>(`SELECT pg_try_advisory_lock(${liveKey}) AS free`, [role])).rows[0]?.free
    if (!free) continue
    try {
      await client.query(`DROP ROLE IF EXISTS ${id(role)}`)
      log.warn(`dropped ${role}, a lending of the owner left behind by a dbhook run that was killed`)
    } catch (error) {
      log.warn(`could not drop ${role}, a lending left behind by a killed dbhook run: ${(error as Error).message}`)
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${liveKey})`, [role]).catch(() => undefined)
    }
  }
}
