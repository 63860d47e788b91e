import pRetry, { AbortError } from 'p-retry'
import { DbhookError, ExitCode } from './errors.ts'
import type { Logger } from './log.ts'

/** How an engine judges a failed connection attempt. */
export type ConnectVerdict = { readonly retry: true; readonly reason: string } | { readonly retry: false; readonly error: DbhookError }

interface WaitOptions {
  /** Epoch milliseconds after which no new attempt starts. */
  readonly deadline: number
  readonly signal: AbortSignal
  readonly log: Logger
  /** What is being reached, for messages: `PostgreSQL at db:5432 as "provisioner"`. */
  readonly target: string
}

// Exponential from 100 ms, randomized, capped at 300 ms: a server that comes up is found about 0.15 s later on
// average, and a server that stays down sees about three attempts a second (bench/: 3.3-3.6/s, under the 4/s budget).
const backoff = { minTimeout: 100, factor: 2, maxTimeout: 300, randomize: true } as const

/**
 * Runs `attempt` until it succeeds, `classify` calls a failure permanent, the deadline passes (exit 69) or the
 * signal aborts. Each attempt is given the time left so that none outlives the deadline.
 */
export async function connectWithRetry<T>(
  attempt: (timeLeftMs: number) => Promise<T>,
  classify: (error: unknown) => ConnectVerdict,
  options: WaitOptions,
): Promise<T> {
  const { deadline, signal, log, target } = options
  let attempts = 0
  let lastReason = 'no attempt was made'
  try {
    return await pRetry(
      async () => {
        attempts += 1
        const timeLeft = deadline - Date.now()
        if (timeLeft <= 0) throw new AbortError(unreachable(target, attempts - 1, lastReason))
        try {
          // An attempt may hang up to DBHOOK_CONNECT_TIMEOUT; a signal must not wait for it.
          return await abortable(attempt(timeLeft), signal)
        } catch (error) {
          if (signal.aborted) throw signal.reason
          const verdict = classify(error)
          if (!verdict.retry) throw new AbortError(verdict.error)
          // An attempt the deadline cut short says only that time ran out; the attempt before it says why.
          if (attempts === 1 || Date.now() < deadline) lastReason = verdict.reason
          throw new RetryableError(verdict.reason)
        }
      },
      {
        ...backoff,
        retries: Number.POSITIVE_INFINITY,
        maxRetryTime: Math.max(0, deadline - Date.now()),
        signal,
        onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
          if (error instanceof RetryableError) {
            log.debug({ attempt: attemptNumber, retryInMs: retryDelay }, `${target} not ready: ${error.message}`)
            if (attemptNumber === 1) log.info(`waiting for ${target}: ${error.message}`)
          }
        },
      },
    )
  } catch (error) {
    if (signal.aborted) throw signal.reason
    if (error instanceof DbhookError) throw error
    if (error instanceof RetryableError) throw unreachable(target, attempts, lastReason)
    throw error
  }
}

class RetryableError extends Error {}

/** `work`, or the signal's reason as soon as it aborts (the work itself runs on; what it opens is tracked). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // Nobody awaits the work any more: its failure must not become an unhandled rejection.
    work.catch(() => undefined)
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

function unreachable(target: string, attempts: number, reason: string): DbhookError {
  return new DbhookError(
    `${target} was not reachable before DBHOOK_WAIT_TIMEOUT ran out (${attempts} attempts; last: ${reason})`,
    ExitCode.unavailable,
  )
}
