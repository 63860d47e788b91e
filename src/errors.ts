/** Exit codes, after sysexits.h where one fits. They are part of the product: charts and units test them. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  pending: 2,
  usage: 64,
  unavailable: 69,
  noPermission: 77,
  config: 78,
  interrupted: 130,
  terminated: 143,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * An error whose message is fit for a person and for the termination message: it names the variable, database,
 * role or privilege involved and never holds a secret. `cause` keeps the driver's error for debug logs.
 */
export class DbhookError extends Error {
  readonly exitCode: ExitCode

  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DbhookError'
    this.exitCode = exitCode
  }
}

/** Every invalid or missing variable, reported together. */
export class ConfigError extends DbhookError {
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`, ExitCode.config)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export class InterruptedError extends DbhookError {
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`, signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated)
    this.name = 'InterruptedError'
  }
}

/** What a command that threw ends with: a DbhookError's own code and words, anything else exit 1 on one line. */
export function failureOutcome(error: unknown): { readonly exitCode: ExitCode; readonly message: string; readonly known: boolean } {
  if (error instanceof DbhookError) return { exitCode: error.exitCode, message: error.message, known: true }
  return { exitCode: ExitCode.failed, message: `unexpected error: ${(error as Error)?.message ?? String(error)}`, known: false }
}
