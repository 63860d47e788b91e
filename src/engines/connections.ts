/** Open connections of any engine, so that a signal can close them all before the process exits. */
const open = new Set<() => Promise<unknown>>()

/** Registers a connection's close function; call the returned function once it is closed. */
export function trackConnection(close: () => Promise<unknown>): () => void {
  open.add(close)
  return () => {
    open.delete(close)
  }
}

export async function closeAllConnections(): Promise<void> {
  const closers = [...open]
  open.clear()
  await Promise.allSettled(closers.map((close) => close()))
}

/** Undo work registered by a command for the case that a signal stops it halfway (see `onInterrupt`). */
const interruptCleanups = new Set<() => Promise<unknown>>()

/**
 * Registers what must be undone if a signal stops the run before the command's own cleanup can, such as the
 * lending role a backup made for its dump tools. The cleanup should use a connection of its own: the command's
 * connections may be busy with a long statement (CREATE DATABASE) when the signal comes. Call the returned
 * function once the command has undone it itself.
 */
export function onInterrupt(cleanup: () => Promise<unknown>): () => void {
  interruptCleanups.add(cleanup)
  return () => {
    interruptCleanups.delete(cleanup)
  }
}

/** Runs every registered interrupt cleanup at once; failures are the caller's to log, not to throw. */
export async function runInterruptCleanups(): Promise<PromiseSettledResult<unknown>[]> {
  const cleanups = [...interruptCleanups]
  interruptCleanups.clear()
  return Promise.allSettled(cleanups.map((cleanup) => cleanup()))
}
