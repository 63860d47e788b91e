import { createCipheriv, createDecipheriv, randomBytes, type DecipherGCM } from 'node:crypto'
import { open } from 'node:fs/promises'
import { Transform } from 'node:stream'

/**
 * Encrypted backup format, version 1: `DBHOOKENC`, a version byte (1), a 12-byte random nonce, then the dump
 * encrypted as one AES-256-GCM stream with those 22 header bytes as additional data, then the 16-byte tag. The
 * tag is only known at the end: whoever decrypts must not trust the data before `final()` succeeded.
 */
const magic = Buffer.from('DBHOOKENC')
const version = 1
const nonceBytes = 12
const tagBytes = 16
export const encryptedHeaderBytes = magic.length + 1 + nonceBytes

/** Why a key file was refused; the message never holds the file's content. */
export function parseBackupKey(content: Buffer): Buffer | string {
  if (content.length === 32) return content
  const text = content.toString('latin1').trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  return `must hold a 256-bit key: 32 raw bytes or 64 hexadecimal characters (it holds ${content.length} bytes; make one with \`openssl rand -hex 32\`)`
}

export function encryptingStream(key: Buffer): Transform {
  const header = Buffer.concat([magic, Buffer.from([version]), randomBytes(nonceBytes)])
  const cipher = createCipheriv('aes-256-gcm', key, header.subarray(magic.length + 1))
  cipher.setAAD(header)
  let headerSent = false
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!headerSent) {
        this.push(header)
        headerSent = true
      }
      callback(null, cipher.update(chunk))
    },
    flush(callback) {
      if (!headerSent) this.push(header)
      this.push(cipher.final())
      callback(null, cipher.getAuthTag())
    },
  })
}

export class BackupAuthenticationError extends Error {}

/**
 * Decrypts the format above. The last 16 bytes seen are held back as the tag; a wrong key, a damaged byte or a
 * truncated file makes the stream fail at its end with BackupAuthenticationError.
 */
export function decryptingStream(key: Buffer): Transform {
  let pending = Buffer.alloc(0)
  let decipher: DecipherGCM | undefined
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      pending = Buffer.concat([pending, chunk])
      if (!decipher) {
        if (pending.length < encryptedHeaderBytes) return callback()
        const header = pending.subarray(0, encryptedHeaderBytes)
        if (!header.subarray(0, magic.length).equals(magic) || header[magic.length] !== version) {
          return callback(new BackupAuthenticationError('not a dbhook encrypted backup (format version 1)'))
        }
        decipher = createDecipheriv('aes-256-gcm', key, header.subarray(magic.length + 1))
        decipher.setAAD(header)
        pending = pending.subarray(encryptedHeaderBytes)
      }
      if (pending.length <= tagBytes) return callback()
      const ready = pending.subarray(0, pending.length - tagBytes)
      pending = Buffer.from(pending.subarray(pending.length - tagBytes))
      callback(null, decipher.update(ready))
    },
    flush(callback) {
      if (!decipher || pending.length < tagBytes) return callback(new BackupAuthenticationError('the encrypted backup is truncated'))
      try {
        decipher.setAuthTag(pending)
        callback(null, decipher.final())
      } catch {
        callback(
          new BackupAuthenticationError(
            'the encrypted backup failed authentication: the key is not the one it was made with, or the file is damaged',
          ),
        )
      }
    },
  })
}

/** Whether a file starts with the encrypted backup magic. */
export async function isEncryptedBackup(path: string): Promise<boolean> {
  const file = await open(path, 'r')
  try {
    const start = Buffer.alloc(magic.length)
    const { bytesRead } = await file.read(start, 0, magic.length, 0)
    return bytesRead === magic.length && start.equals(magic)
  } finally {
    await file.close()
  }
}
