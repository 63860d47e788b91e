let counter = 0

/**
 * A fresh lower-case name per call (`<prefix>_<pid>_<n>`), so that tests sharing a server never see each other's
 * databases and roles, and neither do two test processes.
 */
export function unique(prefix: string): string {
  counter += 1
  return `${prefix}_${process.pid}_${counter}`
}
