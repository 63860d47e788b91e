import { describe, expect, test } from 'vitest'
import { DbhookError, ExitCode } from '../../src/errors.ts'
import { classifyMysqlConnectError, stepError } from '../../src/engines/mysql/mysql-errors.ts'

const serverError = (errno: number) => ({
  errno,
  sqlState: 'HY000',
  code: 'ER',
  message: `error ${errno}`,
  sqlMessage: `server says ${errno}`,
})

describe('connect errors', () => {
  const who = { user: 'admin', variable: 'DBHOOK_ADMIN_PASSWORD' }
  test.each([
    ['ECONNREFUSED', { code: 'ECONNREFUSED', errno: -111 }],
    ['ENOTFOUND', { code: 'ENOTFOUND' }],
    ['EAI_AGAIN', { code: 'EAI_AGAIN' }],
    ['ECONNRESET', { code: 'ECONNRESET' }],
    ['ETIMEDOUT', { code: 'ETIMEDOUT' }],
    ['PROTOCOL_CONNECTION_LOST', { code: 'PROTOCOL_CONNECTION_LOST' }],
    ['too many connections (1040)', serverError(1040)],
    ['server shutdown (1053)', serverError(1053)],
  ])('%s is retried', (_name, error) => {
    expect(classifyMysqlConnectError(error, who).retry).toBe(true)
  })

  test.each([
    [1045, 77],
    [1044, 77],
    [1227, 77],
    [1130, 77],
    [1049, 78],
  ])('server error %i ends the wait with exit %i', (errno, exitCode) => {
    expect(classifyMysqlConnectError(serverError(errno), who)).toMatchObject({ retry: false, error: { exitCode } })
  })

  test('a wrong password names the variable to check', () => {
    expect(classifyMysqlConnectError(serverError(1045), who)).toMatchObject({
      retry: false,
      error: {
        message: 'access denied for user "admin": check DBHOOK_ADMIN_PASSWORD (or the account requires TLS and the connection has none)',
      },
    })
  })

  test("anything else ends the wait with exit 1 and the server's words", () => {
    expect(classifyMysqlConnectError(serverError(1064), who)).toMatchObject({
      retry: false,
      error: { exitCode: ExitCode.failed, message: 'cannot connect as "admin": 1064 server says 1064' },
    })
  })
})

describe('step errors', () => {
  test.each([1044, 1045, 1142, 1227, 1410])('refused privilege %i exits 77', (errno) => {
    expect(stepError('create database "a"', serverError(errno))).toMatchObject({
      exitCode: ExitCode.noPermission,
      message: `create database "a" failed: ${errno} server says ${errno}`,
    })
  })

  test('another server error exits 1 with its number and words', () => {
    expect(stepError('grant', serverError(1064))).toMatchObject({
      exitCode: ExitCode.failed,
      message: 'grant failed: 1064 server says 1064',
    })
  })

  test('a network error has no number to show', () => {
    expect(stepError('grant', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 }))).toMatchObject({
      exitCode: ExitCode.failed,
      message: 'grant failed: read ECONNRESET',
    })
  })

  test('a DbhookError passes unchanged', () => {
    const original = new DbhookError('already explained', ExitCode.config)
    expect(stepError('grant', original)).toBe(original)
  })
})
