// `npm run bench`: dbhook against the shell-and-psql hook charts ship today, on one real PostgreSQL 18, in one
// run. Writes docs/benchmarks.md and docs/benchmarks.svg. BENCH_QUICK=1 runs one round of the small cases only
// and writes to .cache/bench/ instead, for trying the bench itself.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import pg from 'pg'
import { freePort } from '../test/support/ports.ts'
import { postgresBinaries, startPostgres, type PostgresServer } from '../test/support/postgres.ts'
import { renderChart, type ChartSeries } from './chart.ts'
import { extractSection, kubernetesSection } from './sections.ts'
import { formatRatio, formatSeconds, pairedRatios, roundOrder, summarize, type Summary } from './stats.ts'

const repoRoot = resolve(import.meta.dirname, '..')
// BENCH_DBHOOK points at another build (a patched bundle) to compare it under the same conditions.
const builtBin = resolve(process.env.BENCH_DBHOOK ?? join(repoRoot, 'dist/dbhook.mjs'))
// The bench runs a private copy of the build's directory: others may rebuild dist/ while a long run goes on.
let dbhookBin = builtBin
const psqlLoop = join(repoRoot, 'bench/peers/psql-loop.sh')
const waitLoop = join(repoRoot, 'bench/peers/wait-loop.sh')
const quick = process.env.BENCH_QUICK === '1'
const outDir = quick ? join(repoRoot, '.cache/bench') : join(repoRoot, 'docs')
const sizes = quick ? [4, 64] : [4, 64, 256]
const rounds = (n: number) => (quick ? 1 : n >= 256 ? 3 : 5)
const lagRounds = quick ? 2 : 5
const startupRounds = quick ? 10 : 30
const planRounds = quick ? 3 : 10
const owner = 'bench_owner'
// log_timezone and the prefix make the "ready to accept connections" line carry a UTC time to the millisecond.
const serverConf = ["log_timezone = 'UTC'", "log_line_prefix = '%m [%p] '"]

const databaseNames = (n: number) => Array.from({ length: n }, (_, i) => `bench_${String(i + 1).padStart(3, '0')}`)

interface ToolRun {
  readonly ms: number
  /** Wall-clock epoch milliseconds at exit, to compare with the server log's timestamps. */
  readonly exitedAt: number
  /** Largest resident set of the process (for the shell loop: of its largest single process), from GNU time. */
  readonly maxRssKiB: number
  readonly stdout: string
}

type Tool = 'dbhook' | 'psql loop'

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

/** Runs a command under GNU time (for its peak RSS) and times it from spawn to exit. Fails on any other exit code. */
async function timedRun(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 600_000,
  exitCode = 0,
): Promise<ToolRun> {
  const scratch = await mkdtemp(join(tmpdir(), 'dbhook-bench-'))
  const rssFile = join(scratch, 'rss')
  try {
    const started = performance.now()
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', rssFile, command, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const code = await new Promise<number | null>((resolvePromise, reject) => {
      child.on('error', reject)
      child.on('exit', (exitCode) => resolvePromise(exitCode))
    })
    const ms = performance.now() - started
    const exitedAt = performance.timeOrigin + performance.now()
    clearTimeout(timer)
    if (code !== exitCode)
      throw new Error(`${command} ${args.join(' ')} exited with ${code}\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`)
    const maxRssKiB = Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop())
    return { ms, exitedAt, maxRssKiB, stdout }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

function dbhookEnv(server: PostgresServer, names: readonly string[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...server.env('postgres', server.password, {
      DBHOOK_OWNER: owner,
      DBHOOK_DATABASES: names.join(','),
      DBHOOK_TERMINATION_LOG: '/dev/null',
    }),
    ...extra,
  }
}

