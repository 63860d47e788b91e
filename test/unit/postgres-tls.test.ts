import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerCertificate } from 'node:tls'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { SslMode, TlsSettings } from '../../src/config/config.ts'
import { classifyPostgresConnectError } from '../../src/engines/postgres/postgres-errors.ts'
import {
  classifyTlsFailure,
  readTlsMaterial,
  reportedError,
  tlsAttempts,
  worthTheNextAttempt,
  type TlsAttempt,
  type TlsMaterial,
} from '../../src/engines/postgres/postgres-tls.ts'
import type { Logger } from '../../src/log.ts'
import { createTestCertificates, type TestCertificates } from '../support/certificates.ts'

/** An attempt as a word: `plaintext`, or `TLS` with what it verifies. */
function shape(attempt: TlsAttempt): string {
  return attempt.encrypted ? `TLS (${attempt.verification})` : 'plaintext'
}

const noFiles: TlsMaterial = { system: false }
const withCa: TlsMaterial = { system: false, ca: 'CA PEM' }
const systemStore: TlsMaterial = { system: true, ca: ['SYSTEM PEM'] }

describe('the attempts each sslmode makes, as libpq makes them', () => {
  test.each<{ mode: SslMode; material: TlsMaterial; expected: string[]; name: string }>([
    { name: 'disable: plaintext only', mode: 'disable', material: noFiles, expected: ['plaintext'] },
    { name: 'allow: plaintext, then unverified TLS', mode: 'allow', material: noFiles, expected: ['plaintext', 'TLS (none)'] },
    {
      name: 'allow with a root CA: the TLS attempt checks the chain',
      mode: 'allow',
      material: withCa,
      expected: ['plaintext', 'TLS (chain)'],
    },
    { name: 'prefer: unverified TLS, then plaintext', mode: 'prefer', material: noFiles, expected: ['TLS (none)', 'plaintext'] },
    {
      name: 'prefer with a root CA: the TLS attempt checks the chain',
      mode: 'prefer',
      material: withCa,
      expected: ['TLS (chain)', 'plaintext'],
    },
    { name: 'require: TLS without verification', mode: 'require', material: noFiles, expected: ['TLS (none)'] },
    { name: 'require with a root CA behaves as verify-ca', mode: 'require', material: withCa, expected: ['TLS (chain)'] },
    { name: 'verify-ca: the chain, not the name', mode: 'verify-ca', material: withCa, expected: ['TLS (chain)'] },
    { name: 'verify-full: chain and host name', mode: 'verify-full', material: withCa, expected: ['TLS (chain and host name)'] },
    { name: 'system forces verify-full over prefer', mode: 'prefer', material: systemStore, expected: ['TLS (chain and host name)'] },
    { name: 'system forces verify-full over require', mode: 'require', material: systemStore, expected: ['TLS (chain and host name)'] },
  ])('$name', ({ mode, material, expected }) => {
    expect(tlsAttempts(mode, material, 'db.example').map(shape)).toEqual(expected)
  })

  test('unverified TLS accepts any certificate; verified TLS carries the root CA and rejects', () => {
    const [unverified] = tlsAttempts('require', noFiles, 'db') as [Extract<TlsAttempt, { encrypted: true }>]
    expect(unverified.options).toEqual({ rejectUnauthorized: false })
    const [chain] = tlsAttempts('verify-ca', withCa, 'db') as [Extract<TlsAttempt, { encrypted: true }>]
    expect(chain.options).toMatchObject({ ca: 'CA PEM', rejectUnauthorized: true })
  })

  test('verify-ca never checks the name; verify-full checks the configured host, IP SANs included', () => {
    const other = { subject: { CN: 'db.other.example' }, subjectaltname: 'DNS:db.other.example' } as PeerCertificate
    const local = { subject: { CN: 'localhost' }, subjectaltname: 'DNS:localhost, IP Address:127.0.0.1' } as PeerCertificate
    const check = (mode: SslMode, host: string, cert: PeerCertificate) => {
      const [attempt] = tlsAttempts(mode, withCa, host) as [Extract<TlsAttempt, { encrypted: true }>]
      // pg passes its servername, which it leaves unset for an IP address: the check must use the host itself.
      return attempt.options.checkServerIdentity?.('ignored', cert)
    }
    expect(check('verify-ca', 'localhost', other)).toBeUndefined()
    expect(check('verify-full', 'localhost', local)).toBeUndefined()
    expect(check('verify-full', '127.0.0.1', local)).toBeUndefined()
    expect(check('verify-full', 'localhost', other)).toBeInstanceOf(Error)
    expect(check('verify-full', '127.0.0.1', other)).toBeInstanceOf(Error)
    expect(check('verify-full', '127.0.0.2', local)).toBeInstanceOf(Error)
  })

  test('a client certificate goes with every TLS attempt and never with plaintext', () => {
    const material: TlsMaterial = { system: false, cert: 'CERT', key: 'KEY' }
    const shape = (mode: SslMode) =>
      tlsAttempts(mode, material, 'db').map((attempt) =>
        attempt.encrypted ? { encrypted: true, cert: attempt.options.cert, key: attempt.options.key } : attempt,
      )
    const tls = { encrypted: true, cert: 'CERT', key: 'KEY' }
    expect(shape('allow')).toEqual([{ encrypted: false }, tls])
    expect(shape('prefer')).toEqual([tls, { encrypted: false }])
    expect(shape('require')).toEqual([tls])
  })
})

