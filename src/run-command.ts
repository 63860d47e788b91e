import { setTimeout as delay } from 'node:timers/promises'
import { logLevels, type Command, type Config } from './config/config.ts'
import { loadConfig, type Env } from './config/load-config.ts'
import { configRules } from './config-rules.ts'
import type { RunContext } from './engines/engine.ts'
import { DbhookError, ExitCode, InterruptedError, failureOutcome } from './errors.ts'
import { createLogger, scrubSecrets, type Logger } from './log.ts'
import { writeTerminationMessage } from './termination.ts'
import { closeAllConnections, runInterruptCleanups } from './engines/connections.ts'
import { runApply } from './commands/apply.ts'
import { runPlan } from './commands/plan.ts'
import { runVerify } from './commands/verify.ts'
import { runWait } from './commands/wait.ts'
import { runSql } from './commands/sql.ts'
import { runBackup } from './commands/backup.ts'
import { runRestore } from './commands/restore.ts'
import { runDrill } from './commands/drill.ts'
import type { CommandOptions, CommandResult } from './commands/command-result.ts'

const runners: Record<Command, (context: RunContext, version: string, options: CommandOptions) => Promise<CommandResult>> = {
  apply: runApply,
  plan: runPlan,
  wait: runWait,
  verify: runVerify,
  sql: runSql,
  backup: (context) => runBackup(context),
  restore: runRestore,
  drill: runDrill,
}

/**
 * Loads the configuration, sets up logging and signals, runs one command and turns whatever happened into an
 * exit code and a termination message. Secrets are scrubbed from both.
 */
export async function runCommand(command: Command, env: Env, version: string, options: CommandOptions = {}): Promise<number> {
  const started = Date.now()
  let secrets: readonly string[] = []
  let log = createLogger(earlyLogOptions(env, command), () => secrets)
  let terminationLog = env.DBHOOK_TERMINATION_LOG || '/dev/termination-log'
  const explicitTerminationLog = Boolean(env.DBHOOK_TERMINATION_LOG)

  const finish = (exitCode: number, outcome: string): number => {
    writeTerminationMessage(terminationLog, scrubSecrets(`${command}: ${outcome}`, secrets), explicitTerminationLog)
    return exitCode
  }

  let config: Config
  try {
    config = loadConfig(env, command, { rules: configRules, restoreFromFile: options.from !== undefined && options.from !== 'latest' })
  } catch (error) {
    if (!(error instanceof DbhookError)) {
      // A bug while reading the configuration: say so on one line instead of a stack trace of the bundle.
      const message = `unexpected error while reading the configuration: ${(error as Error)?.message ?? String(error)}`
      log.error({ exitCode: ExitCode.failed }, message)
      return finish(ExitCode.failed, message)
    }
    log.error({ exitCode: error.exitCode }, error.message)
    return finish(error.exitCode, error.message)
  }
  secrets = config.secrets
  log = createLogger({ level: config.logLevel, format: config.logFormat, fd: command === 'sql' ? 2 : 1 }, () => secrets)
  terminationLog = config.terminationLog
  for (const warning of config.warnings) log.warn(warning)

  const controller = new AbortController()
  let workStopped!: () => void
  const stoppedAfterAbort = new Promise<void>((resolve) => (workStopped = resolve))
  const interrupted = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      const error = new InterruptedError(signal)
      log.warn(`${error.message}: closing connections and stopping`)
      controller.abort(error)
      // The command gets a moment to stop at its next step, and what it registered to undo (the lending role a
      // backup, restore or drill made for its dump tools) is undone meanwhile on a connection of its own; whatever
      // is still open after that is closed, and the server rolls back any transaction open on it (a membership
      // apply lent inside one included).
      const undone = runInterruptCleanups().then((results) => {
        for (const result of results) {
          if (result.status === 'rejected')
            log.warn(`could not undo a change made for this run: ${(result.reason as Error)?.message ?? String(result.reason)}`)
        }
      })
      void Promise.race([Promise.all([stoppedAfterAbort, undone]), delay(gracefulStopMs, undefined, { ref: false })])
        .then(() => closeEverything(log))
        .then(() => resolve(finish(error.exitCode, error.message)))
    }
    process.once('SIGTERM', onSignal)
    process.once('SIGINT', onSignal)
  })

  const addSecret = (value: string) => {
    secrets = [...secrets, value]
  }
  const context: RunContext = { config, log, signal: controller.signal, deadline: started + config.waitTimeoutMs, addSecret }
  const work = (async (): Promise<number> => {
    try {
      const result = await runners[command](context, version, options)
      return finish(result.exitCode, result.outcome)
    } catch (error) {
      if (controller.signal.aborted) {
        workStopped()
        return new Promise<number>(() => undefined) // the signal handler finishes
      }
      const { exitCode, message, known } = failureOutcome(error)
      log.error({ exitCode, err: known ? undefined : error }, message)
      if (known && (error as Error).cause && log.isLevelEnabled('debug')) log.debug({ err: (error as Error).cause }, 'cause')
      return finish(exitCode, message)
    }
  })()
  return Promise.race([work, interrupted])
}

// Before the configuration is valid the logger still honours a valid level and format, so the config error
// itself is written the way the operator asked.
function earlyLogOptions(env: Env, command: Command) {
  const level = logLevels.find((l) => l === env.DBHOOK_LOG_LEVEL?.trim().toLowerCase()) ?? 'info'
  const format = env.DBHOOK_LOG_FORMAT?.trim().toLowerCase() === 'pretty' ? 'pretty' : 'json'
  return { level, format, fd: command === 'sql' ? 2 : 1 } as const
}

// A signal ends the process within a second: up to 400 ms for the command to stop by itself, then up to 250 ms
// to close what is still open.
const gracefulStopMs = 400
const forcedCloseMs = 250

/** Ends every open database connection, waiting at most `forcedCloseMs`. */
async function closeEverything(log: Logger): Promise<void> {
  await Promise.race([closeAllConnections(), delay(forcedCloseMs, undefined, { ref: false })])
  log.debug('connections closed')
}
