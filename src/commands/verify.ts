import type { RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/engine.ts'
import { ExitCode } from '../errors.ts'
import type { CommandResult } from '../run-command.ts'

/** `dbhook verify`: read-only checks as the owner; every problem is logged, exit 1 when there is any. */
export async function runVerify(context: RunContext): Promise<CommandResult> {
  const { log, config } = context
  const engine = await loadEngine(config)
  const problems = await engine.verify(context)
  for (const problem of problems) log.error(`verify: ${problem}`)
  if (problems.length > 0) {
    return { exitCode: ExitCode.failed, outcome: `${problems.length} problems: ${problems.join('; ')}` }
  }
  const outcome = `${config.databases.length} databases exist, are owned by ${JSON.stringify(config.owner.name)} and accept its tables`
  log.info(outcome)
  return { exitCode: ExitCode.ok, outcome }
}
