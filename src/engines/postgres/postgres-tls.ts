import { readFileSync, statSync } from 'node:fs'
import { checkServerIdentity, getCACertificates, type ConnectionOptions } from 'node:tls'
import type { SslMode, TlsSettings } from '../../config/config.ts'
import { DbhookError, ExitCode } from '../../errors.ts'
import type { Logger } from '../../log.ts'

/** The TLS material read from disk once per run. */
export interface TlsMaterial {
  readonly ca?: string | string[]
  readonly system: boolean
  readonly cert?: string
  readonly key?: string
}

/** One way to try a connection: plaintext, or TLS with these options. */
export type TlsAttempt = { readonly encrypted: false } | { readonly encrypted: true; readonly options: ConnectionOptions; readonly verified: boolean }

/**
 * Reads the certificate files named in the settings. An unreadable file is a configuration error (exit 78) that
 * names the variable and path; a private key readable by group or others gets a warning, since libpq refuses it.
 */
export function readTlsMaterial(settings: TlsSettings, log: Logger): TlsMaterial {
  const system = settings.rootCert === 'system'
  const read = (variable: string, path: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error'
      throw new DbhookError(`${variable}: cannot read ${JSON.stringify(path)} (${code})`, ExitCode.config, { cause: error })
    }
  }
  const ca = system ? [...getCACertificates('system'), ...getCACertificates('bundled')] : settings.rootCert ? read('DBHOOK_SSLROOTCERT', settings.rootCert) : undefined
  const cert = settings.cert ? read('DBHOOK_SSLCERT', settings.cert) : undefined
  const key = settings.key ? read('DBHOOK_SSLKEY', settings.key) : undefined
  if (settings.key) {
    const mode = statSync(settings.key).mode
    if ((mode & 0o077) !== 0) {
      log.warn(
        `DBHOOK_SSLKEY ${JSON.stringify(settings.key)} is readable by group or others (mode ${(mode & 0o777).toString(8)}); libpq refuses such a key. Mount it with mode 0400.`,
      )
    }
  }
  return { ca, system, cert, key }
}

/**
 * The attempts libpq makes for an sslmode, in order. With a root CA file given, every TLS attempt verifies the
 * chain (libpq does so in allow, prefer and require too); verify-full also checks the host name, IP SANs included.
 * `sslrootcert=system` forces verify-full, as in libpq 16.
 */
export function tlsAttempts(mode: SslMode, material: TlsMaterial, host: string): TlsAttempt[] {
  const effective: SslMode = material.system ? 'verify-full' : mode
  const client = { cert: material.cert, key: material.key }
  const chainOnly = (): TlsAttempt => ({
    encrypted: true,
    verified: true,
    options: { ...client, ca: material.ca, rejectUnauthorized: true, checkServerIdentity: () => undefined },
  })
  const unverified = (): TlsAttempt =>
    material.ca ? chainOnly() : { encrypted: true, verified: false, options: { ...client, rejectUnauthorized: false } }
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
          verified: true,
          options: {
            ...client,
            ca: material.ca,
            rejectUnauthorized: true,
            checkServerIdentity: (_servername, cert) => checkServerIdentity(host, cert),
          },
        },
      ]
    default:
      throw new Error(`unknown sslmode ${JSON.stringify(effective satisfies never)}`)
  }
}

const untrustedCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'INVALID_CA',
])

/** Names a TLS failure the way an operator fixes it; undefined when the error is not about TLS. */
export function describeTlsFailure(error: unknown): string | undefined {
  const err = error as { code?: string; message?: string; reason?: string }
  const message = err?.message ?? ''
  if (message === 'The server does not support SSL connections') {
    return 'the server has no TLS (it answered the SSL request with N); use DBHOOK_SSLMODE=prefer or enable ssl on the server'
  }
  if (err?.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `hostname mismatch: the server certificate does not name this host (${err.reason ?? message})`
  }
  if (err?.code && untrustedCodes.has(err.code)) {
    return `the server certificate is not trusted (${err.code}); check DBHOOK_SSLROOTCERT names the CA that signed it`
  }
  if (/certificate required|alert number 116|tlsv13 alert certificate required|sslv3 alert bad certificate|alert unknown ca/i.test(message)) {
    return 'the server refused the client certificate (DBHOOK_SSLCERT/DBHOOK_SSLKEY)'
  }
  if (/requires a valid client certificate|certificate authentication failed/i.test(message)) {
    return `the server refused the client certificate: ${message}`
  }
  if (message === 'There was an error establishing an SSL connection' || err?.code?.startsWith('ERR_SSL') || /ssl|tls/i.test(err?.code ?? '')) {
    return `TLS negotiation failed: ${message}`
  }
  return undefined
}
