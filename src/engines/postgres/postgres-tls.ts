import { X509Certificate } from 'node:crypto'
import { statSync } from 'node:fs'
import { checkServerIdentity, createSecureContext, getCACertificates, type ConnectionOptions } from 'node:tls'
import type { SslMode, TlsSettings } from '../../config/config.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { Logger } from '../../log.ts'
import { untrustedCertificateCodes } from '../tls-codes.ts'
import { readTlsFile, type UnreadableWording } from '../tls-files.ts'
import { SqlState } from './postgres-sqlstate.ts'

/** The TLS material read from disk once per run. */
export interface TlsMaterial {
  readonly ca?: string | readonly string[]
  /** DBHOOK_SSLROOTCERT=system: the system trust store, and verify-full whatever the sslmode says. */
  readonly system: boolean
  readonly cert?: string
  readonly key?: string
}

/** How much of the server's identity a TLS attempt checks. */
export type Verification = 'none' | 'chain' | 'chain and host name'

/** One way to try a connection: plaintext, or TLS with these options. */
export type TlsAttempt =
  | { readonly encrypted: false }
  | { readonly encrypted: true; readonly options: ConnectionOptions; readonly verification: Verification }

/**
 * Reads and parses the certificate files named in the settings (none in disable mode). A file that cannot be read,
 * or holds no usable certificate or key, is a configuration error (exit 78) whose message starts "file unreadable"
 * and names the variable and path; a private key readable by group or others gets a warning, since libpq refuses
 * such a key.
 */
export function readTlsMaterial(settings: TlsSettings, log: Logger): TlsMaterial {
  const system = settings.rootCert === 'system'
  // libpq never opens the files in disable mode; neither does dbhook (the configuration refuses system there).
  if (settings.mode === 'disable' && !system) return { system: false }
  const ca = system ? systemTrustStore(log) : settings.rootCert ? readRootCertificates(settings.rootCert) : undefined
  const cert = settings.cert ? readTextFile('DBHOOK_SSLCERT', settings.cert) : undefined
  const key = settings.key ? readTextFile('DBHOOK_SSLKEY', settings.key) : undefined
  if (cert !== undefined && key !== undefined) {
    try {
      createSecureContext({ cert, key })
    } catch (error) {
      const mismatch = (error as NodeJS.ErrnoException).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
      throw new DbhookError(
        mismatch
          ? `file unreadable: DBHOOK_SSLKEY ${JSON.stringify(settings.key)} is not the key of the certificate in DBHOOK_SSLCERT ${JSON.stringify(settings.cert)}`
          : `file unreadable: DBHOOK_SSLCERT ${JSON.stringify(settings.cert)} and DBHOOK_SSLKEY ${JSON.stringify(settings.key)} must hold a PEM certificate and its unencrypted PEM private key (${(error as Error).message})`,
        ExitCode.config,
        { cause: error },
      )
    }
  }
  if (settings.key) {
    const stat = statSync(settings.key)
    const mode = stat.mode & 0o777
    // libpq also accepts a root-owned key up to 0640: what Kubernetes makes of a Secret mounted 0400 with an fsGroup.
    if ((stat.uid === 0 ? mode & 0o037 : mode & 0o077) !== 0) {
      log.warn(
        `DBHOOK_SSLKEY ${JSON.stringify(settings.key)} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); libpq refuses such a key. Mount it with mode 0400 or 0600.`,
      )
    }
  }
  if (system && settings.mode !== 'verify-full') {
    log.info(
      `DBHOOK_SSLROOTCERT=system verifies the server's certificate and host name (verify-full), whatever DBHOOK_SSLMODE says (${settings.mode})`,
    )
  }
  return { ca, system, cert, key }
}

const unreadable: UnreadableWording = (variable, path, code) =>
  `file unreadable: ${variable} ${JSON.stringify(path)} cannot be read (${code})`
const readTextFile = (variable: string, path: string) => readTlsFile(variable, path, unreadable)

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

