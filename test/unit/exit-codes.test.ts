import { describe, expect, test } from 'vitest'
import { ConfigError, DbhookError, ExitCode, failureOutcome, InterruptedError } from '../../src/errors.ts'

describe('what a failed command exits with', () => {
  test.each([
    ['a DbhookError keeps its code and words', new DbhookError('server unreachable', ExitCode.unavailable), 69, 'server unreachable'],
    ['a privilege refusal', new DbhookError('cannot create role "x"', ExitCode.noPermission), 77, 'cannot create role "x"'],
    [
      'every configuration problem in one message',
      new ConfigError(['DBHOOK_HOST is required', 'DBHOOK_PORT: "x" is not a port']),
      78,
      'invalid configuration: DBHOOK_HOST is required; DBHOOK_PORT: "x" is not a port',
    ],
    ['SIGINT', new InterruptedError('SIGINT'), 130, 'interrupted by SIGINT'],
    ['SIGTERM', new InterruptedError('SIGTERM'), 143, 'interrupted by SIGTERM'],
    ['a bug', new TypeError('x is undefined'), 1, 'unexpected error: x is undefined'],
    ['something thrown that is no Error', 'boom', 1, 'unexpected error: boom'],
  ])('%s', (_, error, exitCode, message) => {
    expect(failureOutcome(error)).toMatchObject({ exitCode, message })
  })

  test('the codes are the contract charts and units test', () => {
    expect(ExitCode).toEqual({
      ok: 0,
      failed: 1,
      pending: 2,
      usage: 64,
      unavailable: 69,
      noPermission: 77,
      config: 78,
      interrupted: 130,
      terminated: 143,
    })
  })
})
