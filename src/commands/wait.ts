import type { RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/load-engine.ts'
import { ExitCode } from '../errors.ts'
import type { CommandResult } from './command-result.ts'

/** `dbhook wait`: exit 0 once an authenticated admin connection succeeds. */
export async function runWait(context: RunContext): Promise<CommandResult> {
  const engine = await loadEngine(context.config)
  const session = await engine.connectAdmin(context)
  await session.close()
  const outcome =
    engine.waited?.(context.config) ??
    `${engine.label} at ${session.where ?? `${context.config.host}:${context.config.port}`} accepts connections`
  context.log.info(outcome)
  return { exitCode: ExitCode.ok, outcome }
}
