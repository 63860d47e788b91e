import type { Engine, TlsSettings } from './config.ts'
import type { Settings } from './variables.ts'

/**
 * DBHOOK_SSLMODE with its root certificate and client certificate and key. Contradictions are problems; files that
 * libpq would ignore in disable mode are a warning, as libpq ignores them.
 */
export function readTls(
  input: {
    readonly settings: Pick<Settings, 'DBHOOK_SSLMODE' | 'DBHOOK_SSLROOTCERT' | 'DBHOOK_SSLCERT' | 'DBHOOK_SSLKEY'>
    readonly given: Readonly<Record<string, string>>
    readonly engine: Engine
  },
  problems: string[],
): { readonly tls: TlsSettings; readonly warnings: readonly string[] } {
  const { settings, given, engine } = input
  const tls = {
    mode: settings.DBHOOK_SSLMODE,
    word: (given.DBHOOK_SSLMODE ?? 'prefer').trim().toLowerCase(),
    rootCert: settings.DBHOOK_SSLROOTCERT || undefined,
    cert: settings.DBHOOK_SSLCERT || undefined,
    key: settings.DBHOOK_SSLKEY || undefined,
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    problems.push('DBHOOK_SSLCERT and DBHOOK_SSLKEY go together: set both or neither')
  }
  // libpq ignores the certificate files in disable mode; only `system`, which libpq 16 refuses with a weak sslmode,
  // is a contradiction.
  if (tls.mode === 'disable' && tls.rootCert === 'system') {
    problems.push('DBHOOK_SSLROOTCERT=system verifies the server, which DBHOOK_SSLMODE=disable never contacts over TLS: choose one')
  }
  if ((tls.mode === 'verify-ca' || tls.mode === 'verify-full') && !tls.rootCert && engine === 'postgres') {
    problems.push(`DBHOOK_SSLMODE=${tls.word} needs DBHOOK_SSLROOTCERT (a CA file, or "system" for the system trust store)`)
  }
  const warnings =
    tls.mode === 'disable' && (tls.cert || tls.rootCert)
      ? ['DBHOOK_SSLMODE is disable: DBHOOK_SSLROOTCERT, DBHOOK_SSLCERT and DBHOOK_SSLKEY are ignored, as libpq ignores them']
      : []
  return { tls, warnings }
}
