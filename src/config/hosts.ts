import type { HostPort } from './config.ts'
import { quoteValue } from './quote.ts'

/**
 * DBHOOK_HOST and DBHOOK_PORT as libpq reads host and port: a comma list of hosts, tried in order, with either one
 * port for all or one port per host. Stricter than libpq where libpq's leniency hides a typo: an empty entry (libpq's
 * "default host") and a Unix socket directory mixed with TCP hosts are refused. Returns the hosts, or the problems,
 * each naming the variable.
 */
export function parseHosts(
  hostValue: string,
  portValue: string | undefined,
  defaultPort: number,
): { hosts: HostPort[]; problems: string[] } {
  const problems: string[] = []
  const hosts = hostValue === '' ? [] : hostValue.split(',').map((h) => h.trim())
  if (hosts.some((h) => h === ''))
    problems.push(`DBHOOK_HOST ${quoteValue(hostValue)} has an empty entry: list host names separated by commas`)
  const sockets = hosts.filter((h) => h.startsWith('/'))
  if (sockets.length > 0 && sockets.length < hosts.filter((h) => h !== '').length) {
    problems.push(
      `DBHOOK_HOST ${quoteValue(hostValue)} mixes a Unix socket directory with TCP hosts: list either TCP hosts or one socket directory`,
    )
  }

  let ports: number[] = []
  if (portValue !== undefined) {
    const entries = portValue.split(',').map((p) => p.trim())
    if (entries.length === 1) {
      const port = portNumber(entries[0]!)
      if (port === undefined) problems.push(`DBHOOK_PORT must be a port number (1-65535), got ${quoteValue(portValue)}`)
      else ports = [port]
    } else if (entries.some((p) => p === '')) {
      problems.push(`DBHOOK_PORT ${quoteValue(portValue)} has an empty entry: give one port for all hosts, or one per host`)
    } else {
      const bad = entries.find((p) => portNumber(p) === undefined)
      if (bad !== undefined)
        problems.push(`DBHOOK_PORT must be port numbers (1-65535) separated by commas, got ${quoteValue(bad)} in ${quoteValue(portValue)}`)
      else if (hosts.length > 0 && entries.length !== hosts.length) {
        problems.push(
          `DBHOOK_PORT lists ${entries.length} ports for ${hosts.length} ${hosts.length === 1 ? 'host' : 'hosts'} in DBHOOK_HOST: give one port for all hosts, or one per host`,
        )
      } else ports = entries.map((p) => portNumber(p)!)
    }
  }
  if (problems.length > 0) return { hosts: [], problems }
  return {
    hosts: hosts.map((host, index) => ({ host, port: ports.length > 1 ? ports[index]! : (ports[0] ?? defaultPort) })),
    problems,
  }
}

function portNumber(input: string): number | undefined {
  if (!/^\d+$/.test(input)) return undefined
  const value = Number(input)
  return value >= 1 && value <= 65535 ? value : undefined
}

/** `host:port`, `[v6]:port`, or the socket directory, for messages. */
export function describeHost(endpoint: HostPort): string {
  if (endpoint.host.startsWith('/')) return `${endpoint.host} (socket, port ${endpoint.port})`
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`
}
