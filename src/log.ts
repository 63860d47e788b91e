import { writeSync } from 'node:fs'
import pino, { type Logger } from 'pino'
import type { LogFormat, LogLevel } from './config/config.ts'

export type { Logger }

/** Field paths pino censors wherever they appear; the scrubber below is the net under them. */
const redactPaths = ['password', '*.password', 'config.secrets', 'connectionString', '*.connectionString']

export interface LogOptions {
  readonly level: LogLevel
  readonly format: LogFormat
  /** 1 for stdout; `dbhook sql` logs to stderr (2) so that stdout holds only SQL. */
  readonly fd: 1 | 2
}

/**
 * A pino logger that writes synchronously (a hook's last lines must not be lost at exit) and removes every known
 * secret value from each line before it is written, whatever field or message carried it.
 */
export function createLogger(options: LogOptions, secrets: () => readonly string[]): Logger {
  const stream = {
    write(line: string) {
      const clean = scrubSecrets(line, secrets())
      writeSync(options.fd, options.format === 'pretty' ? prettyLine(clean) : clean)
    },
  }
  return pino(
    {
      level: options.level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: '[redacted]' },
    },
    stream,
  )
}

/** Replaces each secret, raw and as JSON would escape it, with [redacted]. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) {
    if (secret.length === 0) continue
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) {
      out = out.split(form).join('[redacted]')
    }
  }
  return out
}

const levelColumn: Record<string, string> = {
  fatal: 'FATAL',
  error: 'ERROR',
  warn: 'WARN ',
  info: 'INFO ',
  debug: 'DEBUG',
  trace: 'TRACE',
}

/** `12:00:01 INFO  message key=value`: for people at a terminal (DBHOOK_LOG_FORMAT=pretty). */
function prettyLine(json: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const { time, level, msg, ...rest } = record
  const clock = typeof time === 'string' ? time.slice(11, 19) : ''
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ')
  return `${clock} ${levelColumn[String(level)] ?? String(level)} ${String(msg ?? '')}${fields ? `  ${fields}` : ''}\n`
}
