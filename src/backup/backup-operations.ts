import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DbhookError, ExitCode } from '../errors.ts'
import type { BackupEngine, BackupSession } from './backup-engine.ts'
import { hashingTap, sha256OfFile, verifySidecar, writeSidecar } from './backup-checksum.ts'
import { BackupAuthenticationError, decryptingStream, encryptingStream, isEncryptedBackup } from './backup-crypto.ts'
import { backupFileName, databaseBackupDir, manifestFileName } from './backup-files.ts'
import { parseManifest, serializeManifest, type Manifest } from './backup-manifest.ts'

/** The first failure among settled promises, preferring the ones listed first. */
function firstFailure(results: readonly PromiseSettledResult<unknown>[]): unknown {
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
  return failed ? (failed.reason ?? new Error('failed')) : undefined
}

const message = (error: unknown) => (error as Error)?.message ?? String(error)

/**
 * Feeds `source` (a file) to `consume` as plaintext: decrypted on the way when `key` is given. Resolves only when
 * both the consumer and, for an encrypted file, the GCM tag check succeeded.
 */
async function streamPlaintext(source: string, key: Buffer | undefined, consume: (input: Readable) => Promise<void>): Promise<void> {
  if (!key) {
    await consume(createReadStream(source))
    return
  }
  const plaintext = new PassThrough()
  // A consumer may stop reading before the end (pg_restore 18 leaves the archive's last bytes unread); the file is
  // still decrypted to its end, so that its GCM tag is checked all the same.
  const feeding = pipeline(createReadStream(source), decryptingStream(key), forwardWhileOpen(plaintext))
  const results = await Promise.allSettled([feeding, consume(plaintext)])
  const failure = firstFailure(results)
  if (failure) throw failure
}

/** Writes into `target` until it is closed (its reader went away), then swallows the rest; ends it at the end. */
function forwardWhileOpen(target: PassThrough): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (target.destroyed) return callback()
      if (target.write(chunk)) return callback()
      const done = () => {
        target.off('drain', done)
        target.off('close', done)
        callback()
      }
      target.once('drain', done)
      target.once('close', done)
    },
    final(callback) {
      if (!target.destroyed) target.end()
      callback()
    },
  })
}

export interface TakenBackup {
  readonly file: string
  readonly bytes: number
  readonly manifest: Manifest
}

/**
 * Dumps `database` into `<dir>/<database>/<database>-<timestamp>.dump`: written under a temporary name, checked
 * (pg_restore reads it whole, or the dump's banner and trailer) after decrypting it again when encrypted, renamed;
 * its manifest, encrypted like the dump, beside it as `.manifest`; and only then the SHA-256 sidecar covering
 * both, which is what marks a backup good.
 */
export async function takeBackup(
  engine: BackupEngine,
  session: BackupSession,
  database: string,
  backupDir: string,
  key: Buffer | undefined,
  now: () => Date,
): Promise<TakenBackup> {
  const dir = databaseBackupDir(backupDir, database)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  let file = join(dir, backupFileName(database, now()))
  // Two backups within one second would share a name: the second waits for the next second.
  for (let waited = 0; await exists(file); waited += 1) {
    if (waited > 30) throw new DbhookError(`backup ${file} already exists`, ExitCode.failed)
    await new Promise((resolve) => setTimeout(resolve, 100))
    file = join(dir, backupFileName(database, now()))
  }
  const stem = `.${backupFileName(database, now()).replace(/\.dump$/, '')}.${process.pid}`
  const temporary = join(dir, `${stem}.partial`)
  const temporaryManifest = join(dir, `${stem}.manifest.partial`)
  const manifestFile = join(dir, manifestFileName(file.split('/').at(-1)!))
  try {
    const tap = hashingTap()
    const head = new PassThrough()
    const sink = createWriteStream(temporary, { flags: 'wx', mode: 0o600, flush: true })
    const stages: (Readable | Writable)[] = key ? [encryptingStream(key), tap, sink] : [tap, sink]
    const written = pipeline([head, ...stages] as unknown as [PassThrough, Writable])
    // A dump that fails before its tool wrote anything must still end the file's stream.
    const dumping = session.dump(database, head).catch((error: unknown) => {
      head.destroy(error as Error)
      throw error
    })
    const results = await Promise.allSettled([dumping, written])
    const failure = firstFailure(results)
    if (failure)
      throw new DbhookError(`backup of ${JSON.stringify(database)} failed: ${message(failure)}`, ExitCode.failed, { cause: failure })
    const manifest = (results[0] as PromiseFulfilledResult<Manifest>).value
    try {
      await streamPlaintext(temporary, key, (input) => engine.check(input))
    } catch (error) {
      throw new DbhookError(`backup of ${JSON.stringify(database)} failed its check and was not kept: ${message(error)}`, ExitCode.failed, {
        cause: error,
      })
    }
    await writeFile(temporaryManifest, await sealed(serializeManifest(manifest), key), { flag: 'wx', mode: 0o600, flush: true })
    const manifestDigest = await sha256OfFile(temporaryManifest)
    await rename(temporary, file)
    await rename(temporaryManifest, manifestFile)
    await writeSidecar(file, tap.digest(), [{ name: manifestFileName(file.split('/').at(-1)!), digest: manifestDigest }])
    return { file, bytes: (await stat(file)).size, manifest }
  } finally {
    await rm(temporary, { force: true })
    await rm(temporaryManifest, { force: true })
  }
}

