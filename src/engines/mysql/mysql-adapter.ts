import type { Connection, RowDataPacket } from 'mysql2/promise'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { DesiredState, PlanResult } from '../../plan.ts'
import { testPasswords } from '../password-check.ts'
import type { AdminSession, EngineAdapter, EngineInspection, RunContext } from '../engine.ts'
import { applyMysqlPlan } from './mysql-apply.ts'
import { mysqlCapabilities } from './mysql-capabilities.ts'
import { closeMysql, connectMysql, connectMysqlWithWait } from './mysql-connect.ts'
import { MysqlErrno } from './mysql-errno.ts'
import { serverErrno } from './mysql-errors.ts'
import { inspectMysql, type MysqlFacts } from './mysql-inspect.ts'
import { mysqlPrivilegeProblems, parseAdminGrants } from './mysql-privileges.ts'
import { mysqlScript } from './mysql-script.ts'
import { checkCharset, type Account } from './mysql-statements.ts'
import { mysqlTlsPlan, readMysqlTlsMaterial, type MysqlTlsMaterial } from './mysql-tls.ts'
import { verifyMysql } from './mysql-verify.ts'

/** GET_LOCK name shared by every dbhook run; the lock is server-wide and held by the admin session. */
const lockName = 'dbhook'

class MysqlSession implements AdminSession<MysqlFacts> {
  constructor(
    private readonly connection: Connection,
    private readonly tls: MysqlTlsMaterial,
    private readonly context: RunContext,
  ) {}

  async lock(context: RunContext): Promise<void> {
    const seconds = Math.max(0, Math.floor((context.deadline - Date.now()) / 1000))
    let acquired: unknown
    try {
      const [rows] = await this.connection.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS acquired', [lockName, seconds])
      acquired = rows[0]?.acquired
    } catch (error) {
      if (serverErrno(error) === MysqlErrno.notSupportedYet) {
        context.log.warn(
          'the server refuses GET_LOCK (Galera cluster, error 1235): continuing without the provisioning lock; every statement dbhook runs is idempotent',
        )
        return
      }
      throw error
    }
    if (acquired !== 1) {
      throw new DbhookError(
        'another dbhook run held the provisioning lock (GET_LOCK) until DBHOOK_WAIT_TIMEOUT ran out',
        ExitCode.unavailable,
      )
    }
  }

  async inspect(desired: DesiredState): Promise<EngineInspection<MysqlFacts>> {
    const { config, log } = this.context
    const inspection = await inspectMysql(
      this.connection,
      desired,
      (name, admin) => accountOf(config, name, admin),
      this.checkPasswords(desired),
    )
    const facts = inspection.facts
    log.debug({ server: facts.server, admin: facts.admin }, 'inspected the server')
    const grants = parseAdminGrants(facts.adminGrants)
    return {
      observed: inspection.observed,
      facts,
      server: facts.server,
      privilegeProblems: (plan: PlanResult) => mysqlPrivilegeProblems(plan.steps, grants, facts.admin),
      skippedSteps: () => [],
    }
  }

  async apply(plan: PlanResult, inspection: EngineInspection<MysqlFacts>, context: RunContext) {
    const facts = inspection.facts
    return applyMysqlPlan(this.connection, plan, facts, (name) => accountOf(context.config, name, facts.admin), context)
  }

  async close(): Promise<void> {
    await closeMysql(this.connection)
  }

  private checkPasswords(desired: DesiredState): Promise<Map<string, boolean>> {
    const { config, log } = this.context
    return testPasswords(
      desired.roles,
      config.admin.user,
      async (role) =>
        closeMysql(await connectMysql(config, this.tls, { user: role.name, password: role.password }, config.connectTimeoutMs, log)),
      (error) => serverErrno(error) === MysqlErrno.accessDenied,
      log,
    )
  }
}

/** The account a configured user name stands for: the admin's own when it is the admin, else name@DBHOOK_MYSQL_USER_HOST. */
function accountOf(config: RunContext['config'], name: string, admin: Account): Account {
  return name === config.admin.user ? admin : { user: name, host: config.mysql.userHost }
}

export const mysqlAdapter: EngineAdapter = {
  label: 'MySQL/MariaDB',
  ...mysqlCapabilities,
  async connectAdmin(context) {
    const { config, log } = context
    checkCharset(config)
    const tls = readMysqlTlsMaterial(config.tls)
    const warning = mysqlTlsPlan(config.tls, tls).warning
    if (warning) log.warn(warning)
    const connection = await connectMysqlWithWait(
      context,
      tls,
      { user: config.admin.user, password: config.admin.password },
      'DBHOOK_ADMIN_PASSWORD',
    )
    return new MysqlSession(connection, tls, context)
  },
  verify: (context) => verifyMysql(context),
  script: (config) => mysqlScript(config),
  backup: async (context) => (await import('./mysql-backup.ts')).mysqlBackupEngine(context),
}
