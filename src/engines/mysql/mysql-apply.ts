import type { Connection, ResultSetHeader } from 'mysql2/promise'
import { describeStep, type PlanResult } from '../../plan.ts'
import type { ApplyReport, DatabaseOutcome, RunContext } from '../engine.ts'
import { stepError } from './mysql-errors.ts'
import type { MysqlFacts } from './mysql-inspect.ts'
import { mysqlSpecOf } from './mysql-items.ts'
import {
  createDatabaseSql,
  createUserStatement,
  setPasswordStatement,
  wildcardGrant,
  type Account,
  type Statement,
} from './mysql-statements.ts'

/**
 * Executes the plan's steps in order, and only those, on the admin connection, which holds the provisioning lock: accounts first,
 * then per database CREATE DATABASE IF NOT EXISTS and the grants. Every statement is idempotent, so a run that
 * races one that does not lock (or a Galera node without GET_LOCK) ends in the same state.
 */
export async function applyMysqlPlan(
  connection: Connection,
  plan: PlanResult,
  facts: MysqlFacts,
  accountOf: (name: string) => Account,
  context: RunContext,
): Promise<ApplyReport> {
  const { log, config } = context
  const outcomes = new Map<string, DatabaseOutcome>(config.databases.map((db) => [db.name, 'unchanged']))
  let statements = 0
  const execute = async (statement: Statement): Promise<ResultSetHeader> => {
    log.debug({ sql: statement.loggable }, 'executing')
    const [result] = await connection.query<ResultSetHeader>(statement.sql)
    statements += 1
    return result
  }
  const plain = (sql: string): Statement => ({ sql, loggable: sql })

  for (const step of plan.steps) {
    context.signal.throwIfAborted()
    try {
      switch (step.action) {
        case 'create-role':
          await execute(createUserStatement(accountOf(step.role.name), step.role.password, facts.passwordForm, config.mysql.requireSsl))
          break
        case 'set-password':
          await execute(setPasswordStatement(accountOf(step.role.name), step.role.password ?? '', facts.passwordForm))
          break
        case 'create-database': {
          const result = await execute(plain(createDatabaseSql(step.database.name, config)))
          // IF NOT EXISTS on a database someone created meanwhile affects no row and leaves a note.
          if (result.affectedRows > 0) outcomes.set(step.database.name, 'created')
          else log.info(`database ${JSON.stringify(step.database.name)} was created by someone else meanwhile`)
          break
        }
        case 'alter-owner':
          // MySQL databases have no owner; the planner never emits this for an engine without one.
          break
        case 'ensure': {
          const sql = mysqlSpecOf(step.item).grant(step.database.name, accountOf(step.item.role ?? config.owner.name))
          if (wildcardGrant(step.database.name)) {
            log.warn(
              `${step.database.key}: the grant on ${JSON.stringify(step.database.name)} also matches databases that differ where it has _ or %, which act as wildcards: the name is too long to escape them within 64 characters`,
            )
          }
          await execute(plain(sql))
          if (outcomes.get(step.database.name) === 'unchanged') outcomes.set(step.database.name, 'updated')
          break
        }
        default:
          throw new Error(`unknown step ${JSON.stringify(step satisfies never)}`)
      }
    } catch (error) {
      throw stepError(describeStep(step), error)
    }
    log.info({ step: step.action }, describeStep(step))
  }
  return { outcomes, statements }
}
