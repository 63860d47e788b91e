import { existsSync, writeFileSync } from 'node:fs'

/** Kubernetes reads at most 4096 bytes of the termination message. */
const maxBytes = 4000

/**
 * Writes a one-line outcome where `kubectl describe pod` shows it. The default path is used only when it exists
 * (Kubernetes creates it); a path the operator set is written in any case. Failures are ignored: the message is
 * a courtesy, the exit code is the contract.
 */
export function writeTerminationMessage(path: string, message: string, explicit: boolean): void {
  if (!explicit && !existsSync(path)) return
  let line = message.replace(/\s*\n\s*/g, ' ')
  if (Buffer.byteLength(line) > maxBytes) {
    line = `${Buffer.from(line)
      .subarray(0, maxBytes - 3)
      .toString('utf8')
      .replace(/\uFFFD$/, '')}...`
  }
  try {
    writeFileSync(path, `${line}\n`)
  } catch {
    // not writable here (read-only filesystem, no such directory): nothing to do
  }
}