// libpq refuses a root certificate file without a certificate in it; Node would silently trust nothing.
function readRootCertificates(path: string): string {
  const text = readTextFile('DBHOOK_SSLROOTCERT', path)
  const blocks = text.match(pemCertificate) ?? []
  try {
    for (const block of blocks) new X509Certificate(block)
  } catch (error) {
    throw new DbhookError(
      `file unreadable: DBHOOK_SSLROOTCERT ${JSON.stringify(path)} holds a damaged certificate (${(error as Error).message})`,
      ExitCode.config,
      { cause: error },
    )
  }
  if (blocks.length === 0) {
    throw new DbhookError(
      `file unreadable: DBHOOK_SSLROOTCERT ${JSON.stringify(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      ExitCode.config,
    )
  }
  return text
}

// libpq's `system` is OpenSSL's default store (SSL_CERT_FILE and SSL_CERT_DIR move it). An image without one
// falls back to the Mozilla roots built into Node rather than trusting nothing.
function systemTrustStore(log: Logger): readonly string[] {
  const system = getCACertificates('system')
  if (system.length > 0) return system
  log.info('DBHOOK_SSLROOTCERT=system: the system trust store is empty; using the Mozilla roots built into Node')
  return getCACertificates('bundled')
}

/**
 * The attempts libpq makes for an sslmode, in order. With a root CA file given, every TLS attempt verifies the
 * chain (libpq does so in allow, prefer and require too); verify-full also checks the host name, IP SANs included.
 * `sslrootcert=system` forces verify-full, as in libpq 16.
 */
export function tlsAttempts(mode: SslMode, material: TlsMaterial, host: string): TlsAttempt[] {
  const effective: SslMode = material.system ? 'verify-full' : mode
  const client = material.cert !== undefined ? { cert: material.cert, key: material.key } : {}
  const chainOnly = (): TlsAttempt => ({
    encrypted: true,
    verification: 'chain',
    options: { ...client, ca: material.ca as string | string[], rejectUnauthorized: true, checkServerIdentity: () => undefined },
  })
  const unverified = (): TlsAttempt =>
    material.ca ? chainOnly() : { encrypted: true, verification: 'none', options: { ...client, rejectUnauthorized: false } }
  switch (effective) {
    case 'disable':
      return [{ encrypted: false }]
    case 'allow':
      return [{ encrypted: false }, unverified()]
    case 'prefer':
      return [unverified(), { encrypted: false }]
    case 'require':
      return [unverified()]
    case 'verify-ca':
      return [chainOnly()]
    case 'verify-full':
      return [
        {
          encrypted: true,
          verification: 'chain and host name',
          options: {
            ...client,
            ca: material.ca as string | string[],
            rejectUnauthorized: true,
            // The host as configured, not pg's servername (which it leaves unset for an IP address).
            checkServerIdentity: (_servername, cert) => checkServerIdentity(host, cert),
          },
        },
      ]
    default:
      throw new Error(`unknown sslmode ${JSON.stringify(effective satisfies never)}`)
  }
}

/** What went wrong with TLS, in the words an operator fixes it by. */
type TlsFailureKind =
  | 'server has no TLS'
  | 'certificate not trusted'
  | 'hostname mismatch'
  | 'client certificate refused'
  | 'TLS negotiation failed'

interface TlsFailure {
  readonly kind: TlsFailureKind
  /** A sentence that starts with `kind` and says what to check. */
  readonly message: string
}

// The server's side of mTLS: a TLS alert about our certificate, or PostgreSQL's own refusal after the handshake.
const clientCertificateAlert =
  /alert (unknown ca|bad certificate|certificate required|certificate unknown|certificate expired|certificate revoked|unsupported certificate|access denied)/i
const clientCertificateRefusal =
  /requires a valid client certificate|certificate authentication failed|certificate validation \(clientcert=verify-full\) failed|client certificate/i

/** What the client presented, so that a failure can say what to change. */
export interface TlsFailureContext {
  readonly clientCertificate: boolean
}

/** Names a TLS failure the way an operator fixes it; undefined when the error is not about TLS. */
export function classifyTlsFailure(error: unknown, context: TlsFailureContext = { clientCertificate: true }): TlsFailure | undefined {
  const err = error as
    | { code?: string; message?: string; reason?: string; host?: string; cert?: { subjectaltname?: string; subject?: { CN?: string } } }
    | undefined
  const message = err?.message ?? ''
  const code = err?.code ?? ''
  // OpenSSL's own reason ("tlsv1 alert unknown ca") without its source file; Node's advice after ";" is about
  // Node's flags, not dbhook's variables.
  const reason = (err?.reason ?? message.split(';')[0] ?? '').trim()
  const failure = (kind: TlsFailureKind, advice: string): TlsFailure => ({ kind, message: `${kind}: ${advice}` })
  if (message === 'The server does not support SSL connections') {
    return failure(
      'server has no TLS',
      'the server answered the TLS request with "no" (ssl = off); enable ssl on the server, or use DBHOOK_SSLMODE=prefer to allow plaintext',
    )
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    const names = err?.cert?.subjectaltname || (err?.cert?.subject?.CN ? `CN=${err.cert.subject.CN}` : undefined)
    const host = err?.host ? JSON.stringify(err.host) : 'the host dbhook connects to'
    return failure(
      'hostname mismatch',
      `the server's certificate is for ${names ?? 'other names'}, not ${host}; set DBHOOK_HOST to a name in the certificate, or use DBHOOK_SSLMODE=verify-ca to check the chain only`,
    )
  }
  if (untrustedCertificateCodes.has(code)) {
    return failure(
      'certificate not trusted',
      `the server's certificate does not chain to a CA in DBHOOK_SSLROOTCERT (${code}: ${reason}); point DBHOOK_SSLROOTCERT at the CA that signed it`,
    )
  }
  const serverSaid = /^[0-9A-Z]{5}$/.test(code)
  if (clientCertificateAlert.test(message) || (serverSaid && clientCertificateRefusal.test(message))) {
    return failure(
      'client certificate refused',
      context.clientCertificate
        ? `the server did not accept the certificate in DBHOOK_SSLCERT (${reason}); it must be signed by a CA in the server's ssl_ca_file and, for cert auth or clientcert=verify-full, name the role in its CN`
        : `the server requires a client certificate (${reason}); set DBHOOK_SSLCERT and DBHOOK_SSLKEY`,
    )
  }
  if (message === 'There was an error establishing an SSL connection' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return failure('TLS negotiation failed', `${reason}${code ? ` (${code})` : ''}`)
  }
  return undefined
}