// Error shapes as node-postgres and Node's TLS deliver them (seen in test/integration/postgres-tls.test.ts).
const noTls = new Error('The server does not support SSL connections')
const untrusted = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })
const selfSigned = Object.assign(
  new Error('self-signed certificate; if the root CA is installed locally, try running Node.js with --use-system-ca'),
  {
    code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  },
)
const wrongName = Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
  code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  host: '127.0.0.1',
  cert: { subjectaltname: 'DNS:db.other.example', subject: { CN: 'db.other.example' } },
})
const needsClientCert = Object.assign(new Error('connection requires a valid client certificate'), { code: '28000' })
const unknownClientCa = Object.assign(
  new Error('C0EB:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:rec_layer_s3.c:918:SSL alert number 48\n'),
  {
    code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    reason: 'tlsv1 alert unknown ca',
  },
)
const hbaNoEncryption = Object.assign(
  new Error('no pg_hba.conf entry for host "127.0.0.1", user "app", database "postgres", no encryption'),
  { code: '28000' },
)
const hbaSslOn = Object.assign(new Error('no pg_hba.conf entry for host "127.0.0.1", user "app", database "postgres", SSL on'), {
  code: '28000',
})
const wrongPassword = Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' })
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })

describe('TLS failures say which thing failed', () => {
  test.each([
    { name: 'a server without TLS', error: noTls, kind: 'server has no TLS', words: 'ssl = off' },
    {
      name: 'a chain that does not reach the root CA',
      error: untrusted,
      kind: 'certificate not trusted',
      words: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    },
    { name: 'a self-signed server certificate', error: selfSigned, kind: 'certificate not trusted', words: 'self-signed certificate)' },
    {
      name: 'a certificate for another name',
      error: wrongName,
      kind: 'hostname mismatch',
      words: 'is for DNS:db.other.example, not "127.0.0.1"',
    },
    {
      name: 'a role that needs a client certificate',
      error: needsClientCert,
      kind: 'client certificate refused',
      words: 'set DBHOOK_SSLCERT and DBHOOK_SSLKEY',
    },
    {
      name: 'a client certificate from an unknown CA',
      error: unknownClientCa,
      kind: 'client certificate refused',
      words: '(tlsv1 alert unknown ca)',
    },
  ])('$name: $kind', ({ error, kind, words }) => {
    const failure = classifyTlsFailure(error, { clientCertificate: error !== needsClientCert })
    expect(failure?.kind).toBe(kind)
    expect(failure?.message.startsWith(`${kind}: `)).toBe(true)
    expect(failure?.message).toContain(words)
    expect(failure?.message).not.toContain('--use-system-ca')
  })

  test.each([
    { name: 'a wrong password', error: wrongPassword },
    { name: 'a pg_hba refusal', error: hbaNoEncryption },
    { name: 'a server that is down', error: refused },
  ])('$name is not a TLS failure', ({ error }) => {
    expect(classifyTlsFailure(error)).toBeUndefined()
  })

  test.each([noTls, untrusted, wrongName, needsClientCert, unknownClientCa])('%s ends the wait with exit 77', (error) => {
    const verdict = classifyPostgresConnectError(error, { user: 'app', database: 'postgres', variable: 'DBHOOK_ADMIN_PASSWORD' })
    expect(verdict).toMatchObject({ retry: false, error: { exitCode: 77 } })
  })

  test('a pg_hba refusal of plaintext says that no line allows the role without TLS', () => {
    const verdict = classifyPostgresConnectError(hbaNoEncryption, { user: 'app', database: 'postgres', variable: 'DBHOOK_ADMIN_PASSWORD' })
    expect(verdict).toMatchObject({
      retry: false,
      error: { exitCode: 77, message: expect.stringContaining('no pg_hba.conf line allows this role without TLS') },
    })
  })
})

