// PostgreSQL and MariaDB on the host for the Kubernetes tests: listening on 127.0.0.1 (where the tests connect)
// and on the cluster bridge's address (DBHOOK_E2E_HOST, where the pods connect), admitting logins from the pod
// range only besides loopback.
import { startMariadb, type MariadbOptions, type MariadbServer } from '../support/mariadb.ts'
import { startPostgres, type PostgresServer, type StartOptions } from '../support/postgres.ts'
import type { Cluster } from './cluster.ts'

/**
 * PostgreSQL 15 by default: the pgtools image carries Debian's pg_dump 15, which dumps servers up to 15, and one
 * major serves every test here (the chart's behaviour, not the server matrix, is what these tests prove).
 */
export function startHostPostgres(
  cluster: Cluster,
  options: StartOptions & { major?: number; logDdl?: boolean } = {},
): Promise<PostgresServer> {
  return startPostgres(options.major ?? 15, {
    ...options,
    conf: [
      `listen_addresses = '127.0.0.1,${cluster.host}'`,
      ...(options.logDdl ? ["log_statement = 'ddl'", 'log_connections = on'] : []),
      ...(options.conf ?? []),
    ],
    hba: [
      'local all all scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      `host all all ${cluster.podCidr} scram-sha-256`,
      '',
    ].join('\n'),
  })
}

export function startHostMariadb(cluster: Cluster, options: MariadbOptions = {}): Promise<MariadbServer> {
  return startMariadb({ ...options, extraBindAddresses: [cluster.host] })
}

/** The DDL statements PostgreSQL logged (log_statement = 'ddl'), one per entry. */
export async function loggedDdl(server: PostgresServer): Promise<string[]> {
  return (await server.log()).split('\n').filter((line) => /LOG: {2}statement: /.test(line))
}

/** How many sessions `user` opened (log_connections, on with `logDdl`); the tests connect as the superuser only. */
export async function loggedConnections(server: PostgresServer, user: string): Promise<number> {
  return (await server.log()).split('\n').filter((line) => line.includes(`connection authorized: user=${user} `)).length
}

/** MariaDB's host pattern for the pod range, e.g. 10.213.0.0/255.255.255.0. */
export function mariadbHostPattern(cluster: Cluster): string {
  const [network, bits] = cluster.podCidr.split('/')
  const length = Number(bits)
  const mask = [0, 1, 2, 3].map((octet) => (0xff << (8 - Math.max(0, Math.min(8, length - octet * 8)))) & 0xff).join('.')
  return `${network}/${mask}`
}
