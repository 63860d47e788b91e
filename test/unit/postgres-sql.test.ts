import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
import { eventTriggerStatements } from '../../src/engines/postgres/postgres-event-trigger.ts'
import { md5Verifier, saslPrep, scramSha256Verifier } from '../../src/engines/postgres/postgres-password.ts'
import { checkPrivileges } from '../../src/engines/postgres/postgres-privileges.ts'
import type { AdminFacts } from '../../src/engines/postgres/postgres-inspect.ts'
import { postgresScript } from '../../src/engines/postgres/postgres-script.ts'
import { alterOwnerSql, createDatabaseSql, createRoleSql, grantMembershipSql, loggableSql, revokeMembershipSql } from '../../src/engines/postgres/postgres-statements.ts'
import { desiredState, planChanges } from '../../src/plan.ts'
import { postgresCapabilities } from '../../src/engines/postgres/postgres-capabilities.ts'

describe('SQL text', () => {
  test('identifiers are quoted by pg and keep their case and quotes', () => {
    expect(createDatabaseSql('My "DB"', 'Own;er')).toBe('CREATE DATABASE "My ""DB""" OWNER "Own;er"')
    expect(alterOwnerSql('dex', 'openzro')).toBe('ALTER DATABASE "dex" OWNER TO "openzro"')
  })

  test('a database created without an owner belongs to the admin, which needs only CREATEDB for it', () => {
    expect(createDatabaseSql('dex')).toBe('CREATE DATABASE "dex"')
  })

  test('a membership is lent with SET (and without INHERIT) where PostgreSQL 16 made those separate', () => {
    expect(grantMembershipSql('openzro', 15)).toBe('GRANT "openzro" TO CURRENT_USER')
    expect(grantMembershipSql('openzro', 16)).toBe('GRANT "openzro" TO CURRENT_USER WITH INHERIT FALSE, SET TRUE')
    expect(revokeMembershipSql('openzro')).toBe('REVOKE "openzro" FROM CURRENT_USER')
  })

  test('a created role can log in and nothing more', () => {
    expect(createRoleSql({ name: 'app', kind: 'app', connectionLimit: 20 })).toBe(
      'CREATE ROLE "app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 20',
    )
  })

  test('statements for logs hide the verifier', () => {
    const sql = createRoleSql({ name: 'o', kind: 'owner' }, scramSha256Verifier("it's"))
    expect(loggableSql(sql)).toBe(`CREATE ROLE "o" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '[redacted]'`)
  })

  test('the event trigger body survives an app name that holds the dollar-quote tag', () => {
    const [create] = eventTriggerStatements('x$dbhook$y', 'owner').filter((s) => typeof s === 'string' && s.startsWith('CREATE OR REPLACE FUNCTION'))
    expect(create).toContain('$dbhook1$')
    expect(create).toContain("app_role constant text := 'x$dbhook$y'")
  })

  test('a database key with a line break cannot end a comment in the DBA script', () => {
    const config = loadConfig({ DBHOOK_OWNER: 'o', DBHOOK_DATABASES: '{"x\\nDROP DATABASE prod; --":"dex"}' }, 'sql', { rules: configRules })
    expect(postgresScript(config).split('\n').filter((line) => line.startsWith('DROP'))).toEqual([])
  })

  test('the DBA script carries no password and creates each database only where missing', () => {
    const config = loadConfig({ DBHOOK_OWNER: 'openzro', DBHOOK_OWNER_PASSWORD: 'hunter2', DBHOOK_DATABASES: "dex,it's" }, 'sql', { rules: configRules })
    const script = postgresScript(config)
    expect(script).not.toContain('hunter2')
    expect(script).toContain(`SELECT 'CREATE DATABASE "dex" OWNER "openzro"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dex')\\gexec`)
    expect(script).toContain(`WHERE datname = 'it''s'`)
  })
})

describe('password verifiers', () => {
  test('the SCRAM-SHA-256 verifier follows RFC 7677 for a known salt', () => {
    const salt = Buffer.from('0123456789abcdef')
    const salted = pbkdf2Sync('pencil', salt, 4096, 32, 'sha256')
    const stored = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest('base64')
    const server = createHmac('sha256', salted).update('Server Key').digest('base64')
    expect(scramSha256Verifier('pencil', salt)).toBe(`SCRAM-SHA-256$4096:${salt.toString('base64')}$${stored}:${server}`)
  })

  test('md5 is md5(password || role) as PostgreSQL stores it', () => {
    expect(md5Verifier('secret', 'alice')).toBe(`md5${createHash('md5').update('secretalice').digest('hex')}`)
  })

  test('SASLprep keeps ASCII as is and normalizes other text', () => {
    expect(saslPrep('Pa ss\t!')).toBe('Pa ss\t!')
    expect(saslPrep('I\u00ADX')).toBe('IX')
    expect(saslPrep('\u2168')).toBe('IX')
  })
})

describe('privilege check', () => {
  const facts = (over: Partial<AdminFacts>): AdminFacts => ({
    user: 'provisioner',
    major: 16,
    passwordEncryption: 'scram-sha-256',
    superuser: false,
    createdb: true,
    createrole: false,
    mayCreateEventTriggers: false,
    extensions: new Map(),
    roles: new Map(),
    ...over,
  })
  const config = loadConfig({ DBHOOK_HOST: 'h', DBHOOK_ADMIN_USER: 'provisioner', DBHOOK_OWNER: 'openzro', DBHOOK_OWNER_PASSWORD: 'pw', DBHOOK_DATABASES: 'dex' }, 'apply', { rules: configRules })
  const fresh = planChanges(desiredState(config, postgresCapabilities), { roles: new Map(), databases: new Map() })

  test('CREATEDB alone can neither create the owner role nor create databases it owns', () => {
    expect(checkPrivileges(fresh.steps, facts({})).problems).toEqual([
      'cannot create role "openzro": "provisioner" lacks CREATEROLE',
      expect.stringContaining('"provisioner" needs SET ROLE "openzro"'),
    ])
  })

  test('CREATEROLE lends itself the owner it creates, on 16+', () => {
    expect(checkPrivileges(fresh.steps, facts({ createrole: true }))).toEqual({ problems: [], temporaryMemberships: ['openzro'] })
  })

  test('a superuser needs nothing lent', () => {
    expect(checkPrivileges(fresh.steps, facts({ superuser: true, createdb: false }))).toEqual({ problems: [], temporaryMemberships: [] })
  })

  test('without CREATEDB no database can be created', () => {
    const problems = checkPrivileges(fresh.steps, facts({ createdb: false, createrole: true })).problems
    expect(problems).toEqual(['cannot create database "dex": "provisioner" lacks CREATEDB'])
  })
})
