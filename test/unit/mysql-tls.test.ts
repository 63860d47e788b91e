import { describe, expect, test } from 'vitest'
import type { SslMode, TlsSettings } from '../../src/config/config.ts'
import { describeMysqlTlsFailure, mysqlTlsPlan, type MysqlTlsAttempt } from '../../src/engines/mysql/mysql-tls.ts'

const modeOf: Record<string, SslMode> = {
  disable: 'disable',
  allow: 'allow',
  prefer: 'prefer',
  require: 'require',
  'verify-ca': 'verify-ca',
  'verify-full': 'verify-full',
  disabled: 'disable',
  preferred: 'prefer',
  required: 'require',
  verify_ca: 'verify-ca',
  verify_identity: 'verify-full',
  false: 'disable',
  true: 'verify-full',
  'skip-verify': 'require',
}

function plan(word: string, rootCert?: string) {
  const settings: TlsSettings = { mode: modeOf[word]!, word, rootCert }
  return mysqlTlsPlan(settings, { ca: rootCert ? 'PEM' : undefined })
}

/** A compact picture of the attempts: `tls(verify)`, `tls(chain)`, `tls(identity)`, `plain`, with the fallback rule. */
function picture(attempts: readonly MysqlTlsAttempt[]): string[] {
  return attempts.map((attempt) => {
    const what = !attempt.encrypted
      ? 'plain'
      : attempt.ssl.verifyIdentity
        ? 'tls(identity)'
        : attempt.ssl.rejectUnauthorized
          ? 'tls(chain)'
          : 'tls(unverified)'
    return attempt.fallBackWhen ? `${what} else on ${attempt.fallBackWhen}` : what
  })
}

describe('DBHOOK_SSLMODE words map to the attempts their own client makes', () => {
  test.each([
    ['disable', undefined, ['plain']],
    ['disabled', undefined, ['plain']],
    ['false', undefined, ['plain']],
    ['allow', undefined, ['plain else on denied', 'tls(unverified)']],
    ['prefer', undefined, ['tls(unverified) else on tls-failed', 'plain']],
    ['prefer', 'ca.pem', ['tls(chain) else on tls-failed', 'plain']],
    ['require', undefined, ['tls(unverified)']],
    ['require', 'ca.pem', ['tls(chain)']],
    ['preferred', undefined, ['tls(unverified) else on no-tls', 'plain']],
    ['preferred', 'ca.pem', ['tls(unverified) else on no-tls', 'plain']],
    ['required', 'ca.pem', ['tls(unverified)']],
    ['skip-verify', undefined, ['tls(unverified)']],
    ['verify-ca', 'ca.pem', ['tls(chain)']],
    ['verify_ca', undefined, ['tls(chain)']],
    ['verify-full', 'ca.pem', ['tls(identity)']],
    ['verify_identity', 'ca.pem', ['tls(identity)']],
    ['true', undefined, ['tls(identity)']],
  ] as const)('%s with CA %s', (word, ca, expected) => {
    expect(picture(plan(word, ca).attempts)).toEqual(expected)
  })

  test('MySQL modes that never verify warn when a CA is given, as the mysql client does', () => {
    expect(plan('required', 'ca.pem').warning).toContain('DBHOOK_SSLROOTCERT is not used')
    expect(plan('skip-verify', 'ca.pem').warning).toContain('DBHOOK_SSLROOTCERT is not used')
    expect(plan('required').warning).toBeUndefined()
    expect(plan('verify_ca', 'ca.pem').warning).toBeUndefined()
  })

  test("a CA given as a file is passed to mysql2; `system` leaves Node's trusted roots", () => {
    const [withFile] = mysqlTlsPlan({ mode: 'verify-full', word: 'verify_identity', rootCert: '/ca.pem' }, { ca: 'PEM' }).attempts
    expect(withFile).toMatchObject({ encrypted: true, ssl: { ca: 'PEM', rejectUnauthorized: true, verifyIdentity: true } })
    const [system] = mysqlTlsPlan({ mode: 'verify-full', word: 'true', rootCert: 'system' }, {}).attempts
    expect(system).toMatchObject({ encrypted: true, ssl: { ca: undefined, rejectUnauthorized: true } })
  })
})

describe('TLS failures are named the way an operator fixes them', () => {
  test.each([
    [{ code: 'HANDSHAKE_NO_SSL_SUPPORT', message: 'Server does not support secure connection' }, 'the server has no TLS'],
    [{ code: 'HANDSHAKE_SSL_ERROR', message: 'self-signed certificate in certificate chain' }, 'not trusted'],
    [
      {
        code: 'HANDSHAKE_SSL_ERROR',
        message: "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: ",
      },
      'hostname mismatch',
    ],
    [{ code: 'HANDSHAKE_SSL_ERROR', message: 'something else entirely' }, 'TLS negotiation failed'],
  ])('%o', (error, expected) => {
    expect(describeMysqlTlsFailure(error)).toContain(expected)
  })

  test('errors that are not about TLS are not described as such', () => {
    expect(describeMysqlTlsFailure({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:3306' })).toBeUndefined()
    expect(
      describeMysqlTlsFailure({ code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, sqlState: '28000', message: 'Access denied' }),
    ).toBeUndefined()
  })
})
