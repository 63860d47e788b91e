import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { md5Verifier, saslPrep, scramSha256Verifier } from '../../src/engines/postgres/postgres-password.ts'

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
