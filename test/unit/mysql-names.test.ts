import { describe, expect, test } from 'vitest'
import { mysqlDatabaseNameProblem, mysqlUserNameProblem } from '../../src/engines/mysql/mysql-names.ts'

describe('MySQL database names', () => {
  test.each([
    ['openzro_flow'],
    [`d${'x'.repeat(63)}`],
    ['it\'s a "name" with `ticks` and.dots'],
    ['ünï©ødé_数据库'],
    [`d${'数'.repeat(50)}`],
    ['é'.repeat(64)],
    ['.'.repeat(51)],
  ])('%s is accepted', (name) => {
    expect(mysqlDatabaseNameProblem(name)).toBeUndefined()
  })

  test.each([
    ['', 'is empty'],
    [`d${'x'.repeat(64)}`, '65 characters'],
    ['trailing ', 'white space'],
    ['tab\t', 'white space'],
    ['emoji🦄', 'Basic Multilingual Plane'],
    [`d${'数'.repeat(51)}`, '256-byte directory name'],
    ['.'.repeat(52), '260-byte directory name'],
    ['MySQL', 'system database'],
  ])('%j is refused: %s', (name, reason) => {
    expect(mysqlDatabaseNameProblem(name)).toContain(reason)
  })
})

describe('MySQL user names', () => {
  test.each([['openzro'], ['o\'w`n.ér"x'], ['u'.repeat(32)]])('%s is accepted', (name) => {
    expect(mysqlUserNameProblem(name)).toBeUndefined()
  })

  test.each([
    ['u'.repeat(33), '33 characters'],
    ['app ', 'white space'],
    ['u🦄', 'Basic Multilingual Plane'],
  ])('%j is refused: %s', (name, reason) => {
    expect(mysqlUserNameProblem(name)).toContain(reason)
  })
})
