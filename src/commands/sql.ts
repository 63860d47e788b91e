import { writeSync } from 'node:fs'
import type { RunContext } from '../engines/engine.ts'
import { loadEngine } from '../engines/load-engine.ts'
import { ExitCode } from '../errors.ts'
import type { CommandResult } from './command-result.ts'

/** `dbhook sql`: prints the SQL for a DBA to stdout (logs go to stderr); connects to nothing. */
export async function runSql(context: RunContext): Promise<CommandResult> {
  const engine = await loadEngine(context.config)
  writeSync(1, engine.script(context.config))
  return { exitCode: ExitCode.ok, outcome: `printed the provisioning SQL for ${context.config.databases.length} databases` }
}
