import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DbhookError, ExitCode } from '../errors.ts'
import { parseSidecar, sidecarSuffix, type SidecarEntry } from './backup-files.ts'

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

/**
 * Writes `<file>.sha256` in sha256sum's format (`sha256sum -c` checks it), through a temporary name: the dump's
 * line first, then one per file that belongs to it (the manifest).
 */
export async function writeSidecar(file: string, digest: string, others: readonly SidecarEntry[] = []): Promise<void> {
  const temporary = `${file}${sidecarSuffix}.tmp`
  const lines = [{ name: basename(file), digest }, ...others].map((entry) => `${entry.digest}  ${entry.name}\n`)
  await writeFile(temporary, lines.join(''))
  await rename(temporary, file + sidecarSuffix)
}

export interface SidecarCheck {
  readonly sidecar: 'verified' | 'no sidecar'
  /** Files beside the dump the sidecar lists and that matched (the manifest), as full paths. */
  readonly companions: readonly string[]
}

/**
 * Checks `file`, and every file its sidecar lists with it, against the sidecar. Throws (exit 1) naming the file
 * that differs, which is what a truncated or damaged backup looks like, or that is missing; `required: false`
 * lets a file given by hand (restore --from) have no sidecar.
 */
export async function verifySidecar(file: string, required: boolean): Promise<SidecarCheck> {
  let text: string
  try {
    text = await readFile(file + sidecarSuffix, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return { sidecar: 'no sidecar', companions: [] }
    throw new DbhookError(`backup ${file} has no readable SHA-256 sidecar ${basename(file)}${sidecarSuffix}`, ExitCode.failed, {
      cause: error,
    })
  }
  // A sidecar of an older dbhook holds one token, the dump's hash, which may not be followed by its name.
  const entries = parseSidecar(text)
  const recorded = entries[0]?.digest ?? text.trim().split(/\s+/)[0]?.toLowerCase() ?? ''
  const actual = await sha256OfFile(file)
  if (actual !== recorded) {
    throw new DbhookError(`backup ${file} is damaged or truncated: its SHA-256 is ${actual}, its sidecar says ${recorded}`, ExitCode.failed)
  }
  const companions: string[] = []
  for (const entry of entries.slice(1)) {
    const path = join(dirname(file), basename(entry.name))
    const digest = await sha256OfFile(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT')
        throw new DbhookError(`backup ${file} is incomplete: ${path}, which its sidecar lists, does not exist`, ExitCode.failed)
      throw error
    })
    if (digest !== entry.digest)
      throw new DbhookError(
        `backup ${file}: ${path} is damaged or truncated: its SHA-256 is ${digest}, the sidecar says ${entry.digest}`,
        ExitCode.failed,
      )
    companions.push(path)
  }
  return { sidecar: 'verified', companions }
}
