import { describe, expect, test } from 'vitest'
import type { Config } from '../../src/config/config.ts'
import { mysqlScript } from '../../src/engines/mysql/mysql-script.ts'

describe('the script for a DBA', () => {
  test('a database key with a line break cannot end its comment and inject a statement', () => {
    const config = {
      engine: 'mysql',
      admin: { user: 'root', database: 'postgres' },
      owner: { name: 'owner' },
      databases: [{ key: 'x\nDROP DATABASE mysql; --', name: 'x' }],
      mysql: { charset: 'utf8mb4', userHost: '%', requireSsl: false },
    } as unknown as Config
    const script = mysqlScript(config)
    expect(script.split('\n').filter((line) => line.startsWith('DROP'))).toEqual([])
    expect(script).toContain('-- "x\\nDROP DATABASE mysql; --"')
  })
})
