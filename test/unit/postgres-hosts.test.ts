import { describe, expect, test } from 'vitest'
import { describeHost } from '../../src/config/hosts.ts'
import type { TargetSessionAttrs } from '../../src/config/config.ts'
import { DbhookError, ExitCode } from '../../src/errors.ts'
import { fitsTarget } from '../../src/engines/postgres/postgres-connect.ts'
import { classifyPostgresConnectError, connectionLoss } from '../../src/engines/postgres/postgres-errors.ts'

const primary = { inRecovery: false, readOnly: false }
const readOnlyPrimary = { inRecovery: false, readOnly: true }
const standby = { inRecovery: true, readOnly: true }

describe('target_session_attrs, with libpq meaning', () => {
  test.each<[TargetSessionAttrs, boolean, boolean, boolean]>([
    // attrs, primary, primary with default_transaction_read_only, standby
    ['any', true, true, true],
    ['read-write', true, false, false],
    ['read-only', false, true, true],
    ['primary', true, true, false],
    ['standby', false, false, true],
    ['prefer-standby', false, false, true],
  ])('%s accepts a primary: %s, a read-only primary: %s, a standby: %s', (attrs, onPrimary, onReadOnly, onStandby) => {
    expect([fitsTarget(attrs, primary), fitsTarget(attrs, readOnlyPrimary), fitsTarget(attrs, standby)]).toEqual([onPrimary, onReadOnly, onStandby])
  })

  test('hosts are named as people write them', () => {
    expect(describeHost({ host: 'db-0.db', port: 5432 })).toBe('db-0.db:5432')
    expect(describeHost({ host: '::1', port: 5433 })).toBe('[::1]:5433')
    expect(describeHost({ host: '/var/run/postgresql', port: 5432 })).toBe('/var/run/postgresql (socket, port 5432)')
  })
})

describe('a lost session, which apply redoes, and what it does not redo', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code })

  test.each([
    ['a restart terminating the backend', pgError('57P01', 'terminating connection due to administrator command')],
    ['a server still starting when the next connection comes', pgError('57P03', 'the database system is starting up')],
    ['a reset socket', pgError('ECONNRESET', 'read ECONNRESET')],
    ['a refused reconnection', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a socket closed under a query', new Error('Connection terminated unexpectedly')],
    ['a primary demoted under the session', pgError('25006', 'cannot execute CREATE DATABASE in a read-only transaction')],
    ['a step error caused by one', new DbhookError('create database "a" failed', ExitCode.failed, { cause: pgError('57P01', 'terminating connection') })],
  ])('%s is a lost session', (_name, error) => {
    expect(connectionLoss(error)).toBeDefined()
  })

  test.each([
    ['a privilege refused', pgError('42501', 'permission denied to create database')],
    ['a wrong password', pgError('28P01', 'password authentication failed')],
    ['the lock held by another run until the deadline', new DbhookError('another dbhook run held the provisioning lock', ExitCode.unavailable, { cause: pgError('55P03', 'lock timeout') })],
    ['statement pooling refused', new DbhookError('DBHOOK_HOST pools per statement', ExitCode.config, { cause: pgError('08P01', 'transaction blocks not allowed in statement pooling mode') })],
    ['a syntax error', pgError('42601', 'syntax error')],
  ])('%s is not', (_name, error) => {
    expect(connectionLoss(error)).toBeUndefined()
  })

  test("PgBouncer's login refusal is permanent (77), its other 08P01 errors are worth waiting for", () => {
    const who = { user: 'provisioner', database: 'postgres', variable: 'DBHOOK_ADMIN_PASSWORD' }
    const refused = classifyPostgresConnectError(pgError('08P01', 'SASL authentication failed'), who)
    expect(refused).toMatchObject({ retry: false, error: { exitCode: ExitCode.noPermission } })
    expect(refused.retry ? '' : refused.error.message).toContain('DBHOOK_ADMIN_PASSWORD')
    expect(classifyPostgresConnectError(pgError('08P01', 'server login has been failing, try again later (server_login_retry)'), who)).toMatchObject({ retry: true })
  })
})
