import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort } from './ports.ts'

/** Where the Debian package google-cloud-cli-spanner-emulator puts the emulator (and the SDK's other layouts). */
const emulatorDirs = [
  process.env.DBHOOK_SPANNER_EMULATOR_DIR,
  '/usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator',
  '/usr/share/google-cloud-sdk/bin/cloud_spanner_emulator',
].filter((dir): dir is string => Boolean(dir))

export interface SpannerEmulator {
  readonly host: string
  /** The gRPC port (emulator_main): what SPANNER_EMULATOR_HOST names. */
  readonly grpcPort: number
  /** The REST port (gateway_main), used by the tests to prepare and inspect. */
  readonly httpPort: number
  /** `127.0.0.1:<grpcPort>`. */
  readonly address: string
  /** Creates an instance through the REST admin API. */
  createInstance(project: string, instance: string): Promise<void>
  /** Creates a database through the REST admin API, for a test's starting state. */
  createDatabase(project: string, instance: string, name: string, dialect: 'POSTGRESQL' | 'GOOGLE_STANDARD_SQL'): Promise<void>
  /** The ids of the instance's databases, sorted. */
  databases(project: string, instance: string): Promise<string[]>
  /** Applies DDL to a database and resolves to the operation's error message, or undefined when it applied. */
  applyDdl(project: string, instance: string, database: string, statements: string[]): Promise<string | undefined>
  /** Where the request log stands now, for `requestsSince` (only with `logRequests`). */
  mark(): number
  /**
   * How many gRPC requests of each method (`DatabaseAdmin.ListDatabases`) the emulator received since `mark`: every
   * request a finished dbhook run made is counted, because a marker request sent afterwards is awaited first.
   */
  requestsSince(mark: number): Promise<Record<string, number>>
  /** Stops both processes (the gateway and the emulator_main it started). */
  stop(): Promise<void>
  /** Starts again on the same ports, empty (the emulator keeps nothing across a restart). */
  start(): Promise<void>
}

async function emulatorDir(): Promise<string> {
  for (const dir of emulatorDirs) {
    const ok = await Promise.all(
      ['gateway_main', 'emulator_main'].map((name) =>
        access(join(dir, name), constants.X_OK).then(
          () => true,
          () => false,
        ),
      ),
    )
    if (ok.every(Boolean)) return dir
  }
  throw new Error(
    `the Cloud Spanner emulator is not installed (looked in ${emulatorDirs.join(', ')}): the Spanner tests need the Debian package google-cloud-cli-spanner-emulator (.ci/setup.d/80-spanner.sh checks for it)`,
  )
}

/**
 * Starts gateway_main (which starts emulator_main) on free loopback ports, in a process group of its own so that
 * stop() ends both. Resolves once the REST API answers.
 */
export async function startSpannerEmulator(options: { logRequests?: boolean } = {}): Promise<SpannerEmulator> {
  const dir = await emulatorDir()
  const host = '127.0.0.1'
  const grpcPort = await freePort()
  const httpPort = await freePort()
  const rest = `http://${host}:${httpPort}/v1`
  let child: ChildProcess | undefined
  let output = ''

  const request = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${rest}/${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    })
    const json = (await response.json()) as Record<string, unknown>
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`)
    return json
  }

  const start = async () => {
    output = ''
    const logging = options.logRequests ? ['--log_requests', '--copy_emulator_stdout'] : []
    child = spawn(
      join(dir, 'gateway_main'),
      [
        '--hostname',
        host,
        '--grpc_port',
        String(grpcPort),
        '--http_port',
        String(httpPort),
        '--grpc_binary',
        join(dir, 'emulator_main'),
        ...logging,
      ],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<never>((_, reject) =>
      child!.once('exit', (code) => reject(new Error(`the Spanner emulator exited (${code}) while starting:\n${output.slice(-2000)}`))),
    )
    const started = Date.now()
    while (true) {
      const ready = await Promise.race([
        fetch(`${rest}/projects/dbhook-probe/instances`).then(
          (r) => r.ok,
          () => false,
        ),
        exited,
      ])
      if (ready) break
      if (Date.now() - started > 60_000) throw new Error(`the Spanner emulator did not answer within 60 s:\n${output.slice(-2000)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    exited.catch(() => undefined)
  }

  const stop = async () => {
    const running = child
    child = undefined
    if (!running || running.exitCode !== null || running.signalCode !== null) return
    const gone = new Promise<void>((resolve) => running.once('exit', () => resolve()))
    try {
      process.kill(-running.pid!, 'SIGTERM')
    } catch {
      return
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-running.pid!, 'SIGKILL')
      } catch {
        // already gone
      }
    }, 5000)
    await gone
    clearTimeout(timer)
    // emulator_main shares the group; wait until nothing of it still holds the gRPC port.
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(-running.pid!, 0)
      } catch {
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    process.kill(-running.pid!, 'SIGKILL')
  }

  await start()

  const waitOperation = async (operation: Record<string, unknown>): Promise<Record<string, unknown>> => {
    let current = operation
    for (let i = 0; !current.done && i < 600; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      current = await request('GET', String(current.name))
    }
    return current
  }

  return {
    host,
    grpcPort,
    httpPort,
    address: `${host}:${grpcPort}`,
    async createInstance(project, instance) {
      await waitOperation(
        await request('POST', `projects/${project}/instances`, {
          instanceId: instance,
          instance: { config: 'emulator-config', displayName: instance, nodeCount: 1 },
        }),
      )
    },
    async createDatabase(project, instance, name, dialect) {
      const createStatement = dialect === 'POSTGRESQL' ? `CREATE DATABASE "${name}"` : `CREATE DATABASE \`${name}\``
      const done = await waitOperation(
        await request('POST', `projects/${project}/instances/${instance}/databases`, { createStatement, databaseDialect: dialect }),
      )
      if (done.error) throw new Error(`creating ${name}: ${JSON.stringify(done.error)}`)
    },
    async databases(project, instance) {
      const listed = (await request('GET', `projects/${project}/instances/${instance}/databases`)).databases as
        | { name: string }[]
        | undefined
      return (listed ?? []).map((db) => db.name.slice(db.name.lastIndexOf('/') + 1)).sort()
    },
    async applyDdl(project, instance, database, statements) {
      const path = `projects/${project}/instances/${instance}/databases/${database}/ddl`
      const response = await fetch(`${rest}/${path}`, {
        method: 'PATCH',
        body: JSON.stringify({ statements }),
        headers: { 'content-type': 'application/json' },
      })
      const json = (await response.json()) as Record<string, unknown>
      if (!response.ok) return JSON.stringify(json.error ?? json)
      const done = await waitOperation(json)
      return done.error ? JSON.stringify(done.error) : undefined
    },
    mark: () => output.length,
    async requestsSince(mark) {
      if (!options.logRequests) throw new Error('startSpannerEmulator({ logRequests: true }) is needed to count requests')
      const marker = `marker-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`
      await fetch(`${rest}/projects/dbhook-marker/instances/${marker}`).catch(() => undefined)
      for (let i = 0; !output.includes(marker, mark); i++) {
        if (i > 600) throw new Error('the emulator never logged the marker request')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const counts: Record<string, number> = {}
      // Up to the marker's own request line, which names the marker on the line after it.
      const window = output.slice(mark, output.lastIndexOf('Request[', output.indexOf(marker, mark)))
      for (const match of window.matchAll(/Request\[([A-Za-z.]+)\]/g)) counts[match[1]!] = (counts[match[1]!] ?? 0) + 1
      return counts
    },
    stop,
    start,
  }
}