function peerEnv(host: string, port: number, password: string, names: readonly string[], databaseOwner: string): Record<string, string> {
  // sslmode disable on both sides: dbhook runs with DBHOOK_SSLMODE=disable against a server without TLS.
  return {
    PGHOST: host,
    PGPORT: String(port),
    PGUSER: 'postgres',
    PGPASSWORD: password,
    PGDATABASE: 'postgres',
    PGSSLMODE: 'disable',
    DATABASES: names.join(' '),
    OWNER: databaseOwner,
  }
}

/** The result line dbhook ends with; the bench checks it so that a run that did something else cannot count. */
function expectDbhookSummary(run: ToolRun, names: readonly string[], result: 'created' | 'unchanged'): void {
  const summary = run.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { summary?: boolean; databases?: { name: string; result: string }[] })
    .find((line) => line.summary === true)
  const wrong = names.filter((name) => summary?.databases?.find((d) => d.name === name)?.result !== result)
  if (!summary || wrong.length > 0)
    throw new Error(`dbhook did not report ${result} for ${wrong.slice(0, 5).join(', ')}:\n${run.stdout.slice(-2000)}`)
}

async function withClient<T>(server: PostgresServer, task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', password: server.password, database: 'postgres' })
  await client.connect()
  try {
    return await task(client)
  } finally {
    await client.end()
  }
}

/** Databases of `names` that exist with the bench owner. */
async function presentWithOwner(server: PostgresServer, names: readonly string[], databaseOwner = owner): Promise<number> {
  const rows = await server.query<{ count: string }>(
    'SELECT count(*) AS count FROM pg_database WHERE datname = ANY($1::text[]) AND pg_get_userbyid(datdba) = $2',
    [names, databaseOwner],
  )
  return Number(rows[0]?.count)
}

/** Creates whatever of `names` is missing (four sessions), then checkpoints: the starting point of a re-run. */
async function ensureAll(server: PostgresServer, names: readonly string[]): Promise<void> {
  const rows = await server.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1::text[])', [names])
  const queue = names.filter((name) => !rows.some((r) => r.datname === name))
  await Promise.all(
    Array.from({ length: 4 }, () =>
      withClient(server, async (client) => {
        for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} OWNER ${client.escapeIdentifier(owner)}`)
        }
      }),
    ),
  )
  await server.query('CHECKPOINT')
}

/** CREATE DATABASE for every name straight from the bench on `sessions` connections: what the server itself needs. */
async function serverFloor(server: PostgresServer, names: readonly string[], sessions: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: sessions }, async () => {
      const client = new pg.Client({
        host: server.host,
        port: server.port,
        user: 'postgres',
        password: server.password,
        database: 'postgres',
      })
      await client.connect()
      return client
    }),
  )
  try {
    const queue = [...names]
    const started = performance.now()
    await Promise.all(
      clients.map(async (client) => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} OWNER ${client.escapeIdentifier(owner)}`)
        }
      }),
    )
    return performance.now() - started
  } finally {
    await Promise.all(clients.map((c) => c.end()))
  }
}

interface CaseResult {
  readonly name: string
  readonly n: number
  readonly kind: 'create' | 'rerun'
  /** Milliseconds per variant, index = round. */
  readonly times: Record<string, number[]>
  readonly rss: Record<string, number[]>
}

/**
 * Runs `variants` in rotating order for `count` rounds; `prepare` runs before every single run (not timed),
 * `check` after it (not timed).
 */
async function runCase(
  name: string,
  n: number,
  kind: 'create' | 'rerun',
  count: number,
  variants: Record<string, () => Promise<{ ms: number; maxRssKiB?: number }>>,
  prepare: () => Promise<void>,
  check: (variant: string) => Promise<void>,
): Promise<CaseResult> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]))
  const rss: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]))
  for (let round = 0; round < count; round += 1) {
    for (const variant of roundOrder(Object.keys(variants), round)) {
      await prepare()
      const run = await (variants[variant] as () => Promise<{ ms: number; maxRssKiB?: number }>)()
      await check(variant)
      times[variant]?.push(run.ms)
      if (run.maxRssKiB !== undefined) rss[variant]?.push(run.maxRssKiB)
      log(`${name}: ${variant} round ${round + 1}/${count}: ${formatSeconds(run.ms)}`)
    }
  }
  return { name, n, kind, times, rss }
}

