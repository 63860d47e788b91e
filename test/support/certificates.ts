import { execFile as execFileCallback } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFile = promisify(execFileCallback)

/** A certificate and its private key, as files (for clients) and as PEM text (for a server's data directory). */
export interface CertificatePair {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: string
  readonly key: string
}

/** Everything the TLS tests need, written below `dir`; `remove()` deletes it. */
export interface TestCertificates {
  readonly dir: string
  /** The CA that signs the good server certificate, the other-name certificate and the client certificate. */
  readonly ca: CertificatePair
  /** A second CA that signed nothing the servers use: trusting it must not let a client in. */
  readonly wrongCa: CertificatePair
  /** Signed by `ca` for DNS:localhost and IP:127.0.0.1. */
  readonly server: CertificatePair
  /** Signed by `ca` for DNS:db.other.example only. */
  readonly otherName: CertificatePair
  /** Self-signed, for DNS:localhost and IP:127.0.0.1: the names are right, the issuer is nobody. */
  readonly selfSigned: CertificatePair
  /** Signed by `ca`, CN = `clientRole`, for `cert` auth and `clientcert=verify-full`. */
  readonly client: CertificatePair
  /** Signed by `wrongCa`, CN = `clientRole`: a server trusting `ca` must refuse it. */
  readonly clientFromWrongCa: CertificatePair
  readonly clientRole: string
  remove(): Promise<void>
}

const days = '2'

/**
 * Generates a small PKI with openssl, at test time, so that no key ever lives in the repository. EC P-256 keys
 * keep it fast (about 20 openssl runs, well under a second). Fails with a clear message when openssl is missing.
 */
export async function createTestCertificates(clientRole: string): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'dbhook-certs-'))
  try {
    await execFile('openssl', ['version'])
  } catch (error) {
    throw new Error(`openssl is needed to generate the TLS test certificates (apt-get install openssl): ${(error as Error).message}`)
  }
  const ca = await selfSignedCa(dir, 'ca', 'dbhook test CA')
  const wrongCa = await selfSignedCa(dir, 'wrong-ca', 'dbhook unrelated CA')
  const serverNames = 'DNS:localhost,IP:127.0.0.1'
  const server = await signedLeaf(dir, 'server', 'localhost', ca, serverExtensions(serverNames))
  const otherName = await signedLeaf(dir, 'other-name', 'db.other.example', ca, serverExtensions('DNS:db.other.example'))
  const selfSigned = await selfSignedLeaf(dir, 'self-signed', 'localhost', serverExtensions(serverNames))
  const client = await signedLeaf(dir, 'client', clientRole, ca, clientExtensions)
  const clientFromWrongCa = await signedLeaf(dir, 'client-wrong-ca', clientRole, wrongCa, clientExtensions)
  return {
    dir,
    ca,
    wrongCa,
    server,
    otherName,
    selfSigned,
    client,
    clientFromWrongCa,
    clientRole,
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}

function serverExtensions(subjectAltName: string): string {
  return [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${subjectAltName}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
  ].join('\n')
}

const clientExtensions = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'extendedKeyUsage = clientAuth',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
].join('\n')

const caExtensions = [
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
].join('\n')

// A config of our own, so that the host's openssl.cnf cannot add or change extensions.
async function writeConfig(dir: string, name: string, extensions: string): Promise<string> {
  const path = join(dir, `${name}.cnf`)
  await writeFile(path, `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n[ext]\n${extensions}\n`)
  return path
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFile('openssl', args)
  } catch (error) {
    const err = error as { stderr?: string; message: string }
    throw new Error(`openssl ${args[0]} failed: ${err.stderr || err.message}`)
  }
}

const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

async function pair(dir: string, name: string): Promise<CertificatePair> {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  await chmod(keyFile, 0o600)
  return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') }
}

async function selfSignedCa(dir: string, name: string, commonName: string): Promise<CertificatePair> {
  return selfSignedLeaf(dir, name, commonName, caExtensions)
}

async function selfSignedLeaf(dir: string, name: string, commonName: string, extensions: string): Promise<CertificatePair> {
  const config = await writeConfig(dir, name, extensions.replace('authorityKeyIdentifier = keyid', ''))
  await openssl([
    'req',
    '-x509',
    ...newKey,
    '-config',
    config,
    '-extensions',
    'ext',
    '-subj',
    `/CN=${commonName}`,
    '-days',
    days,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.crt`),
  ])
  return pair(dir, name)
}

async function signedLeaf(
  dir: string,
  name: string,
  commonName: string,
  issuer: CertificatePair,
  extensions: string,
): Promise<CertificatePair> {
  const config = await writeConfig(dir, name, extensions)
  const csr = join(dir, `${name}.csr`)
  await openssl([
    'req',
    '-new',
    ...newKey,
    '-config',
    config,
    '-subj',
    `/CN=${commonName}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    csr,
  ])
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    issuer.certFile,
    '-CAkey',
    issuer.keyFile,
    '-set_serial',
    `0x${randomSerial()}`,
    '-days',
    days,
    '-extfile',
    config,
    '-extensions',
    'ext',
    '-out',
    join(dir, `${name}.crt`),
  ])
  return pair(dir, name)
}

function randomSerial(): string {
  return Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16))
    .join('')
    .replace(/^0/, '1')
}
