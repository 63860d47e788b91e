import { readFileSync } from 'node:fs'
import { DbhookError, ExitCode } from '../errors.ts'

/** How an engine words a certificate or key file it cannot read; `code` is Node's (ENOENT, EACCES, …). */
export type UnreadableWording = (variable: string, path: string, code: string) => string

/** Reads the PEM file that `variable` names; one that cannot be read is a configuration error (exit 78). */
export function readTlsFile(variable: string, path: string, unreadable: UnreadableWording): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    throw new DbhookError(unreadable(variable, path, code), ExitCode.config, { cause: error })
  }
}