interface LagRun {
  /** Server ready -> tool exited. */
  readonly lagMs: number
  /** Server ready -> the tool's first connection reached it. */
  readonly detectMs: number
  readonly attemptsPerSecond: number
  readonly waitedMs: number
}

const readyLine = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC \[\d+\] LOG: {2}database system is ready to accept connections/
const connectionLine = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC \[\d+\] LOG: {2}connection received: host=127\.0\.0\.1/
const logTime = (m: RegExpExecArray) => Date.parse(`${m[1]}T${m[2]}Z`)

/** Runs a PostgreSQL binary as the postgres OS user (the server refuses to run as root). */
function runAsPostgres(bin: string, args: readonly string[]): void {
  const [command, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, [...args]]
  const result = spawnSync(command as string, argv as string[], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${result.stderr}`)
}

/**
 * A server restart under a waiting hook: the 4 databases exist, the server is stopped, the tool starts against
 * its port, and 3–5 s later the server starts again. Measured from the server's "ready to accept connections"
 * (its log, UTC, to the millisecond) to the tool's exit, and to the tool's first connection (log_connections).
 * The tool runs under strace, stopping only on connect() (seccomp filter), to count its connection attempts
 * while it waited.
 */
export async function lagRun(tool: Tool): Promise<LagRun> {
  const port = await freePort()
  const password = `pw-${Math.random().toString(36).slice(2)}`
  const names = databaseNames(4)
  const scratch = await mkdtemp(join(tmpdir(), 'dbhook-bench-lag-'))
  const traceFile = join(scratch, 'connect.trace')
  const env =
    tool === 'dbhook'
      ? {
          DBHOOK_HOST: '127.0.0.1',
          DBHOOK_PORT: String(port),
          DBHOOK_ADMIN_USER: 'postgres',
          DBHOOK_ADMIN_PASSWORD: password,
          DBHOOK_SSLMODE: 'disable',
          DBHOOK_DATABASES: names.join(','),
          DBHOOK_WAIT_TIMEOUT: '60s',
          DBHOOK_TERMINATION_LOG: '/dev/null',
        }
      : peerEnv('127.0.0.1', port, password, names, 'postgres')
  const command = tool === 'dbhook' ? [process.execPath, dbhookBin, 'apply'] : [waitLoop]
  const bin = await postgresBinaries(18)
  const server = await startPostgres(18, { port, password, conf: [...serverConf, 'log_connections = on'] })
  try {
    for (const name of names) await server.query(`CREATE DATABASE ${name}`)
    runAsPostgres(join(bin, 'pg_ctl'), ['stop', '-w', '-m', 'fast', '-D', server.dataDir])
    const startedAt = performance.timeOrigin + performance.now()
    const run = timedRun('strace', ['-f', '--seccomp-bpf', '-ttt', '-e', 'trace=connect', '-o', traceFile, ...command], env, 120_000)
    run.catch(() => undefined)
    await new Promise((r) => setTimeout(r, 3000 + Math.random() * 2000))
    runAsPostgres(join(bin, 'pg_ctl'), ['start', '-w', '-t', '60', '-D', server.dataDir, '-l', join(server.dataDir, '../server.log')])
    const finished = await run
    const lines = (await server.log()).split('\n')
    const readyIndex = lines.findLastIndex((line) => readyLine.test(line))
    if (readyIndex === -1) throw new Error(`no "ready to accept connections" line in the server log:\n${lines.join('\n')}`)
    const readyAt = logTime(readyLine.exec(lines[readyIndex] as string) as RegExpExecArray)
    const firstConnection = lines
      .slice(readyIndex)
      .map((line) => connectionLine.exec(line))
      .find((m) => m !== null)
    if (!firstConnection) throw new Error(`${tool} never connected after the restart`)
    if (tool === 'dbhook') expectDbhookSummary(finished, names, 'unchanged')
    const trace = await readFile(traceFile, 'utf8')
    const attempts = trace
      .split('\n')
      .map((line) => /^\d+\s+(\d+\.\d+) connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === port && Number(m[1]) * 1000 < readyAt).length
    const waitedMs = readyAt - startedAt
    return {
      lagMs: finished.exitedAt - readyAt,
      detectMs: logTime(firstConnection) - readyAt,
      attemptsPerSecond: attempts / (waitedMs / 1000),
      waitedMs,
    }
  } finally {
    await server.stop()
    await rm(scratch, { recursive: true, force: true })
  }
}

export function startupTimes(): { dbhook: number[]; node: number[] } {
  const variants: Record<'dbhook' | 'node', string[]> = { dbhook: [dbhookBin, '--version'], node: ['-e', '0'] }
  const result = { dbhook: [] as number[], node: [] as number[] }
  for (const warm of ['dbhook', 'node'] as const) spawnSync(process.execPath, variants[warm])
  for (let round = 0; round < startupRounds; round += 1) {
    for (const variant of roundOrder(['dbhook', 'node'] as const, round)) {
      const started = performance.now()
      const child = spawnSync(process.execPath, variants[variant], { stdio: 'ignore' })
      const ms = performance.now() - started
      if (child.status !== 0) throw new Error(`${variant} startup exited with ${child.status}`)
      result[variant].push(ms)
    }
  }
  return result
}

/** openZro's values (chart/ci/openzro-postgres-values.yaml): one user that provisions its four databases for itself. */
const openZroDatabases = { management: 'openzro', flow: 'openzro_flow', activity: 'openzro_activity', dex: 'dex' }
/** The largest peak of planRss() for the one-file build (main at 7ed180e, Node 24.21.0), before code splitting. */
const planRssBeforeSplitKiB = 64_940

/**
 * Peak RSS (KiB) of `dbhook plan` for openZro's values against a server that is up and holds none of the databases
 * yet, as before a first install: it connects, inspects and lists four creates (exit 2). Each run is checked.
 */
export async function planRss(): Promise<number[]> {
  const server = await startPostgres(18, { conf: serverConf })
  try {
    const password = `pw-${Math.random().toString(36).slice(2)}`
    await server.query(`CREATE ROLE openzro LOGIN CREATEDB CREATEROLE PASSWORD '${password}'`)
    const env = server.env('openzro', password, {
      DBHOOK_OWNER: 'openzro',
      DBHOOK_DATABASES: JSON.stringify(openZroDatabases),
      DBHOOK_TERMINATION_LOG: '/dev/null',
    })
    const rss: number[] = []
    for (let round = 0; round < planRounds; round += 1) {
      const run = await timedRun(process.execPath, [dbhookBin, 'plan'], env, 60_000, 2)
      const missing = Object.values(openZroDatabases).filter(
        (name) => !run.stdout.includes(`create database \\"${name}\\" owned by \\"openzro\\"`),
      )
      if (missing.length > 0) throw new Error(`dbhook plan did not plan to create ${missing.join(', ')}:\n${run.stdout.slice(-2000)}`)
      rss.push(run.maxRssKiB)
    }
    return rss
  } finally {
    await server.stop()
  }
}

function requireTool(path: string, hint: string): void {
  if (spawnSync('sh', ['-c', `command -v ${path}`]).status !== 0) throw new Error(`${path} is missing: ${hint}`)
}

function commandOutput(command: string, args: readonly string[]): string {
  return spawnSync(command, args, { encoding: 'utf8' }).stdout.trim()
}

interface Row {
  readonly label: string
  readonly dbhook: string
  readonly peer: string
  readonly ratio: string
  readonly target: string
  readonly verdict: string
}

const range = (s: Summary, format: (v: number) => string) => `${format(s.median)} (${format(s.min)}–${format(s.max)})`
const seconds = (s: Summary) => range(s, formatSeconds)
const ratioText = (s: Summary) => range(s, formatRatio)
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`
const verdict = (pass: boolean | undefined) => (pass === undefined ? '—' : pass ? '**pass**' : '**miss**')

async function main(): Promise<void> {
  const benchStarted = performance.now()
  const loadBefore = loadavg()[0] as number
  if (!existsSync(builtBin)) throw new Error(`${builtBin} is missing: run npm run build (npm run bench does)`)
  const snapshot = await mkdtemp(join(tmpdir(), 'dbhook-bench-build-'))
  await cp(dirname(builtBin), snapshot, { recursive: true })
  dbhookBin = join(snapshot, basename(builtBin))
  try {
    await runAll(benchStarted, loadBefore)
  } finally {
    await rm(snapshot, { recursive: true, force: true })
  }
}

async function runAll(benchStarted: number, loadBefore: number): Promise<void> {
  requireTool('psql', 'apt-get install postgresql-client')
  requireTool('pg_isready', 'apt-get install postgresql-client')
  requireTool('/usr/bin/time', 'apt-get install time')
  requireTool('strace', 'apt-get install strace')

  log('whole-process startup')
  const startup = startupTimes()
  log('peak RSS of plan, openZro')
  const plan = await planRss()

  const cases: CaseResult[] = []
  let postgresVersion = ''
  // Each fresh-create run gets a newly initialised server (cheaper than dropping 256 databases, and the state a
  // first install meets); each re-run case one server holding its N databases.
  let server: PostgresServer | undefined
  const live = () => {
    if (!server) throw new Error('no server is running')
    return server
  }
  const freshServer = async () => {
    await server?.stop()
    server = undefined
    server = await startPostgres(18, { conf: serverConf })
    await server.query(`CREATE ROLE ${owner} NOLOGIN`)
    postgresVersion ||= (await server.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]?.v ?? ''
  }
  try {
    const dbhook =
      (names: readonly string[], extra: Record<string, string> = {}) =>
      () =>
        timedRun(process.execPath, [dbhookBin, 'apply'], dbhookEnv(live(), names, extra))
    const peer = (names: readonly string[]) => () =>
      timedRun(psqlLoop, [], peerEnv(live().host, live().port, live().password, names, owner))

    for (const n of sizes) {
      const names = databaseNames(n)
      let lastRun: ToolRun | undefined
      const remember = (task: () => Promise<ToolRun>) => async () => (lastRun = await task())
      const variants: Record<string, () => Promise<{ ms: number; maxRssKiB?: number }>> = {
        dbhook: remember(dbhook(names)),
        'psql loop': peer(names),
      }
      if (n >= 256) {
        variants['dbhook DBHOOK_PARALLEL=1'] = remember(dbhook(names, { DBHOOK_PARALLEL: '1' }))
        variants['server, 4 sessions'] = async () => ({ ms: await serverFloor(live(), names, 4) })
      }
      cases.push(
        await runCase(`create N=${n}`, n, 'create', rounds(n), variants, freshServer, async (variant) => {
          const present = await presentWithOwner(live(), names)
          if (present !== n) throw new Error(`after ${variant}, ${present} of ${n} databases exist with owner ${owner}`)
          if (variant.startsWith('dbhook') && lastRun) expectDbhookSummary(lastRun, names, 'created')
        }),
      )
      await freshServer()
      await ensureAll(live(), names)
      cases.push(
        await runCase(
          `re-run N=${n}`,
          n,
          'rerun',
          rounds(n),
          { dbhook: remember(dbhook(names)), 'psql loop': peer(names) },
          async () => undefined,
          async (variant) => {
            if (variant === 'dbhook' && lastRun) expectDbhookSummary(lastRun, names, 'unchanged')
          },
        ),
      )
    }
  } finally {
    await server?.stop()
  }

  log('readiness lag')
  const lag: Record<Tool, LagRun[]> = { dbhook: [], 'psql loop': [] }
  for (let round = 0; round < lagRounds; round += 1) {
    for (const tool of roundOrder(['dbhook', 'psql loop'] as const, round)) {
      const run = await lagRun(tool)
      lag[tool].push(run)
      log(
        `readiness lag: ${tool} round ${round + 1}/${lagRounds}: ${formatSeconds(run.lagMs)} (first connection ${formatSeconds(run.detectMs)}), ${run.attemptsPerSecond.toFixed(2)} attempts/s over ${formatSeconds(run.waitedMs)}`,
      )
    }
  }

  const totalMs = performance.now() - benchStarted
  await mkdir(outDir, { recursive: true })
  // bench/kubernetes.ts writes its own section (it needs a cluster); a rewrite keeps it.
  const previous = extractSection(await readFile(join(outDir, 'benchmarks.md'), 'utf8').catch(() => ''), kubernetesSection)
  const report = renderReport({ cases, lag, startup, plan, postgresVersion, totalMs, load: [loadBefore, loadavg()[0] as number] })
  const markdown = previous ? `${report.trimEnd()}\n\n${previous}\n` : report
  await writeFile(join(outDir, 'benchmarks.md'), markdown)
  await writeFile(join(outDir, 'benchmarks.svg'), renderChart('dbhook apply vs the psql loop, PostgreSQL 18', chartSeries(cases)))
  log(`wrote ${join(outDir, 'benchmarks.md')} and benchmarks.svg in ${formatSeconds(totalMs)}`)
  process.stdout.write(markdown)
}

function chartSeries(cases: readonly CaseResult[]): ChartSeries[] {
  const line = (label: string, color: string, dashed: boolean, kind: 'create' | 'rerun', variant: string): ChartSeries => ({
    label,
    color,
    dashed,
    points: cases.filter((c) => c.kind === kind && c.times[variant]).map((c) => ({ n: c.n, ...summarize(c.times[variant] as number[]) })),
  })
  return [
    line('dbhook, create', '#1f77b4', false, 'create', 'dbhook'),
    line('psql loop, create', '#d62728', false, 'create', 'psql loop'),
    line('dbhook, re-run', '#1f77b4', true, 'rerun', 'dbhook'),
    line('psql loop, re-run', '#d62728', true, 'rerun', 'psql loop'),
  ]
}

/** The targets, as (ratio or value) -> pass. */
function rerunTarget(n: number): { text: string; limit: number } | undefined {
  if (n === 4) return { text: '≤ 1.0× psql loop', limit: 1.0 }
  if (n === 256) return { text: '≤ 0.05× psql loop', limit: 0.05 }
  return undefined
}

function renderReport(input: {
  cases: readonly CaseResult[]
  lag: Record<Tool, LagRun[]>
  startup: { dbhook: number[]; node: number[] }
  plan: readonly number[]
  postgresVersion: string
  totalMs: number
  load: readonly number[]
}): string {
  const { cases, lag, startup, plan, postgresVersion, totalMs, load } = input
  const rows: Row[] = []
  for (const c of cases) {
    const dbhookTimes = c.times.dbhook as number[]
    const peerTimes = c.times['psql loop'] as number[]
    const ratio = summarize(pairedRatios(dbhookTimes, peerTimes))
    const target = c.kind === 'rerun' ? rerunTarget(c.n) : c.n === 256 ? { text: '≤ 0.3× psql loop', limit: 0.3 } : undefined
    rows.push({
      label: `${c.kind === 'create' ? 'Fresh create' : 'Re-run (all exist)'}, N = ${c.n} (${c.times.dbhook?.length} runs)`,
      dbhook: seconds(summarize(dbhookTimes)),
      peer: seconds(summarize(peerTimes)),
      ratio: ratioText(ratio),
      target: target?.text ?? '—',
      verdict: verdict(target === undefined ? undefined : ratio.median <= target.limit),
    })
  }
  const dbhookLag = summarize(lag.dbhook.map((r) => r.lagMs))
  const peerLag = summarize(lag['psql loop'].map((r) => r.lagMs))
  const dbhookRate = summarize(lag.dbhook.map((r) => r.attemptsPerSecond))
  const peerRate = summarize(lag['psql loop'].map((r) => r.attemptsPerSecond))
  const rate = (s: Summary) => range(s, (v) => `${v.toFixed(2)}/s`)
  rows.push(
    {
      label: `Readiness lag after a server restart, N = 4 existing (${lag.dbhook.length} runs)`,
      dbhook: seconds(dbhookLag),
      peer: seconds(peerLag),
      ratio: ratioText(
        summarize(
          pairedRatios(
            lag.dbhook.map((r) => r.lagMs),
            lag['psql loop'].map((r) => r.lagMs),
          ),
        ),
      ),
      target: 'median ≤ 0.5 s',
      verdict: verdict(dbhookLag.median <= 500),
    },
    {
      label: 'Detection: server ready → first connection of the tool',
      dbhook: seconds(summarize(lag.dbhook.map((r) => r.detectMs))),
      peer: seconds(summarize(lag['psql loop'].map((r) => r.detectMs))),
      ratio: '—',
      target: '—',
      verdict: '—',
    },
    {
      label: 'Connection attempts while waiting',
      dbhook: rate(dbhookRate),
      peer: rate(peerRate),
      ratio: '—',
      target: '≤ 4 per second',
      verdict: verdict(dbhookRate.max <= 4),
    },
  )
  const startupRatio = summarize(pairedRatios(startup.dbhook, startup.node))
  rows.push({
    label: `Startup: \`dbhook --version\` vs \`node -e 0\` (${startup.dbhook.length} runs)`,
    dbhook: seconds(summarize(startup.dbhook)),
    peer: `${seconds(summarize(startup.node))} (node -e 0)`,
    ratio: ratioText(startupRatio),
    target: '≤ 1.3× node -e 0',
    verdict: verdict(startupRatio.median <= 1.3),
  })
  const planPeak = summarize(plan)
  rows.push({
    label: `Peak RSS of \`dbhook plan\`, openZro's values, server up (${plan.length} runs)`,
    dbhook: range(planPeak, mib),
    peer: '—',
    ratio: '—',
    target: `≤ ${mib(planRssBeforeSplitKiB)} (one-file build)`,
    verdict: verdict(planPeak.max <= planRssBeforeSplitKiB),
  })
  for (const c of cases.filter((c) => c.kind === 'create' && (c.n === 4 || c.n === 256))) {
    const own = summarize(c.rss.dbhook as number[])
    const peerRss = summarize(c.rss['psql loop'] as number[])
    rows.push({
      label: `Peak RSS of apply, fresh create N = ${c.n}`,
      dbhook: range(own, mib),
      peer: `${range(peerRss, mib)} (largest psql)`,
      ratio: '—',
      target: c.n === 4 ? '≤ 64 MiB' : '—',
      verdict: verdict(c.n === 4 ? own.max <= 64 * 1024 : undefined),
    })
  }

  const big = cases.find((c) => c.kind === 'create' && c.n === 256)
  const parallelLines: string[] = []
  if (big) {
    const line = (variant: string, note: string) => {
      const times = big.times[variant]
      if (!times) return
      const ratio = summarize(pairedRatios(times, big.times['psql loop'] as number[]))
      parallelLines.push(`| ${variant} | ${seconds(summarize(times))} | ${ratioText(ratio)} | ${note} |`)
    }
    line('dbhook', 'default DBHOOK_PARALLEL (4)')
    line('dbhook DBHOOK_PARALLEL=1', 'one CREATE DATABASE at a time')
    line('psql loop', 'the peer')
    line('server, 4 sessions', 'CREATE DATABASE sent by the bench itself on four open connections: the floor')
    const p4 = summarize(pairedRatios(big.times.dbhook as number[], big.times['dbhook DBHOOK_PARALLEL=1'] as number[]))
    parallelLines.push('', `DBHOOK_PARALLEL=4 against DBHOOK_PARALLEL=1, pair by pair: ${ratioText(p4)}.`)
  }

  const cpu = cpus()
  const dbhookVersion = commandOutput(process.execPath, [dbhookBin, '--version'])
  const psqlVersion = commandOutput('psql', ['--version'])
  const lines = [
    '# Benchmarks: dbhook against the shell-and-psql hook',
    '',
    'Written by `npm run bench` (bench/run.ts); do not edit by hand. The peer is the hook most charts ship',
    '([bench/peers/psql-loop.sh](../bench/peers/psql-loop.sh): one `psql` per check and one per `CREATE DATABASE`;',
    '[bench/peers/wait-loop.sh](../bench/peers/wait-loop.sh): `until pg_isready; do sleep 2; done` first), not tuned.',
    '',
    `- Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; whole bench run ${formatSeconds(totalMs)}`,
    `- Machine: ${cpu.length} cores, ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB memory, ${process.platform} ${process.arch}; 1-minute load average ${load.map((l) => l.toFixed(1)).join(' at the start, ')} at the end${Math.max(...load) > cpu.length / 2 ? ' (other work shared the machine: compare the ratios more than the absolute times)' : ''}`,
    `- Versions: Node ${process.version}, ${dbhookVersion}, PostgreSQL ${postgresVersion} (embedded, fsync off), ${psqlVersion}`,
    '',
    'Times are medians with the min–max range in brackets; each ratio is dbhook ÷ peer taken run by run (the two ran',
    'next to each other, in alternating order), then the median and range of those ratios.',
    '',
    '| Case | dbhook | psql loop | Ratio | Target | Result |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.label} | ${r.dbhook} | ${r.peer} | ${r.ratio} | ${r.target} | ${r.verdict} |`),
    '',
    '![time against N for both tools](benchmarks.svg)',
    '',
    ...(big
      ? [
          '## Fresh create of 256 databases: parallelism and the server floor',
          '',
          '| Variant | Time | ÷ psql loop | Note |',
          '| --- | --- | --- | --- |',
          ...parallelLines,
          '',
        ]
      : []),
    '## How it is measured',
    '',
    '- Embedded PostgreSQL 18 (test/support/postgres.ts). Each fresh-create run gets a newly initialised server (the',
    '  state a first install meets; no drops in between), each re-run case one server holding its N databases. Both',
    '  tools log in as the superuser with a password over TCP (scram-sha-256, sslmode disable) and create databases',
    '  owned by a role `bench_owner`. After each run the bench checks that all N databases exist with that owner, and',
    '  that dbhook reported each one created (or unchanged on a re-run): a faster run that did less cannot count.',
    '- Each tool is a fresh process (`node dist/dbhook.mjs apply`, `sh psql-loop.sh`), timed from spawn to exit',
    '  under GNU time, which also gives the peak RSS (for the shell loop: its largest single process, a psql).',
    '- Readiness lag: a fresh server gets the 4 databases and is stopped; the tool starts against its port, and',
    '  3–5 s later the server starts again there. The lag runs from the server log\'s "database system is ready to',
    '  accept connections" (UTC, to the millisecond) to the tool\'s exit; "detection" ends at the first "connection',
    '  received" line instead (log_connections). Connection attempts are the tool\'s connect() calls to that port',
    '  before the server was ready, counted with `strace -f --seccomp-bpf -e trace=connect` (only connect() stops',
    '  the process), divided by the time waited.',
    '- Startup: `node dist/dbhook.mjs --version` against `node -e 0`, alternating, spawned from Node.',
    "- Peak RSS of plan: openZro's values (one user, `openzro`, CREATEDB and CREATEROLE, provisioning its four",
    '  databases for itself) against a fresh server that is up and holds none of them: `dbhook plan` connects,',
    '  inspects and lists four creates (exit 2), under GNU time. The target is the largest peak of the one-file',
    '  build that embedded the Kubernetes client, measured the same way before code splitting replaced it.',
    '',
  ]
  return lines.join('\n')
}

if (import.meta.main)
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  })
