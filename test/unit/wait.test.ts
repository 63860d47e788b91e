import pino from 'pino'
import { describe, expect, test } from 'vitest'
import { DbhookError, ExitCode } from '../../src/errors.ts'
import { connectWithRetry, type ConnectVerdict } from '../../src/wait.ts'

const silent = pino({ level: 'silent' })
const target = 'TestDB at db:5432 as "admin"'

/** Errors the classifier below retries (`transient …`) or ends the wait with (`permanent …`, exit 77). */
const transient = (reason: string) => Object.assign(new Error(reason), { transient: true })
function classify(error: unknown): ConnectVerdict {
  if ((error as { transient?: boolean }).transient) return { retry: true, reason: (error as Error).message }
  return { retry: false, error: new DbhookError(`refused: ${(error as Error).message}`, ExitCode.noPermission, { cause: error }) }
}

function options(overrides: { deadlineInMs?: number; signal?: AbortSignal } = {}) {
  return {
    deadline: Date.now() + (overrides.deadlineInMs ?? 5000),
    signal: overrides.signal ?? new AbortController().signal,
    log: silent,
    target,
  }
}

/** An attempt function that fails with `failures` in turn, then succeeds with `value`; records each call's time left. */
function scripted<T>(failures: readonly Error[], value: T) {
  const timesLeft: number[] = []
  const attempt = async (timeLeftMs: number): Promise<T> => {
    timesLeft.push(timeLeftMs)
    const failure = failures[timesLeft.length - 1]
    if (failure) throw failure
    return value
  }
  return { attempt, timesLeft }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`)
    },
    (error: unknown) => error,
  )
}

describe('connectWithRetry', () => {
  test('retries transient failures until an attempt succeeds, and returns what it returned', async () => {
    const { attempt, timesLeft } = scripted(
      [transient('ECONNREFUSED'), transient('57P03 the database system is starting up'), transient('ECONNRESET')],
      'session',
    )
    await expect(connectWithRetry(attempt, classify, options())).resolves.toBe('session')
    expect(timesLeft).toHaveLength(4)
  })

  test('at the deadline the reason is the one of the last full attempt, not the timeout of the attempt the deadline cut short', async () => {
    const attempt = async (timeLeftMs: number): Promise<never> => {
      if (timeLeftMs > 300) throw transient('ECONNREFUSED')
      await new Promise((resolve) => setTimeout(resolve, timeLeftMs + 20))
      throw transient('DEADLINE_EXCEEDED')
    }
    const error = await rejection(connectWithRetry(attempt, classify, options({ deadlineInMs: 600 })))
    expect(error).toBeInstanceOf(DbhookError)
    expect((error as DbhookError).message).toMatch(/last: ECONNREFUSED\)$/)
  })

  test('gives each attempt the time left before the deadline, never more', async () => {
    const { attempt, timesLeft } = scripted([transient('ECONNREFUSED')], 'session')
    await connectWithRetry(attempt, classify, options({ deadlineInMs: 2000 }))
    expect(timesLeft).toHaveLength(2)
    for (const left of timesLeft) expect(left).toBeGreaterThan(0)
    for (const left of timesLeft) expect(left).toBeLessThanOrEqual(2000)
    expect(timesLeft[1]!).toBeLessThan(timesLeft[0]!)
  })

  test("stops at the first permanent failure, with the classifier's error and no further attempt", async () => {
    const { attempt, timesLeft } = scripted(
      [transient('ECONNREFUSED'), new Error('password authentication failed'), transient('never tried')],
      'session',
    )
    const error = await rejection(connectWithRetry(attempt, classify, options()))
    expect(error).toBeInstanceOf(DbhookError)
    expect(error).toMatchObject({ message: 'refused: password authentication failed', exitCode: ExitCode.noPermission })
    expect(timesLeft).toHaveLength(2)
  })

  test('a permanent failure on the first attempt ends the wait at once', async () => {
    const { attempt, timesLeft } = scripted([new Error('no such database')], 'session')
    const started = Date.now()
    await expect(connectWithRetry(attempt, classify, options({ deadlineInMs: 10_000 }))).rejects.toMatchObject({
      exitCode: ExitCode.noPermission,
    })
    expect(timesLeft).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  test('exits 69 at the deadline, naming the target, the attempts made and the last failure', async () => {
    let calls = 0
    const attempt = async (): Promise<never> => {
      calls += 1
      throw transient(`ECONNREFUSED (attempt ${calls})`)
    }
    const started = Date.now()
    const error = await rejection(connectWithRetry(attempt, classify, options({ deadlineInMs: 700 })))
    const waited = Date.now() - started
    expect(error).toBeInstanceOf(DbhookError)
    expect((error as DbhookError).exitCode).toBe(ExitCode.unavailable)
    expect((error as DbhookError).message).toMatch(
      new RegExp(
        `^${target} was not reachable before DBHOOK_WAIT_TIMEOUT ran out \\((\\d+) attempts; last: ECONNREFUSED \\(attempt (\\d+)\\)\\)$`,
      ),
    )
    const [, attempts, last] = /\((\d+) attempts; last: ECONNREFUSED \(attempt (\d+)\)\)/.exec((error as DbhookError).message)!
    expect(Number(attempts)).toBe(calls)
    expect(Number(last)).toBe(calls)
    expect(calls).toBeGreaterThan(1)
    expect(waited).toBeGreaterThanOrEqual(600)
    expect(waited).toBeLessThan(2000)
  })

  test('a deadline already past makes no attempt and exits 69', async () => {
    const { attempt, timesLeft } = scripted([], 'session')
    const error = await rejection(connectWithRetry(attempt, classify, options({ deadlineInMs: -1 })))
    expect(error).toMatchObject({
      exitCode: ExitCode.unavailable,
      message: `${target} was not reachable before DBHOOK_WAIT_TIMEOUT ran out (0 attempts; last: no attempt was made)`,
    })
    expect(timesLeft).toHaveLength(0)
  })

  test("an abort during a hanging attempt rejects at once with the signal's reason, not a verdict", async () => {
    const controller = new AbortController()
    const reason = new Error('SIGTERM')
    let calls = 0
    const attempt = (): Promise<never> => {
      calls += 1
      return new Promise(() => undefined)
    }
    setTimeout(() => controller.abort(reason), 100)
    const started = Date.now()
    const error = await rejection(connectWithRetry(attempt, classify, options({ deadlineInMs: 10_000, signal: controller.signal })))
    expect(error).toBe(reason)
    expect(calls).toBe(1)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  test('an abort between attempts stops the retries', async () => {
    const controller = new AbortController()
    const reason = new Error('SIGINT')
    let calls = 0
    const attempt = async (): Promise<never> => {
      calls += 1
      if (calls === 2) controller.abort(reason)
      throw transient('ECONNREFUSED')
    }
    const error = await rejection(connectWithRetry(attempt, classify, options({ deadlineInMs: 10_000, signal: controller.signal })))
    expect(error).toBe(reason)
    expect(calls).toBe(2)
  })

  test('a signal aborted before the start makes no attempt', async () => {
    const reason = new Error('SIGTERM')
    const { attempt, timesLeft } = scripted([], 'session')
    const error = await rejection(connectWithRetry(attempt, classify, options({ signal: AbortSignal.abort(reason) })))
    expect(error).toBe(reason)
    expect(timesLeft).toHaveLength(0)
  })
})
