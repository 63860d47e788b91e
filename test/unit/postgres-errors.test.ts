import { describe, expect, test } from 'vitest'
import { DbhookError, ExitCode } from '../../src/errors.ts'
import { classifyPostgresConnectError, connectionLoss, stepError } from '../../src/engines/postgres/postgres-errors.ts'

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code })
const who = { user: 'provisioner', database: 'postgres', variable: 'DBHOOK_ADMIN_PASSWORD' }

describe('a lost session, which apply redoes, and what it does not redo', () => {
  test.each([
    ['a restart terminating the backend', pgError('57P01', 'terminating connection due to administrator command')],
    ['a server still starting when the next connection comes', pgError('57P03', 'the database system is starting up')],
    ['a reset socket', pgError('ECONNRESET', 'read ECONNRESET')],
    ['a refused reconnection', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a socket closed under a query', new Error('Connection terminated unexpectedly')],
    ['a primary demoted under the session', pgError('25006', 'cannot execute CREATE DATABASE in a read-only transaction')],
    [
      'a step error caused by one',
      new DbhookError('create database "a" failed', ExitCode.failed, { cause: pgError('57P01', 'terminating connection') }),
    ],
  ])('%s is a lost session', (_name, error) => {
    expect(connectionLoss(error)).toBeDefined()
  })

  test.each([
    ['a privilege refused', pgError('42501', 'permission denied to create database')],
    ['a wrong password', pgError('28P01', 'password authentication failed')],
    [
      'the lock held by another run until the deadline',
      new DbhookError('another dbhook run held the provisioning lock', ExitCode.unavailable, { cause: pgError('55P03', 'lock timeout') }),
    ],
    [
      'statement pooling refused',
      new DbhookError('DBHOOK_HOST pools per statement', ExitCode.config, {
        cause: pgError('08P01', 'transaction blocks not allowed in statement pooling mode'),
      }),
    ],
    ['a syntax error', pgError('42601', 'syntax error')],
  ])('%s is not', (_name, error) => {
    expect(connectionLoss(error)).toBeUndefined()
  })

  test("PgBouncer's login refusal is permanent (77), its other 08P01 errors are worth waiting for", () => {
    const refused = classifyPostgresConnectError(pgError('08P01', 'SASL authentication failed'), who)
    expect(refused).toMatchObject({
      retry: false,
      error: { exitCode: ExitCode.noPermission, message: expect.stringContaining('DBHOOK_ADMIN_PASSWORD') },
    })
    expect(
      classifyPostgresConnectError(pgError('08P01', 'server login has been failing, try again later (server_login_retry)'), who),
    ).toMatchObject({ retry: true })
  })
})

describe('connect errors', () => {
  test.each([
    ['the server starting up', pgError('57P03', 'the database system is starting up')],
    ['too many connections', pgError('53300', 'sorry, too many clients already')],
    ['a shutdown', pgError('57P01', 'terminating connection due to administrator command')],
    ['a connection failure', pgError('08006', 'connection failure')],
    ['another connection exception', pgError('08007', 'transaction resolution unknown')],
    ['a refused connection', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a socket path not there yet', pgError('ENOENT', 'connect ENOENT /run/postgresql/.s.PGSQL.5432')],
    ['a timeout', new Error('timeout expired')],
  ])('%s is retried', (_name, error) => {
    expect(classifyPostgresConnectError(error, who)).toMatchObject({ retry: true })
  })

  test.each([
    [
      'a wrong password',
      pgError('28P01', 'password authentication failed for user "provisioner"'),
      ExitCode.noPermission,
      'password authentication failed for role "provisioner": check DBHOOK_ADMIN_PASSWORD',
    ],
    [
      'a refused role',
      pgError('28000', 'role "provisioner" is not permitted to log in'),
      ExitCode.noPermission,
      'the server refused role "provisioner": role "provisioner" is not permitted to log in',
    ],
    [
      'a missing database',
      pgError('3D000', 'database "postgres" does not exist'),
      ExitCode.config,
      'database "postgres" does not exist (DBHOOK_ADMIN_DATABASE names the database dbhook connects to)',
    ],
    [
      'no CONNECT privilege',
      pgError('42501', 'permission denied for database "postgres"'),
      ExitCode.noPermission,
      'role "provisioner" may not connect: permission denied for database "postgres"',
    ],
    ['a syntax error', pgError('42601', 'syntax error'), ExitCode.failed, 'cannot connect as "provisioner": 42601 syntax error'],
  ])('%s ends the wait at once', (_name, error, exitCode, message) => {
    expect(classifyPostgresConnectError(error, who)).toMatchObject({ retry: false, error: { exitCode, message } })
  })
})

describe('step errors', () => {
  test("a refused privilege exits 77 with the SQLSTATE and the server's words", () => {
    expect(stepError('create database "a"', pgError('42501', 'permission denied to create database'))).toMatchObject({
      exitCode: ExitCode.noPermission,
      message: 'create database "a" failed: 42501 permission denied to create database',
    })
  })

  test('another error exits 1', () => {
    expect(stepError('grant', pgError('42601', 'syntax error'))).toMatchObject({
      exitCode: ExitCode.failed,
      message: 'grant failed: 42601 syntax error',
    })
    expect(stepError('grant', new Error('no code'))).toMatchObject({ exitCode: ExitCode.failed, message: 'grant failed: no code' })
  })

  test('a DbhookError passes unchanged', () => {
    const original = new DbhookError('already explained', ExitCode.config)
    expect(stepError('grant', original)).toBe(original)
  })
})
