import type { RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/load-engine.ts'
import { ExitCode } from '../errors.ts'
import { verifyGeneratedCredentials } from '../kubernetes/generated-credentials.ts'
import type { CommandResult } from './command-result.ts'

/** `dbhook verify`: read-only checks as the owner; every problem is logged, exit 1 when there is any. */
export async function runVerify(given: RunContext): Promise<CommandResult> {
  const context = await verifyGeneratedCredentials(given)
  const { log, config } = context
  const engine = await loadEngine(config)
  const problems = await engine.verify(context)
  for (const problem of problems) log.error(`verify: ${problem}`)
  if (problems.length > 0) {
    // The chart's verify hook fails the install here; point the operator to the SQL their DBA must run.
    const hint = problems.some((p) => p.includes('does not exist') || p.includes('is owned by'))
      ? '; `dbhook sql` with the same settings prints the SQL a DBA must run'
      : ''
    return { exitCode: ExitCode.failed, outcome: `${problems.length} problems: ${problems.join('; ')}${hint}` }
  }
  const outcome =
    engine.verified?.(config) ??
    `${config.databases.length} databases exist, are owned by ${JSON.stringify(config.owner.name)} and accept its tables`
  log.info(outcome)
  return { exitCode: ExitCode.ok, outcome }
}
