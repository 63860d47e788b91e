import type { Logger } from '../log.ts'
import type { DesiredRole } from '../plan.ts'

/**
 * Logs in as each role that has a given password (the admin excepted), all at once. A role maps to false only when
 * the server says the password is wrong, so that just those get a set-password step; any other failure (role
 * missing, pg_hba, host rules) leaves it unknown.
 */
export async function testPasswords(
  roles: readonly DesiredRole[],
  adminUser: string,
  login: (role: DesiredRole) => Promise<void>,
  isWrongPassword: (error: unknown) => boolean,
  log: Logger,
): Promise<Map<string, boolean>> {
  const results = new Map<string, boolean>()
  await Promise.all(
    roles
      .filter((role) => role.password !== undefined && role.name !== adminUser)
      .map(async (role) => {
        try {
          await login(role)
          results.set(role.name, true)
        } catch (error) {
          if (isWrongPassword(error)) results.set(role.name, false)
          else log.debug(`could not test the password of ${JSON.stringify(role.name)}: ${(error as Error).message}`)
        }
      }),
  )
  return results
}
