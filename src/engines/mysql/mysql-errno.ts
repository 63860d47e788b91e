/**
 * The server error numbers dbhook tells apart, named as in MySQL's and MariaDB's error reference
 * (ER_CON_COUNT_ERROR and so on); a server error's `errno` is one of these.
 */
export const MysqlErrno = {
  /** ER_CON_COUNT_ERROR: too many connections. */
  tooManyConnections: 1040,
  /** ER_DBACCESS_DENIED_ERROR: access denied to a database. */
  databaseAccessDenied: 1044,
  /** ER_ACCESS_DENIED_ERROR: wrong password, or an account that requires TLS reached without it. */
  accessDenied: 1045,
  /** ER_BAD_DB_ERROR: unknown database. */
  unknownDatabase: 1049,
  /** ER_SERVER_SHUTDOWN: the server is shutting down. */
  serverShutdown: 1053,
  /** ER_HOST_NOT_PRIVILEGED: no account matches the host connected from. */
  hostNotPrivileged: 1130,
  /** ER_NONEXISTING_GRANT: there is no such grant to revoke. */
  nonexistingGrant: 1141,
  /** ER_TABLEACCESS_DENIED_ERROR: a command denied on a table. */
  tableAccessDenied: 1142,
  /** ER_SPECIFIC_ACCESS_DENIED_ERROR: a missing global privilege (SUPER, CREATE USER, …). */
  specificAccessDenied: 1227,
  /** ER_NOT_SUPPORTED_YET: e.g. GET_LOCK on a Galera cluster. */
  notSupportedYet: 1235,
  /** ER_CANT_CREATE_USER_WITH_GRANT: GRANT may not create a user. */
  cannotCreateUserWithGrant: 1410,
} as const