/** `content` encrypted in the backup format when a key is set. */
async function sealed(content: Buffer, key: Buffer | undefined): Promise<Buffer> {
  if (!key) return content
  const chunks: Buffer[] = []
  await pipeline(
    Readable.from([content]),
    encryptingStream(key),
    new Writable({
      write: (chunk: Buffer, _e, cb) => {
        chunks.push(chunk)
        cb()
      },
    }),
  )
  return Buffer.concat(chunks)
}

async function opened(content: Buffer, key: Buffer | undefined): Promise<Buffer> {
  if (!key) return content
  const chunks: Buffer[] = []
  await pipeline(
    Readable.from([content]),
    decryptingStream(key),
    new Writable({
      write: (chunk: Buffer, _e, cb) => {
        chunks.push(chunk)
        cb()
      },
    }),
  )
  return Buffer.concat(chunks)
}

export interface PreparedDump {
  /** A plaintext dump: the backup itself, or a temporary decrypted copy whose GCM tag was verified. */
  readonly path: string
  readonly encrypted: boolean
  readonly sidecar: 'verified' | 'no sidecar'
  /** What the backup recorded it holds; undefined for a backup without one (made before dbhook wrote manifests). */
  readonly manifest?: Manifest
  /** Size of the backup file (the encrypted size when encrypted). */
  readonly bytes: number
  cleanup(): Promise<void>
}

/**
 * Makes a backup ready to restore, or throws (exit 1) naming the file: the sidecar must match the dump and the
 * manifest it lists (a file given by hand may have none), an encrypted backup is decrypted to a private
 * temporary file and its tag verified before anything reads it, the manifest must decrypt and parse, and the
 * plaintext must pass the engine's check.
 */
export async function prepareDump(
  engine: BackupEngine,
  file: string,
  key: Buffer | undefined,
  sidecarRequired: boolean,
): Promise<PreparedDump> {
  if (!(await exists(file))) throw new DbhookError(`backup ${file} does not exist`, ExitCode.failed)
  const { sidecar, companions } = await verifySidecar(file, sidecarRequired)
  const encrypted = await isEncryptedBackup(file)
  const bytes = (await stat(file)).size
  if (encrypted && !key) {
    throw new DbhookError(`backup ${file} is encrypted: set DBHOOK_BACKUP_KEY_FILE to the key it was made with`, ExitCode.failed)
  }
  const manifestPath = companions.find((path) => path.endsWith(manifestFileName(file.split('/').at(-1)!)))
  const recorded = async () => (manifestPath ? await readManifest(file, manifestPath, encrypted ? key : undefined) : undefined)
  if (!encrypted) {
    const manifest = await recorded()
    await checkOrThrow(engine, file, file)
    return { path: file, encrypted, sidecar, manifest, bytes, cleanup: async () => undefined }
  }
  const scratch = await mkdtemp(join(tmpdir(), 'dbhook-restore-'))
  const cleanup = () => rm(scratch, { recursive: true, force: true })
  const path = join(scratch, 'plaintext.dump')
  try {
    await pipeline(createReadStream(file), decryptingStream(key!), createWriteStream(path, { mode: 0o600 }))
  } catch (error) {
    await cleanup()
    if (error instanceof BackupAuthenticationError)
      throw new DbhookError(`backup ${file} cannot be decrypted: ${error.message}`, ExitCode.failed, { cause: error })
    throw error
  }
  try {
    const manifest = await recorded()
    await checkOrThrow(engine, path, file)
    return { path, encrypted, sidecar, manifest, bytes, cleanup }
  } catch (error) {
    await cleanup()
    throw error
  }
}

async function readManifest(file: string, path: string, key: Buffer | undefined): Promise<Manifest> {
  let content: Buffer
  try {
    content = await opened(await readFile(path), key)
  } catch (error) {
    const reason = error instanceof BackupAuthenticationError ? error.message : message(error)
    throw new DbhookError(`backup ${file}: its manifest ${path} cannot be decrypted: ${reason}`, ExitCode.failed, { cause: error })
  }
  try {
    return parseManifest(content)
  } catch (error) {
    throw new DbhookError(`backup ${file}: its manifest ${path} is not a manifest: ${message(error)}`, ExitCode.failed, { cause: error })
  }
}

async function checkOrThrow(engine: BackupEngine, path: string, named: string): Promise<void> {
  try {
    await engine.check(createReadStream(path))
  } catch (error) {
    throw new DbhookError(`backup ${named} is not a complete dump: ${message(error)}`, ExitCode.failed, { cause: error })
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
