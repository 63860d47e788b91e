import type { Config } from '../../config/config.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { DesiredState, PlanResult } from '../../plan.ts'
import type { AdminSession, EngineAdapter, EngineInspection, RunContext } from '../engine.ts'
import { applySpannerPlan } from './spanner-apply.ts'
import { describeInstance, instancePath, SpannerAdmin, spannerSettings, type SpannerDatabase } from './spanner-client.ts'
import { inspectSpanner } from './spanner-inspect.ts'
import { spannerScript } from './spanner-script.ts'
import { verifySpanner } from './spanner-verify.ts'

class SpannerSession implements AdminSession<undefined> {
  constructor(
    private readonly admin: SpannerAdmin,
    /** The listing the wait made: the first inspection uses it, so plan costs one list call in all. */
    private listing: readonly SpannerDatabase[] | undefined,
    private readonly parallel: number,
  ) {}

  async lock(context: RunContext): Promise<void> {
    context.log.debug('Spanner needs no provisioning lock: it creates a database id once and answers other creators ALREADY_EXISTS')
  }

  async inspect(desired: DesiredState): Promise<EngineInspection<undefined>> {
    const listed = this.listing ?? (await this.admin.listDatabases())
    this.listing = undefined
    const { observed, problems } = await inspectSpanner(this.admin, desired, listed, this.parallel)
    return {
      observed,
      facts: undefined,
      server: describeInstance(this.admin.settings),
      problems,
      // Spanner's IAM is not readable by the caller cheaply; a refused creation exits 77 naming the permission.
      privilegeProblems: () => [],
      skippedSteps: () => [],
    }
  }

  apply(plan: PlanResult, _inspection: EngineInspection<undefined>, context: RunContext) {
    return applySpannerPlan(this.admin, plan, context)
  }

  close(): Promise<void> {
    return this.admin.close()
  }
}

/** Cloud Spanner with the PostgreSQL dialect, through its admin API (docs/spanner.md). */
export const spannerAdapter: EngineAdapter = {
  label: 'Cloud Spanner',
  databaseItems: () => [],
  async connectAdmin(context) {
    const admin = await SpannerAdmin.open(context)
    try {
      // Waiting for the instance is listing its databases: it proves the instance exists and dbhook may list.
      return new SpannerSession(admin, await admin.listDatabases(), context.config.parallel)
    } catch (error) {
      await admin.close()
      throw error
    }
  },
  verify: (context) => verifySpanner(context),
  script: (config) => spannerScript(config),
  async backup() {
    throw new DbhookError(
      "backup, restore and drill do not run on Spanner: use Spanner's managed backups (docs/spanner.md)",
      ExitCode.config,
    )
  },
  waited: (config: Config) => `${describeInstance(spannerSettings(config))} answers and its databases can be listed`,
  verified: (config: Config) =>
    `${config.databases.length} databases exist in ${instancePath(spannerSettings(config))}, are READY and use the PostgreSQL dialect`,
}
