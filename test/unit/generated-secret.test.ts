import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
import { ConfigError } from '../../src/errors.ts'
import {
  connectionKeys,
  connectionUri,
  missingKeys,
  namesNodePostgresMisreads,
  sslModeWord,
  unusableUriKeys,
  type ConnectionFacts,
} from '../../src/kubernetes/connection-keys.ts'
import { generatePassword, passwordAlphabet } from '../../src/kubernetes/generated-password.ts'

const facts: ConnectionFacts = {
  engine: 'postgres',
  host: 'db.internal',
  port: 5432,
  sslMode: 'require',
  username: 'openzro',
  password: 'Abc123',
  databases: [
    { key: 'management', name: 'openzro' },
    { key: 'flow', name: 'openzro_flow' },
  ],
}

describe('generatePassword', () => {
  test('32 characters of letters and digits only', () => {
    for (let i = 0; i < 200; i++) expect(generatePassword()).toMatch(/^[A-Za-z0-9]{32}$/)
  })

  test('every character of the alphabet turns up and no two passwords are alike', () => {
    const seen = new Set<string>()
    const passwords = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const password = generatePassword()
      passwords.add(password)
      for (const char of password) seen.add(char)
    }
    expect(passwords.size).toBe(500)
    expect([...seen].sort().join('')).toBe([...passwordAlphabet].sort().join(''))
  })

  test('the alphabet needs no quoting in a URL, a shell word or a plain YAML scalar', () => {
    expect(encodeURIComponent(passwordAlphabet)).toBe(passwordAlphabet)
    expect(passwordAlphabet).toMatch(/^[A-Za-z0-9]+$/)
    expect(passwordAlphabet).toHaveLength(62)
  })
})

describe('connection keys', () => {
  test('the Secret holds username, password, host, port, sslmode and one uri per database key', () => {
    expect(connectionKeys(facts)).toEqual({
      username: 'openzro',
      password: 'Abc123',
      host: 'db.internal',
      port: '5432',
      sslmode: 'require',
      'uri-management': 'postgresql://openzro:Abc123@db.internal:5432/openzro?sslmode=require',
      'uri-flow': 'postgresql://openzro:Abc123@db.internal:5432/openzro_flow?sslmode=require',
    })
  })

  test('user and database names are percent-encoded; sub-delimiters stay literal in the path, as node-postgres needs', () => {
    const uri = connectionUri({ ...facts, username: 'app user@x:y' }, 'db name/é;a=b&c+d,e$f:g@h%i')
    expect(uri).toBe('postgresql://app%20user%40x%3Ay:Abc123@db.internal:5432/db%20name%2F%C3%A9;a=b&c+d,e$f:g@h%25i?sslmode=require')
    const url = new URL(uri)
    expect(decodeURIComponent(url.username)).toBe('app user@x:y')
    expect(decodeURIComponent(url.pathname.slice(1))).toBe('db name/é;a=b&c+d,e$f:g@h%i')
  })

  test('an IPv6 host is bracketed; IPv4 and names are not', () => {
    expect(connectionUri({ ...facts, host: 'fd00::5' }, 'd')).toBe('postgresql://openzro:Abc123@[fd00::5]:5432/d?sslmode=require')
    expect(connectionUri({ ...facts, host: '10.0.0.5' }, 'd')).toBe('postgresql://openzro:Abc123@10.0.0.5:5432/d?sslmode=require')
  })

  test("MySQL: mysql:// with MySQL's own ssl-mode word, in the URI and the sslmode key", () => {
    const mysql = { ...facts, engine: 'mysql' as const, port: 3306, sslMode: 'verify-full' as const }
    expect(connectionKeys(mysql)).toMatchObject({
      sslmode: 'VERIFY_IDENTITY',
      'uri-management': 'mysql://openzro:Abc123@db.internal:3306/openzro?ssl-mode=VERIFY_IDENTITY',
    })
    expect(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].map((m) => sslModeWord('mysql', m as never))).toEqual([
      'DISABLED',
      'PREFERRED',
      'PREFERRED',
      'REQUIRED',
      'VERIFY_CA',
      'VERIFY_IDENTITY',
    ])
  })

  test('a database key that cannot name a Secret key gets no uri, and is reported', () => {
    const databases = [
      { key: 'ok.key_1-a', name: 'a' },
      { key: 'bad key', name: 'b' },
    ]
    expect(unusableUriKeys(databases)).toEqual(['bad key'])
    expect(Object.keys(connectionKeys({ ...facts, databases }))).toEqual([
      'username',
      'password',
      'host',
      'port',
      'sslmode',
      'uri-ok.key_1-a',
    ])
  })

  test('names holding / ? or # are the ones node-postgres misreads', () => {
    expect(
      namesNodePostgresMisreads([
        { key: 'a', name: 'x/y' },
        { key: 'b', name: 'x;y' },
        { key: 'c', name: 'x#' },
      ]).map((d) => d.key),
    ).toEqual(['a', 'c'])
  })

  test('completing adds only the keys that are missing and never touches the others', () => {
    const existing = { username: 'openzro', password: 'kept', 'uri-management': 'whatever the user wrote' }
    expect(missingKeys(existing, connectionKeys(facts))).toEqual({
      host: 'db.internal',
      port: '5432',
      sslmode: 'require',
      'uri-flow': 'postgresql://openzro:Abc123@db.internal:5432/openzro_flow?sslmode=require',
    })
    expect(missingKeys(connectionKeys(facts), connectionKeys(facts))).toEqual({})
  })
})