/** The message of `classifyTlsFailure`, or undefined when the error is not about TLS. */
export function describeTlsFailure(error: unknown, context?: TlsFailureContext): string | undefined {
  return classifyTlsFailure(error, context)?.message
}

// Errors that mean no server answered at all: libpq makes no second attempt for them, in any sslmode.
const noAnswer = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT'])

const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/**
 * libpq's rule for making the next attempt after `failed` failed. prefer retries in plaintext after any failure
 * of the TLS attempt once a server answered (no TLS, a certificate it could not verify, a handshake error, or an
 * error the server sent over TLS); allow retries with TLS only after the server sent an error to the plaintext
 * attempt. Nothing is retried when no server answered.
 */
export function worthTheNextAttempt(failed: TlsAttempt, error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && noAnswer.has(code)) return false
  if (/timeout expired/i.test((error as Error | undefined)?.message ?? '')) return false
  return failed.encrypted || sqlState(error) !== undefined
}

/**
 * Of the errors of the attempts made, in order, the one an operator can act on. A server without TLS, or pg_hba
 * refusing the transport of one attempt (its line for the other transport decided the other attempt), is no news
 * when another attempt failed for a reason of its own: a certificate, a client certificate, a password.
 * Otherwise the last one, as libpq reports it.
 */
export function reportedError(errors: readonly unknown[]): unknown {
  const news = errors.filter((error) => classifyTlsFailure(error)?.kind !== 'server has no TLS' && !refusesTransport(error))
  return news.at(-1) ?? errors.filter((error) => classifyTlsFailure(error)?.kind !== 'server has no TLS').at(-1) ?? errors.at(-1)
}

// PostgreSQL ends a pg_hba refusal with the transport it refused: "no encryption" / "SSL encryption" (14+),
// "SSL off" / "SSL on" (up to 13).
function refusesTransport(error: unknown): boolean {
  const message = (error as Error | undefined)?.message ?? ''
  return (
    sqlState(error) === SqlState.invalidAuthorization &&
    /pg_hba\.conf/.test(message) &&
    /(no encryption|SSL encryption|GSS encryption|SSL off|SSL on)$/.test(message)
  )
}
