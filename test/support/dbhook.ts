import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const dbhookBin = resolve(import.meta.dirname, '../../dist/dbhook.mjs')

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly durationMs: number
  /** stdout's JSON log lines, parsed; lines that are not JSON are skipped. */
  readonly logs: Record<string, unknown>[]
  /** What dbhook wrote to its termination message file ('' when it wrote nothing). */
  readonly terminationMessage: string
}

/** Every password a test handed to dbhook; `expectNoSecrets` checks no output ever holds one. */
const usedSecrets = new Set<string>()

/** The forms in which a secret could leak into output: as given, and as JSON escapes it inside a log line. */
function leakForms(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1)])]
}

/** Whether `text` holds any password the tests have handed to dbhook so far (raw or JSON-escaped). */
function holdsSecret(text: string): boolean {
  for (const secret of usedSecrets) {
    if (secret.length >= 4 && leakForms(secret).some((form) => text.includes(form))) return true
  }
  return false
}

/**
 * Runs the built dist/dbhook.mjs as a user would, with exactly `env` (plus PATH), and collects its output and
 * termination message (written to a temporary file unless `env` names one). Passwords in `env` are remembered;
 * the run is rejected when stdout, stderr or the termination message holds any password used so far.
 */
export function runDbhook(
  args: string[],
  env: Record<string, string>,
  options: { timeoutMs?: number; onSpawn?: (pid: number) => void; onStdout?: (chunk: string) => void } = {},
): Promise<RunResult> {
  for (const [name, value] of Object.entries(env)) if (/PASSWORD$/.test(name) && value) usedSecrets.add(value)
  const started = Date.now()
  const scratch = env.DBHOOK_TERMINATION_LOG === undefined ? mkdtempSync(join(tmpdir(), 'dbhook-run-')) : undefined
  const terminationLog = scratch ? join(scratch, 'termination-log') : env.DBHOOK_TERMINATION_LOG!
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [dbhookBin, ...args], {
      env: { PATH: process.env.PATH ?? '', DBHOOK_TERMINATION_LOG: terminationLog, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    if (child.pid) options.onSpawn?.(child.pid)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      options.onStdout?.(chunk.toString())
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const logs = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>]
          } catch {
            return []
          }
        })
      let terminationMessage = ''
      try {
        terminationMessage = readFileSync(terminationLog, 'utf8')
      } catch {
        // not written (or not a regular file, such as /dev/null)
      }
      if (scratch) rmSync(scratch, { recursive: true, force: true })
      const result = { code, signal, stdout, stderr, durationMs: Date.now() - started, logs, terminationMessage }
      for (const [where, text] of [
        ['stdout', stdout],
        ['stderr', stderr],
        ['termination message', terminationMessage],
      ] as const) {
        if (holdsSecret(text)) {
          reject(new Error(`a password used by the tests appeared in dbhook's ${where} for ${args.join(' ') || 'apply'}`))
          return
        }
      }
      resolvePromise(result)
    })
  })
}

/** The summary record of an apply run, or undefined. */
export function summaryOf(
  result: RunResult,
): { databases: { key: string; name: string; result: string }[]; statements: number } | undefined {
  return result.logs.find((line) => line.summary === true) as never
}

/** The steps a plan or an apply run names, each as its one line for people (the log marks them with `step`). */
export function stepLines(result: RunResult): string[] {
  return result.logs.filter((line) => typeof line.step === 'string').map((line) => String(line.msg).replace(/^plan: /, ''))
}
