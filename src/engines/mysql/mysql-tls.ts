import type { TlsSettings } from '../../config/config.ts'
import { untrustedCertificateCodes } from '../tls-codes.ts'
import { readTlsFile, type UnreadableWording } from '../tls-files.ts'

/** The TLS material read from disk once per run. `ca` undefined means Node's trusted roots. */
export interface MysqlTlsMaterial {
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
}

/** The subset of mysql2's `ssl` options dbhook sets. */
interface MysqlSslOptions {
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
  readonly rejectUnauthorized: boolean
  readonly verifyIdentity: boolean
}

/** One way to try a connection, and when a failure of it is worth trying the next. */
export type MysqlTlsAttempt =
  | { readonly encrypted: false; readonly fallBackWhen?: 'denied' }
  | { readonly encrypted: true; readonly ssl: MysqlSslOptions; readonly verified: boolean; readonly fallBackWhen?: 'no-tls' | 'tls-failed' }

interface MysqlTlsPlan {
  readonly attempts: readonly MysqlTlsAttempt[]
  /** Said once per run when the mode ignores a given CA, as MySQL's own client warns. */
  readonly warning?: string
}

/**
 * Reads the certificate files named in the settings. An unreadable file is a configuration error (exit 78).
 * `system` means Node's trusted roots, which is what mysql2 uses when no CA is given.
 */
export function readMysqlTlsMaterial(settings: TlsSettings): MysqlTlsMaterial {
  const read = (variable: string, path: string) => readTlsFile(variable, path, unreadable)
  return {
    ca: settings.rootCert && settings.rootCert !== 'system' ? read('DBHOOK_SSLROOTCERT', settings.rootCert) : undefined,
    cert: settings.cert ? read('DBHOOK_SSLCERT', settings.cert) : undefined,
    key: settings.key ? read('DBHOOK_SSLKEY', settings.key) : undefined,
  }
}

const unreadable: UnreadableWording = (variable, path, code) => `${variable}: cannot read ${JSON.stringify(path)} (${code})`

/**
 * The attempts each DBHOOK_SSLMODE word makes, with the meaning its own client gives it (docs/mysql.md has the
 * table):
 * - libpq's words behave as in libpq: with a CA given every TLS attempt verifies the chain; prefer falls back to
 *   plaintext after any failed TLS attempt, allow tries TLS after the server refused plaintext.
 * - MySQL's DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY behave as in mysql(1): PREFERRED and
 *   REQUIRED never verify (a CA given is ignored, with a warning), PREFERRED falls back only when the server
 *   has no TLS.
 * - The Go driver's false, preferred, skip-verify, true: false = DISABLED, preferred = PREFERRED,
 *   skip-verify = REQUIRED, true = VERIFY_IDENTITY.
 */
export function mysqlTlsPlan(settings: TlsSettings, material: MysqlTlsMaterial): MysqlTlsPlan {
  const client = { cert: material.cert, key: material.key }
  const unverified: MysqlSslOptions = { ...client, rejectUnauthorized: false, verifyIdentity: false }
  const chain: MysqlSslOptions = { ...client, ca: material.ca, rejectUnauthorized: true, verifyIdentity: false }
  const identity: MysqlSslOptions = { ...client, ca: material.ca, rejectUnauthorized: true, verifyIdentity: true }
  const caIgnored = (word: string) =>
    settings.rootCert
      ? `DBHOOK_SSLMODE=${word} does not verify the server certificate, so DBHOOK_SSLROOTCERT is not used; use VERIFY_CA or VERIFY_IDENTITY to verify it`
      : undefined
  // libpq verifies the chain in every TLS attempt once a CA is given, whatever the mode.
  const libpqTls = (fallBackWhen?: 'tls-failed'): MysqlTlsAttempt => ({
    encrypted: true,
    ssl: material.ca ? chain : unverified,
    verified: material.ca !== undefined,
    fallBackWhen,
  })

  switch (settings.word) {
    case 'disable':
    case 'disabled':
    case 'false':
      return { attempts: [{ encrypted: false }] }
    case 'allow':
      return { attempts: [{ encrypted: false, fallBackWhen: 'denied' }, libpqTls()] }
    case 'prefer':
      return { attempts: [libpqTls('tls-failed'), { encrypted: false }] }
    case 'require':
      return { attempts: [libpqTls()] }
    case 'preferred':
      return {
        attempts: [{ encrypted: true, ssl: unverified, verified: false, fallBackWhen: 'no-tls' }, { encrypted: false }],
        warning: caIgnored(settings.word.toUpperCase()),
      }
    case 'required':
    case 'skip-verify':
      return {
        attempts: [{ encrypted: true, ssl: unverified, verified: false }],
        warning: caIgnored(settings.word === 'required' ? 'REQUIRED' : 'skip-verify'),
      }
    case 'verify-ca':
    case 'verify_ca':
      return { attempts: [{ encrypted: true, ssl: chain, verified: true }] }
    case 'verify-full':
    case 'verify_identity':
    case 'true':
      return { attempts: [{ encrypted: true, ssl: identity, verified: true }] }
    default:
      // The configuration accepts only the words above; the libpq meaning is the safe reading of anything else.
      return mysqlTlsPlan({ ...settings, word: settings.mode }, material)
  }
}

/** True when the server said it has no TLS at all. */
export function isNoTlsError(error: unknown): boolean {
  return (error as { code?: string })?.code === 'HANDSHAKE_NO_SSL_SUPPORT'
}

/** Names a TLS failure the way an operator fixes it; undefined when the error is not about TLS. */
export function describeMysqlTlsFailure(error: unknown): string | undefined {
  const err = error as { code?: string; message?: string; reason?: string }
  const message = err?.message ?? ''
  if (isNoTlsError(error)) {
    return 'the server has no TLS; use DBHOOK_SSLMODE=PREFERRED to fall back to plaintext, or enable TLS on the server'
  }
  // mysql2 replaces Node's TLS error codes with HANDSHAKE_SSL_ERROR and keeps only the message.
  if (err?.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /does not match certificate's altnames/i.test(message)) {
    return `hostname mismatch: the server certificate does not name this host (${err.reason ?? message}); use VERIFY_CA to check the chain only`
  }
  if (
    (err?.code && untrustedCertificateCodes.has(err.code)) ||
    (err?.code === 'HANDSHAKE_SSL_ERROR' &&
      /self[- ]signed|unable to (verify|get)|certificate (has expired|is not yet valid|signature)/i.test(message))
  ) {
    return `the server certificate is not trusted (${err.code}); check DBHOOK_SSLROOTCERT names the CA that signed it`
  }
  if (/alert (certificate required|bad certificate|unknown ca)|alert number 116/i.test(message)) {
    return 'the server refused the client certificate (DBHOOK_SSLCERT/DBHOOK_SSLKEY)'
  }
  if (
    err?.code === 'HANDSHAKE_SSL_ERROR' ||
    err?.code?.startsWith('ERR_SSL') ||
    err?.code?.startsWith('ERR_TLS') ||
    /^(ssl|tls)/i.test(message)
  ) {
    return `TLS negotiation failed: ${message}`
  }
  return undefined
}
