import { parseArgs } from 'node:util'
import { ExitCode } from './errors.ts'
import { helpText } from './help.ts'
import { dbhookVersion } from './version.ts'

const version = dbhookVersion
const commands = ['apply', 'plan', 'wait', 'verify', 'sql', 'backup', 'restore', 'drill'] as const

/** util.parseArgs with dbhook's options; throws on an unknown option (exit 64). */
const parseCommandLine = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
      database: { type: 'string' },
      from: { type: 'string' },
      into: { type: 'string' },
      replace: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  })

/** argv -> command -> exit code. Everything heavier than argument parsing is loaded only when a command runs. */
async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>
  try {
    parsed = parseCommandLine(argv)
  } catch (error) {
    process.stderr.write(`dbhook: ${(error as Error).message}\nRun dbhook --help for usage.\n`)
    return ExitCode.usage
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(version))
    return ExitCode.ok
  }
  if (parsed.values.version) {
    process.stdout.write(`dbhook ${version}\n`)
    return ExitCode.ok
  }
  const [name = 'apply', ...extra] = parsed.positionals
  const command = commands.find((c) => c === name)
  if (!command) {
    process.stderr.write(
      `dbhook: unknown command ${JSON.stringify(name)}; expected one of ${commands.join(', ')}\nRun dbhook --help for usage.\n`,
    )
    return ExitCode.usage
  }
  if (extra.length > 0) {
    process.stderr.write(`dbhook: unexpected argument ${JSON.stringify(extra[0])} after ${command}\n`)
    return ExitCode.usage
  }
  const { database, from, into, replace } = parsed.values
  const restoreOptions = { database, from, into, replace }
  const given = Object.entries(restoreOptions)
    .filter(([, value]) => value !== undefined)
    .map(([name]) => `--${name}`)
  if (command !== 'restore' && given.length > 0) {
    process.stderr.write(`dbhook: ${given[0]} is an option of restore only\nRun dbhook --help for usage.\n`)
    return ExitCode.usage
  }
  const empty = Object.entries(restoreOptions).find(([, value]) => value === '')
  if (empty) {
    process.stderr.write(`dbhook: --${empty[0]} needs a value\nRun dbhook --help for usage.\n`)
    return ExitCode.usage
  }
  if (command === 'restore' && !database) {
    process.stderr.write('dbhook: restore needs --database NAME\nRun dbhook --help for usage.\n')
    return ExitCode.usage
  }
  const { runCommand } = await import('./run-command.ts')
  return runCommand(command, process.env, version, restoreOptions)
}

process.exit(await main(process.argv.slice(2)))
