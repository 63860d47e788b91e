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
