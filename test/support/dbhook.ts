import { spawn } from 'node:child_process'
import { resolve } from 'node:path'

export const dbhookBin = resolve(import.meta.dirname, '../../dist/dbhook.mjs')

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly durationMs: number
  /** stdout's JSON log lines, parsed; lines that are not JSON are skipped. */
  readonly logs: Record<string, unknown>[]
}

/** Every password a test handed to dbhook; `expectNoSecrets` checks no output ever holds one. */
export const usedSecrets = new Set<string>()

/**
 * Runs the built dist/dbhook.mjs as a user would, with exactly `env` (plus PATH), and collects its output.
 * Passwords in `env` are remembered so that the suite can prove they never appear in any output.
 */
export function runDbhook(args: string[], env: Record<string, string>, options: { timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<RunResult> {
  for (const [name, value] of Object.entries(env)) if (/PASSWORD$/.test(name) && value) usedSecrets.add(value)
  const started = Date.now()
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [dbhookBin, ...args], {
      env: { PATH: process.env.PATH ?? '', DBHOOK_TERMINATION_LOG: '/dev/null', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    if (child.pid) options.onSpawn?.(child.pid)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
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
      const result = { code, signal, stdout, stderr, durationMs: Date.now() - started, logs }
      for (const secret of usedSecrets) {
        if (secret.length >= 4 && (stdout.includes(secret) || stderr.includes(secret))) {
          reject(new Error(`a password used by the tests appeared in dbhook's output for ${args.join(' ') || 'apply'}`))
          return
        }
      }
      resolvePromise(result)
    })
  })
}

/** The summary record of an apply run, or undefined. */
export function summaryOf(result: RunResult): { databases: { key: string; name: string; result: string }[]; statements: number } | undefined {
  return result.logs.find((line) => line.summary === true) as never
}
