import type pg from 'pg'
import type { Logger } from '../../log.ts'
import { grantMembershipSql, revokeMembershipSql } from './postgres-statements.ts'

/**
 * Runs `work` in one transaction in which the admin holds the memberships in `roles`, and only there:
 * BEGIN; GRANT each role TO CURRENT_USER; the work; REVOKE each; COMMIT. A membership granted in a transaction is
 * visible to that session at once (SET ROLE and ALTER DATABASE ... OWNER work right after the GRANT) and to nobody
 * else, and a run killed at any point (SIGKILL, OOM, a node drain) rolls it back with the transaction: nothing
 * lent outlives the statement that needed it. A failure rolls back the whole transaction and is rethrown.
 *
 * Transactions that lend the same role take turns: the second GRANT waits on the first one's pg_auth_members row
 * until that transaction ends.
 */
export async function withLentMemberships<T>(
  client: pg.Client,
  roles: readonly string[],
  major: number,
  log: Logger,
  work: () => Promise<T>,
): Promise<T> {
  await client.query('BEGIN')
  try {
    for (const role of roles) {
      log.debug(`lending ${JSON.stringify(role)} to the admin inside this transaction`)
      await client.query(grantMembershipSql(role, major))
    }
    // `work` ends as the admin again (SET LOCAL ROLE NONE after any SET LOCAL ROLE), so that it can give the memberships back.
    const result = await work()
    for (const role of [...roles].reverse()) await client.query(revokeMembershipSql(role))
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}
