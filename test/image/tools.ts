import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** Version of podman's quadlet generator that .ci/setup.d/50-podman.sh builds. */
const quadletVersion = 'v5.6.2'

/** True when `command --version` runs. */
export function commandWorks(command: string, args: string[] = ['--version']): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0
}

/** The quadlet generator: $DBHOOK_QUADLET, where .ci/setup.d/50-podman.sh puts it, or `quadlet` on PATH. */
export function findQuadlet(): string | undefined {
  const candidates = [
    process.env.DBHOOK_QUADLET,
    join(process.env.DBHOOK_TOOLS ?? '/var/tmp/dbhook-tools', `quadlet-${quadletVersion}`, 'quadlet'),
    'quadlet',
  ]
  return candidates.find((c): c is string => !!c && (c.includes('/') ? existsSync(c) : commandWorks(c, ['-version'])))
}

/**
 * CI must install every tool (.ci/setup.d/50-podman.sh): there a missing one fails the test instead of skipping
 * it. Outside CI a missing tool skips the tests that need it.
 */
export function skipUnlessAvailable(available: boolean): boolean {
  return !available && process.env.CI !== 'true'
}

/** One systemd unit of quadlet's -dryrun output, by section, each key's values in order. */
export type GeneratedUnit = Record<string, Record<string, string[]>>

/** Runs `quadlet -dryrun` over `unitDir` and returns the generated units by name (dbhook.service, ...). */
export function generateUnits(quadlet: string, unitDir: string): Record<string, GeneratedUnit> {
  const result = spawnSync(quadlet, ['-dryrun'], { env: { ...process.env, QUADLET_UNIT_DIRS: unitDir }, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`quadlet -dryrun failed (${result.status}): ${result.stderr}`)
  const units: Record<string, GeneratedUnit> = {}
  let unit: GeneratedUnit | undefined
  let section: Record<string, string[]> | undefined
  for (const line of result.stdout.split('\n')) {
    const header = /^---(.+)---$/.exec(line)
    if (header) {
      unit = units[header[1] ?? ''] = {}
      section = undefined
    } else if (/^\[.+\]$/.test(line) && unit) {
      section = unit[line.slice(1, -1)] ??= {}
    } else if (section && /^[A-Za-z]+=/.test(line)) {
      const at = line.indexOf('=')
      const key = line.slice(0, at)
      section[key] = [...(section[key] ?? []), line.slice(at + 1)]
    }
  }
  return units
}

/** Splits an ExecStart line into argv; refuses systemd quoting and specifiers this simple split cannot honour. */
export function splitExecStart(line: string): string[] {
  if (/["'\\%$]/.test(line)) throw new Error(`ExecStart uses quoting or specifiers; extend splitExecStart: ${line}`)
  return line.trim().split(/\s+/)
}

export interface ProcessResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command` with `env` added to a minimal environment, feeding `input` on stdin. */
export function runProcess(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}
