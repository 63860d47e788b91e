import { describe, expect, test } from 'vitest'
import { describeHost } from '../../src/config/hosts.ts'
import type { TargetSessionAttrs } from '../../src/config/config.ts'
import { fitsTarget } from '../../src/engines/postgres/postgres-connect.ts'

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
    expect([fitsTarget(attrs, primary), fitsTarget(attrs, readOnlyPrimary), fitsTarget(attrs, standby)]).toEqual([
      onPrimary,
      onReadOnly,
      onStandby,
    ])
  })

  test('hosts are named as people write them', () => {
    expect(describeHost({ host: 'db-0.db', port: 5432 })).toBe('db-0.db:5432')
    expect(describeHost({ host: '::1', port: 5433 })).toBe('[::1]:5433')
    expect(describeHost({ host: '/var/run/postgresql', port: 5432 })).toBe('/var/run/postgresql (socket, port 5432)')
  })
})
