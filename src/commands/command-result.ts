/** What a command reports back: its exit code and the one line that goes to the termination message. */
export interface CommandResult {
  readonly exitCode: number
  readonly outcome: string
}

/** Command-line options; only restore takes any. */
export interface CommandOptions {
  readonly database?: string
  readonly from?: string
  readonly into?: string
  readonly replace?: boolean
}
