import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { verifySidecar, writeSidecar } from '../../src/backup/backup-checksum.ts'
import {
  BackupAuthenticationError,
  decryptingStream,
  encryptedHeaderBytes,
  encryptingStream,
  isEncryptedBackup,
  parseBackupKey,
} from '../../src/backup/backup-crypto.ts'
import { compareCounts } from '../../src/commands/drill.ts'
import { checkMysqlDump } from '../../src/engines/mysql/mysql-backup.ts'

/** Runs `chunks` through `transform` and returns everything it produced. */
async function through(transform: NodeJS.ReadWriteStream, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = []
  await pipeline(
    Readable.from(chunks),
    transform,
    new Writable({
      write: (chunk: Buffer, _e, cb) => {
        out.push(chunk)
        cb()
      },
    }),
  )
  return Buffer.concat(out)
}

/** Splits `data` into chunks of random sizes, as a pipe delivers them. */
function chunked(data: Buffer): Buffer[] {
  const chunks: Buffer[] = []
  for (let i = 0; i < data.length; ) {
    const size = 1 + Math.floor(Math.random() * 5000)
    chunks.push(data.subarray(i, i + size))
    i += size
  }
  return chunks
}

describe('AES-256-GCM backup encryption', () => {
  const key = randomBytes(32)
  const plaintext = randomBytes(200_000)

  test('round-trips whatever the chunking, and the ciphertext carries the header and tag', async () => {
    const encrypted = await through(encryptingStream(key), chunked(plaintext))
    expect(encrypted.length).toBe(plaintext.length + encryptedHeaderBytes + 16)
    expect(encrypted.subarray(0, 9).toString()).toBe('DBHOOKENC')
    expect(await through(decryptingStream(key), chunked(encrypted))).toEqual(plaintext)
  })

  test('an empty dump round-trips too', async () => {
    const encrypted = await through(encryptingStream(key), [])
    expect(await through(decryptingStream(key), [encrypted])).toEqual(Buffer.alloc(0))
  })

  test('two encryptions of the same data use different nonces', async () => {
    const a = await through(encryptingStream(key), [plaintext.subarray(0, 100)])
    const b = await through(encryptingStream(key), [plaintext.subarray(0, 100)])
    expect(a.subarray(10, encryptedHeaderBytes)).not.toEqual(b.subarray(10, encryptedHeaderBytes))
  })

  const damaged = [
    { name: 'another key', change: (data: Buffer) => data, key: randomBytes(32) },
    {
      name: 'a flipped byte in the body',
      change: (data: Buffer) => Buffer.concat([data.subarray(0, 5000), Buffer.from([data[5000]! ^ 1]), data.subarray(5001)]),
    },
    {
      name: 'a flipped nonce byte',
      change: (data: Buffer) => Buffer.concat([data.subarray(0, 12), Buffer.from([data[12]! ^ 1]), data.subarray(13)]),
    },
    { name: 'a truncated file', change: (data: Buffer) => data.subarray(0, data.length - 1000) },
    { name: 'a file cut inside the header', change: (data: Buffer) => data.subarray(0, 15) },
    { name: 'a plaintext file', change: () => plaintext },
  ]
  test.each(damaged)('$name fails authentication', async ({ change, key: otherKey }) => {
    const encrypted = await through(encryptingStream(key), [plaintext])
    await expect(through(decryptingStream(otherKey ?? key), chunked(change(encrypted)))).rejects.toBeInstanceOf(BackupAuthenticationError)
  })

  test('key files hold 32 raw bytes or 64 hex characters; the message never echoes the content', () => {
    const raw = randomBytes(32)
    expect(parseBackupKey(raw)).toEqual(raw)
    expect(parseBackupKey(Buffer.from(`${raw.toString('hex')}\n`))).toEqual(raw)
    const refused = parseBackupKey(Buffer.from('hunter2-is-not-a-key'))
    expect(refused).toMatch(/32 raw bytes or 64 hexadecimal characters/)
    expect(refused).not.toContain('hunter2')
    expect(typeof parseBackupKey(Buffer.from('ab'.repeat(31)))).toBe('string')
  })
})

