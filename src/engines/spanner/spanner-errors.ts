import { ExitCode } from '../../errors.ts'
import type { ConnectVerdict } from '../../wait.ts'
import { permanent } from '../driver-errors.ts'

/** gRPC status codes the Spanner admin API answers with (grpc/status.h). */
export const Status = {
  cancelled: 1,
  deadlineExceeded: 4,
  notFound: 5,
  alreadyExists: 6,
  permissionDenied: 7,
  resourceExhausted: 8,
  failedPrecondition: 9,
  unavailable: 14,
  unauthenticated: 16,
} as const

const names: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
}

interface GrpcLikeError {
  code?: unknown
  details?: unknown
  message?: unknown
}

/** The gRPC status code of a client-library error, or undefined for errors that carry none. */
export function grpcCode(error: unknown): number | undefined {
  const code = (error as GrpcLikeError)?.code
  return typeof code === 'number' ? code : undefined
}

/** `UNAVAILABLE: No connection established…`: the status name and the server's own text. */
function describeGrpcError(error: unknown): string {
  const err = error as GrpcLikeError
  const code = grpcCode(error)
  const details =
    typeof err?.details === 'string' && err.details !== '' ? err.details : typeof err?.message === 'string' ? err.message : String(error)
  if (code === undefined) return details
  const name = names[code] ?? `code ${code}`
  return details.startsWith(`${code} ${name}`) || details.startsWith(name) ? details : `${name}: ${details}`
}

/** What a call was doing, for messages: `list the databases of projects/p/instances/i`, and the permission it needs. */
export interface SpannerCall {
  readonly action: string
  readonly permission: string
  /** `projects/p/instances/i`, for the NOT_FOUND message. */
  readonly instancePath: string
}

/** The library's own text when Application Default Credentials find nothing. */
const noCredentials = /Could not load the default credentials|Unable to detect a Project Id|invalid_grant|Could not refresh access token/i

const credentialsHint =
  'check Application Default Credentials: on GKE the ServiceAccount annotation iam.gke.io/gcp-service-account (workload identity), elsewhere GOOGLE_APPLICATION_CREDENTIALS naming a key file (docs/spanner.md)'

/**
 * Sorts a failed admin call: UNAVAILABLE and DEADLINE_EXCEEDED are worth another try until the wait deadline;
 * refused permissions and credentials exit 77 at once, naming the permission; an instance that does not exist
 * exits 78 (the configuration names it); anything else exits 1 with Google's message.
 */
export function classifySpannerError(error: unknown, call: SpannerCall): ConnectVerdict {
  const code = grpcCode(error)
  const text = describeGrpcError(error)
  switch (code) {
    case Status.unavailable:
    case Status.deadlineExceeded:
      return { retry: true, reason: text }
    case Status.permissionDenied:
      return permanent(
        `cannot ${call.action}: the identity dbhook runs as lacks ${call.permission} (PERMISSION_DENIED); grant it roles/spanner.databaseAdmin on the instance, or a role holding ${call.permission} (docs/spanner.md). Google said: ${text}`,
        ExitCode.noPermission,
        error,
      )
    case Status.unauthenticated:
      return permanent(
        `cannot ${call.action}: Google did not accept dbhook's credentials (UNAUTHENTICATED); ${credentialsHint}. Google said: ${text}`,
        ExitCode.noPermission,
        error,
      )
    case Status.notFound:
      if (/instance/i.test(text)) {
        return permanent(
          `instance ${call.instancePath} does not exist: check DBHOOK_SPANNER_PROJECT and DBHOOK_SPANNER_INSTANCE (dbhook creates databases, never the instance)`,
          ExitCode.config,
          error,
        )
      }
      break
    default:
      break
  }
  if (code === undefined && noCredentials.test(text)) {
    return permanent(
      `cannot ${call.action}: no usable Google credentials were found; ${credentialsHint}. The library said: ${text}`,
      ExitCode.noPermission,
      error,
    )
  }
  return permanent(`cannot ${call.action}: ${text}`, ExitCode.failed, error)
}
