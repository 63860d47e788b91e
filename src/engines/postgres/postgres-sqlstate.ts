/**
 * The SQLSTATEs dbhook tells apart, named as in PostgreSQL's errcodes.txt (Appendix A of its manual); a server
 * error's `code` is one of these five-character strings.
 */
export const SqlState = {
  connectionException: '08000',
  unableToEstablishConnection: '08001',
  connectionDoesNotExist: '08003',
  serverRejectedConnection: '08004',
  connectionFailure: '08006',
  protocolViolation: '08P01',
  uniqueViolation: '23505',
  readOnlyTransaction: '25006',
  invalidAuthorization: '28000',
  invalidPassword: '28P01',
  invalidCatalogName: '3D000',
  insufficientPrivilege: '42501',
  duplicateDatabase: '42P04',
  tooManyConnections: '53300',
  lockNotAvailable: '55P03',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  idleSessionTimeout: '57P05',
} as const

/** Leading characters that SQLSTATEs share. */
export const SqlStatePrefix = {
  /** Class 08, connection exception: the connection failed or broke. */
  connectionException: '08',
  /** 57P01-57P05: the server ended the session or is not accepting any (shutdown, crash, start-up, timeout). */
  serverEndedSession: '57P',
} as const
