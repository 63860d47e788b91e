import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'

const scramIterations = 4096

// RFC 3454 tables used by SASLprep: C.1.2 non-ASCII spaces map to a space, B.1 characters map to nothing,
// and a password holding a prohibited character (C.2.2-C.9) is used as given, as PostgreSQL does.
const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu
// biome-ignore lint/suspicious/noMisleadingCharacterClass: RFC 3454 B.1 lists these combining code points one by one
const mappedToNothing = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu
const prohibited =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: RFC 3454 C.2.1 prohibits the ASCII control characters
  /[\u0000-\u001F\u007F-\u009F\u06DD\u070F\u180E\u200E\u200F\u2028-\u202E\u2060-\u2063\u206A-\u206F\uD800-\uDFFF\uE000-\uF8FF\uFFF9-\uFFFD\u{F0000}-\u{FFFFD}\u{100000}-\u{10FFFD}]/u

/** PostgreSQL's pg_saslprep: ASCII passwords are kept as they are; others are mapped and NFKC-normalized. */
export function saslPrep(password: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is 0x00-0x7F, the control characters included
  if (/^[\x00-\x7F]*$/.test(password)) return password
  const prepared = password.replace(nonAsciiSpace, ' ').replace(mappedToNothing, '').normalize('NFKC')
  return prepared === '' || prohibited.test(prepared) ? password : prepared
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password`, computed here as psql's \password does, so the
 * plaintext never reaches the server's statement log, pg_stat_statements or an error message.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(saslPrep(password), 'utf8'), salt, scramIterations, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  return `SCRAM-SHA-256$${scramIterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`
}

/** The legacy md5 form, used only where the server's password_encryption asks for it. */
export function md5Verifier(password: string, role: string): string {
  return `md5${createHash('md5')
    .update(password + role)
    .digest('hex')}`
}

/** The verifier the server would store itself under its password_encryption setting. */
export function passwordVerifier(password: string, role: string, encryption: string): string {
  return encryption === 'md5' ? md5Verifier(password, role) : scramSha256Verifier(password)
}
