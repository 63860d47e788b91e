import { describe, expect, test } from 'vitest'
import { mysqlPrivilegeProblems, parseAdminGrants } from '../../src/engines/mysql/mysql-privileges.ts'
import type { DesiredDatabase, Step } from '../../src/plan.ts'

describe('privilege check from SHOW GRANTS', () => {
  const database: DesiredDatabase = { key: 'dex', name: 'dex', owner: 'openzro', items: [] }
  const steps: Step[] = [
    { action: 'create-role', role: { name: 'openzro', kind: 'owner', password: 'x' } },
    { action: 'create-database', database },
    {
      action: 'ensure',
      database,
      item: { id: 'owner-privileges', kind: 'owner-privileges', description: 'grant ALL PRIVILEGES to "openzro"', role: 'openzro' },
    },
  ]
  const admin = { user: 'provisioner', host: '%' }

  test.each([
    [
      'MariaDB root: ALL PRIVILEGES WITH GRANT OPTION',
      ["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED BY PASSWORD '*AB' WITH GRANT OPTION"],
      [],
    ],
    [
      'MySQL 8 root: every privilege listed one by one',
      [
        'GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, SHUTDOWN, PROCESS, FILE, REFERENCES, INDEX, ALTER, SHOW DATABASES, SUPER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, CREATE TABLESPACE, CREATE ROLE, DROP ROLE ON *.* TO `root`@`%` WITH GRANT OPTION',
        'GRANT APPLICATION_PASSWORD_ADMIN,AUDIT_ADMIN,BACKUP_ADMIN ON *.* TO `root`@`%` WITH GRANT OPTION',
        'GRANT PROXY ON ``@`` TO `root`@`%` WITH GRANT OPTION',
      ],
      [],
    ],
    [
      'a role whose privileges SHOW GRANTS does not list',
      ['GRANT USAGE ON *.* TO `provisioner`@`%`', 'GRANT `dba` TO `provisioner`@`%`'],
      [],
    ],
    [
      'database-level grants that may cover the database',
      ['GRANT USAGE ON *.* TO `provisioner`@`%`', 'GRANT ALL PRIVILEGES ON `d%`.* TO `provisioner`@`%` WITH GRANT OPTION'],
      [],
    ],
    [
      'CREATE only',
      ['GRANT CREATE ON *.* TO `provisioner`@`%`'],
      ["cannot create user \"openzro\": 'provisioner'@'%' lacks CREATE USER", 'lacks SELECT, INSERT, UPDATE, DELETE, DROP'],
    ],
    ['ALL without GRANT OPTION', ['GRANT ALL PRIVILEGES ON *.* TO `provisioner`@`%`'], ['lacks GRANT OPTION']],
  ])('%s', (_name, lines, expected) => {
    const problems = mysqlPrivilegeProblems(steps, parseAdminGrants(lines), admin)
    expect(problems.length > 0, problems.join('\n')).toBe(expected.length > 0)
    for (const fragment of expected) expect(problems.join('\n')).toContain(fragment)
  })
})
