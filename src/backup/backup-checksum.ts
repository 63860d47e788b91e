import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DbhookError, ExitCode } from '../errors.ts'
import { sidecarSuffix } from './backup-files.ts'

/** A pass-through stream that hashes what flows through it; `digest()` once it has ended. */
export function hashingTap(): Transform & { digest(): string } {
  const hash: Hash = createHash('sha256')
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      callback(null, chunk)
    },
  })
  return Object.assign(tap, { digest: () => hash.digest('hex') })
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(path), hash)
  return hash.digest('hex')
}

/** Writes `<file>.sha256` in sha256sum's format (`sha256sum -c` checks it), through a temporary name. */
export async function writeSidecar(file: string, digest: string): Promise<void> {
  const temporary = `${file}${sidecarSuffix}.tmp`
  await writeFile(temporary, `${digest}  ${basename(file)}\n`)
  await rename(temporary, file + sidecarSuffix)
}

/**
 * Checks `file` against its sidecar. Throws (exit 1) naming the file when they differ, which is what a truncated
 * or damaged backup looks like; `required: false` lets a file given by hand (restore --from) have no sidecar.
 */
export async function verifySidecar(file: string, required: boolean): Promise<'verified' | 'no sidecar'> {
  let recorded: string
  try {
    recorded = (await readFile(file + sidecarSuffix, 'utf8')).trim().split(/\s+/)[0] ?? ''
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return 'no sidecar'
    throw new DbhookError(`backup ${file} has no readable SHA-256 sidecar ${basename(file)}${sidecarSuffix}`, ExitCode.failed, { cause: error })
  }
  const actual = await sha256OfFile(file)
  if (actual !== recorded.toLowerCase()) {
    throw new DbhookError(`backup ${file} is damaged or truncated: its SHA-256 is ${actual}, its sidecar says ${recorded}`, ExitCode.failed)
  }
  return 'verified'
}