describe('the second attempt and the error reported', () => {
  const [tlsFirst] = tlsAttempts('prefer', noFiles, 'db')
  const [plaintextFirst] = tlsAttempts('allow', noFiles, 'db')

  test.each([
    { name: 'prefer falls back after a server without TLS', attempt: tlsFirst!, error: noTls, expected: true },
    { name: 'prefer falls back after a certificate it cannot verify', attempt: tlsFirst!, error: untrusted, expected: true },
    { name: 'prefer falls back after any error the server sent over TLS', attempt: tlsFirst!, error: needsClientCert, expected: true },
    { name: 'prefer does not retry a server that is down', attempt: tlsFirst!, error: refused, expected: false },
    { name: 'allow upgrades after the server refused plaintext', attempt: plaintextFirst!, error: hbaNoEncryption, expected: true },
    { name: 'allow upgrades after any server error, as libpq does', attempt: plaintextFirst!, error: wrongPassword, expected: true },
    { name: 'allow does not retry a server that is down', attempt: plaintextFirst!, error: refused, expected: false },
    { name: 'allow does not retry a timeout', attempt: plaintextFirst!, error: new Error('timeout expired'), expected: false },
  ])('$name', ({ attempt, error, expected }) => {
    expect(worthTheNextAttempt(attempt, error)).toBe(expected)
  })

  test.each([
    { name: 'a TLS failure beats the pg_hba refusal after it', errors: [untrusted, hbaNoEncryption], expected: untrusted },
    { name: 'a TLS failure beats the pg_hba refusal before it', errors: [hbaNoEncryption, wrongName], expected: wrongName },
    {
      name: 'a client certificate refusal beats the plaintext refusal',
      errors: [needsClientCert, hbaNoEncryption],
      expected: needsClientCert,
    },
    { name: 'a wrong password is the news when the server has no TLS', errors: [wrongPassword, noTls], expected: wrongPassword },
    { name: 'a wrong password after a TLS failure is reported', errors: [untrusted, wrongPassword], expected: wrongPassword },
    {
      name: 'a wrong password over TLS beats the plaintext refusal after it',
      errors: [wrongPassword, hbaNoEncryption],
      expected: wrongPassword,
    },
    {
      name: 'a wrong password over TLS beats the plaintext refusal before it',
      errors: [hbaNoEncryption, wrongPassword],
      expected: wrongPassword,
    },
    { name: 'two transport refusals: the last one', errors: [hbaNoEncryption, hbaSslOn], expected: hbaSslOn },
    { name: 'one error is itself', errors: [noTls], expected: noTls },
  ])('$name', ({ errors, expected }) => {
    expect(reportedError(errors)).toBe(expected)
  })
})