describe('DBHOOK_OWNER_GENERATED_SECRET and DBHOOK_APP_GENERATED_SECRET', () => {
  const base = {
    DBHOOK_HOST: 'db.example',
    DBHOOK_ADMIN_USER: 'provisioner',
    DBHOOK_ADMIN_PASSWORD: 'admin-secret',
    DBHOOK_OWNER: 'openzro',
    DBHOOK_DATABASES: 'management=openzro',
  }
  const problemsOf = (env: Record<string, string>, command: 'apply' | 'verify' = 'apply') => {
    try {
      loadConfig(env, command, { rules: configRules })
      return []
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems]
      throw error
    }
  }

  test('read into the Secret names, with no warning about unknown variables', () => {
    const config = loadConfig(
      {
        ...base,
        DBHOOK_APP_USER: 'app',
        DBHOOK_OWNER_GENERATED_SECRET: 'openzro-postgres-credentials',
        DBHOOK_APP_GENERATED_SECRET: 'openzro-postgres-app-credentials',
      },
      'apply',
      { rules: configRules },
    )
    expect(config.generatedSecrets).toEqual({ owner: 'openzro-postgres-credentials', app: 'openzro-postgres-app-credentials' })
    expect(config.warnings).toEqual([])
    expect(config.owner.password).toBeUndefined()
    expect(loadConfig(base, 'apply', { rules: configRules }).generatedSecrets).toEqual({})
  })

  test("verify needs no owner password when the owner's comes from its Secret", () => {
    expect(problemsOf({ ...base, DBHOOK_OWNER_GENERATED_SECRET: 'c' }, 'verify')).toEqual([])
    expect(problemsOf(base, 'verify')).toEqual([
      'DBHOOK_OWNER_PASSWORD (or DBHOOK_OWNER_PASSWORD_FILE) is required: verify logs in as the owner',
    ])
  })

  test('contradictions are named, each with its variable', () => {
    expect(problemsOf({ ...base, DBHOOK_OWNER_GENERATED_SECRET: 'Not_A_Name' })).toEqual([
      'DBHOOK_OWNER_GENERATED_SECRET "Not_A_Name" is not a Kubernetes Secret name (lower-case letters, digits, - and ., at most 253)',
    ])
    expect(problemsOf({ ...base, DBHOOK_OWNER_GENERATED_SECRET: 'c', DBHOOK_OWNER_PASSWORD: 'given' })).toEqual([
      "DBHOOK_OWNER_GENERATED_SECRET and DBHOOK_OWNER_PASSWORD are both set: the owner's password is either given or generated",
    ])
    expect(problemsOf({ ...base, DBHOOK_OWNER: 'provisioner', DBHOOK_OWNER_GENERATED_SECRET: 'c' })).toEqual([
      'DBHOOK_OWNER_GENERATED_SECRET is set but the owner is the admin dbhook logs in as, whose password must be given: set DBHOOK_ADMIN_USER to a provisioning user with CREATEROLE',
    ])
    expect(problemsOf({ ...base, DBHOOK_APP_GENERATED_SECRET: 'c' })).toEqual([
      'DBHOOK_APP_GENERATED_SECRET is set but DBHOOK_APP_USER is not',
    ])
    expect(problemsOf({ ...base, DBHOOK_APP_USER: 'app', DBHOOK_APP_GENERATED_SECRET: 'c', DBHOOK_OWNER_GENERATED_SECRET: 'c' })).toEqual([
      'DBHOOK_OWNER_GENERATED_SECRET and DBHOOK_APP_GENERATED_SECRET name the same Secret: each role keeps its own',
    ])
  })
})
