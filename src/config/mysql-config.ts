import type { MysqlSettings } from './config.ts'
import type { Settings } from './variables.ts'

/** The DBHOOK_MYSQL_* settings of the users and databases dbhook creates on MySQL/MariaDB; unset, the defaults. */
export function readMysqlSettings(
  settings: Pick<Settings, 'DBHOOK_MYSQL_CHARSET' | 'DBHOOK_MYSQL_COLLATION' | 'DBHOOK_MYSQL_USER_HOST' | 'DBHOOK_MYSQL_REQUIRE_SSL'>,
): MysqlSettings {
  return {
    charset: settings.DBHOOK_MYSQL_CHARSET,
    collation: settings.DBHOOK_MYSQL_COLLATION || undefined,
    userHost: settings.DBHOOK_MYSQL_USER_HOST,
    requireSsl: settings.DBHOOK_MYSQL_REQUIRE_SSL,
  }
}
