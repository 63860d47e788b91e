import { describe, expect, test } from 'vitest'
import { loadConfig } from '../../src/config/load-config.ts'
import { configRules } from '../../src/config-rules.ts'
import { eventTriggerStatements } from '../../src/engines/postgres/postgres-event-trigger.ts'
import { scramSha256Verifier } from '../../src/engines/postgres/postgres-password.ts'
import { postgresScript } from '../../src/engines/postgres/postgres-script.ts'
import {
  alterOwnerSql,
  createDatabaseSql,
  createRoleSql,
  grantMembershipSql,
  loggableSql,
  revokeMembershipSql,
} from '../../src/engines/postgres/postgres-statements.ts'

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
    expect(loggableSql(sql)).toBe(
      `CREATE ROLE "o" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '[redacted]'`,
    )
  })

  test('the event trigger body survives an app name that holds the dollar-quote tag', () => {
    const [create] = eventTriggerStatements('x$dbhook$y', 'owner').filter(
      (s) => typeof s === 'string' && s.startsWith('CREATE OR REPLACE FUNCTION'),
    )
    expect(create).toContain('$dbhook1$')
    expect(create).toContain("app_role constant text := 'x$dbhook$y'")
  })

  test('a database key with a line break cannot end a comment in the DBA script', () => {
    const config = loadConfig({ DBHOOK_OWNER: 'o', DBHOOK_DATABASES: '{"x\\nDROP DATABASE prod; --":"dex"}' }, 'sql', {
      rules: configRules,
    })
    expect(
      postgresScript(config)
        .split('\n')
        .filter((line) => line.startsWith('DROP')),
    ).toEqual([])
  })

  test('the DBA script carries no password and creates each database only where missing', () => {
    const config = loadConfig({ DBHOOK_OWNER: 'openzro', DBHOOK_OWNER_PASSWORD: 'hunter2', DBHOOK_DATABASES: "dex,it's" }, 'sql', {
      rules: configRules,
    })
    const script = postgresScript(config)
    expect(script).not.toContain('hunter2')
    expect(script).toContain(
      `SELECT 'CREATE DATABASE "dex" OWNER "openzro"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dex')\\gexec`,
    )
    expect(script).toContain(`WHERE datname = 'it''s'`)
  })
})