describe('reading the TLS files', () => {
  let certs: TestCertificates
  let dir: string
  const warnings: string[] = []
  const log = { warn: (message: string) => warnings.push(message), info: () => undefined } as unknown as Logger
  const settings = (overrides: Partial<TlsSettings>): TlsSettings => ({ mode: 'verify-full', word: 'verify-full', ...overrides })

  beforeAll(async () => {
    certs = await createTestCertificates('unit_client')
    dir = await mkdtemp(join(tmpdir(), 'dbhook-tls-unit-'))
  })
  afterAll(async () => {
    await certs?.remove()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  test('a root CA, client certificate and key are read as given', () => {
    const material = readTlsMaterial(settings({ rootCert: certs.ca.certFile, cert: certs.client.certFile, key: certs.client.keyFile }), log)
    expect(material).toEqual({ ca: certs.ca.cert, system: false, cert: certs.client.cert, key: certs.client.key })
  })

  test.each([
    { name: 'a root CA file that does not exist', files: () => ({ rootCert: join(dir, 'absent.crt') }), words: 'DBHOOK_SSLROOTCERT' },
    { name: 'a root CA file without a certificate', files: () => ({ rootCert: certs.ca.keyFile }), words: 'holds no PEM certificate' },
    { name: 'a client key that is a directory', files: () => ({ cert: certs.client.certFile, key: dir }), words: '(EISDIR)' },
    {
      name: 'a key that does not belong to the certificate',
      files: () => ({ cert: certs.client.certFile, key: certs.server.keyFile }),
      words: 'is not the key of the certificate',
    },
  ])('$name is a configuration error (78) that starts "file unreadable"', ({ files, words }) => {
    let caught: unknown
    try {
      readTlsMaterial(settings(files()), log)
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({ exitCode: 78 })
    expect((caught as Error).message).toMatch(/^file unreadable: /)
    expect((caught as Error).message).toContain(words)
  })

  test('a key readable by group or others is read, with a warning naming the mode', async () => {
    const key = join(dir, 'open.key')
    await copyFile(certs.client.keyFile, key)
    await chmod(key, 0o644)
    warnings.length = 0
    expect(readTlsMaterial(settings({ cert: certs.client.certFile, key }), log).key).toBe(certs.client.key)
    expect(warnings).toEqual([expect.stringContaining('readable by group or others (mode 0644)')])
    // libpq accepts a root-owned key up to 0640 (a Kubernetes Secret mounted 0400 with an fsGroup reads 0440).
    await chmod(key, 0o640)
    warnings.length = 0
    readTlsMaterial(settings({ cert: certs.client.certFile, key }), log)
    expect(warnings).toEqual(process.getuid?.() === 0 ? [] : [expect.stringContaining('mode 0640')])
    await chmod(key, 0o400)
    warnings.length = 0
    readTlsMaterial(settings({ cert: certs.client.certFile, key }), log)
    expect(warnings).toEqual([])
  })

  test('disable reads no file at all, as libpq does', () => {
    const missing = join(dir, 'absent.pem')
    expect(readTlsMaterial(settings({ mode: 'disable', rootCert: missing, cert: missing, key: missing }), log)).toEqual({ system: false })
  })

  test('system reads the system trust store, and forces verify-full', () => {
    const material = readTlsMaterial(settings({ rootCert: 'system', mode: 'require' }), log)
    expect(material.system).toBe(true)
    expect(Array.isArray(material.ca) && material.ca.length > 0).toBe(true)
    expect(tlsAttempts('require', material, 'db').map(shape)).toEqual(['TLS (chain and host name)'])
  })
})