describe('files on disk', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbhook-unit-backup-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('a sidecar in sha256sum format verifies its file and catches a changed byte', async () => {
    const file = join(dir, 'app-20261123T023000Z.dump')
    await writeFile(file, 'dump content')
    await writeSidecar(file, 'd0ed2a1e5a6c4a2e1a8c1b4f2c5e1b0a9f0e6d4c3b2a1f0e9d8c7b6a5f4e3d2c')
    await expect(verifySidecar(file, true)).rejects.toThrow(`backup ${file} is damaged or truncated`)
    const { createHash } = await import('node:crypto')
    await writeSidecar(file, createHash('sha256').update('dump content').digest('hex'))
    expect(await readFile(`${file}.sha256`, 'utf8')).toMatch(/^[0-9a-f]{64} {2}app-20261123T023000Z\.dump\n$/)
    expect((await verifySidecar(file, true)).sidecar).toBe('verified')
    await writeFile(file, 'dump contenT')
    await expect(verifySidecar(file, true)).rejects.toThrow('is damaged or truncated')
  })

  test('a missing sidecar fails unless the file was given by hand', async () => {
    const file = join(dir, 'by-hand.dump')
    await writeFile(file, 'x')
    await expect(verifySidecar(file, true)).rejects.toThrow('has no readable SHA-256 sidecar')
    expect((await verifySidecar(file, false)).sidecar).toBe('no sidecar')
  })

  test('a sidecar covers the manifest too: a changed or missing manifest is named', async () => {
    const { createHash } = await import('node:crypto')
    const sha = (text: string) => createHash('sha256').update(text).digest('hex')
    const file = join(dir, 'app-20261124T023000Z.dump')
    const manifest = join(dir, 'app-20261124T023000Z.manifest')
    await writeFile(file, 'dump')
    await writeFile(manifest, '{}')
    await writeSidecar(file, sha('dump'), [{ name: 'app-20261124T023000Z.manifest', digest: sha('{}') }])
    expect(await verifySidecar(file, true)).toEqual({ sidecar: 'verified', companions: [manifest] })
    await writeFile(manifest, '{ }')
    await expect(verifySidecar(file, true)).rejects.toThrow(`backup ${file}: ${manifest} is damaged or truncated`)
    await rm(manifest)
    await expect(verifySidecar(file, true)).rejects.toThrow(
      `backup ${file} is incomplete: ${manifest}, which its sidecar lists, does not exist`,
    )
  })

  test('an encrypted backup is told apart by its magic', async () => {
    const file = join(dir, 'enc.dump')
    await writeFile(file, await through(encryptingStream(randomBytes(32)), [Buffer.from('x')]))
    expect(await isEncryptedBackup(file)).toBe(true)
    await writeFile(file, 'PGDMP')
    expect(await isEncryptedBackup(file)).toBe(false)
  })
})

describe('dump checks', () => {
  const complete =
    '/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n--\nINSERT INTO t VALUES (1);\n-- Dump completed on 2026-11-23  2:30:00\n'
  test('a complete MariaDB dump passes, whatever the chunking', async () => {
    await expect(
      checkMysqlDump(Readable.from(chunked(Buffer.from(complete.repeat(1).replace('(1)', `(${'1,'.repeat(5000)}1)`))))),
    ).resolves.toBeUndefined()
    await expect(checkMysqlDump(Readable.from([Buffer.from(complete.split('\n').slice(1).join('\n'))]))).resolves.toBeUndefined()
  })
  test('a dump without its trailer or banner fails', async () => {
    await expect(checkMysqlDump(Readable.from([Buffer.from(complete.slice(0, -45))]))).rejects.toThrow('the dump is incomplete')
    await expect(checkMysqlDump(Readable.from([Buffer.from('SELECT 1;\n-- Dump completed on x\n')]))).rejects.toThrow('banner')
  })

  test('row counts are compared table by table, tables on one side only included', () => {
    const source = new Map([
      ['public.a', 3],
      ['public.b', 1],
      ['public.c', 0],
    ])
    expect(compareCounts(source, new Map(source))).toEqual([])
    expect(
      compareCounts(
        source,
        new Map([
          ['public.a', 2],
          ['public.b', 1],
          ['public.d', 4],
        ]),
      ),
    ).toEqual(['public.a: source 3, restored 2', 'public.c: source 0, restored missing', 'public.d: source missing, restored 4'])
  })
})
