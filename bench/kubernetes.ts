// `npm run bench:kubernetes`: what a user feels of dbhook in a real cluster, for openZro's values on PostgreSQL
// (chart/ci/openzro-postgres-values.yaml, a CREATEDB+CREATEROLE provisioning user, four databases created):
//   - `helm install --wait` from spawn to exit: Helm creates the hook Secret and Job, the Job controller its pod,
//     the scheduler binds it, the kubelet starts the sandbox and container, dbhook runs, Helm sees the Job done;
//   - the hook pod's own life, from the pod's creation to its phase Succeeded, as a watch on the API sees them.
// Each round is a first install against a fresh PostgreSQL. Uses test/kubernetes/cluster.sh (started here when it
// is not up, and then stopped again). Writes its section of docs/benchmarks.md (between the markers), or with
// BENCH_QUICK=1 (two rounds) .cache/bench/kubernetes.md.
import { spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { ciValues, helmVersion } from '../test/chart/helm.ts'
import {
  helm,
  kubectl,
  kubectlBinary,
  kubeVersion,
  localImage,
  startCluster,
  stopClusterIfOwner,
  valuesFile,
  type Cluster,
} from '../test/kubernetes/cluster.ts'
import { startHostPostgres } from '../test/kubernetes/servers.ts'
import type { PostgresServer } from '../test/support/postgres.ts'
import { kubernetesSection, replaceSection } from './sections.ts'
import { formatSeconds, summarize, type Summary } from './stats.ts'

const repoRoot = resolve(import.meta.dirname, '..')
const quick = process.env.BENCH_QUICK === '1'
const rounds = quick ? 2 : 7
const report = quick ? join(repoRoot, '.cache/bench/kubernetes.md') : join(repoRoot, 'docs/benchmarks.md')
const databases = ['openzro', 'openzro_flow', 'openzro_activity', 'dex']

function log(message: string): void {
  process.stderr.write(`[bench kubernetes ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

interface Round {
  readonly installMs: number
  readonly podMs: number
  /** durationMs of dbhook's summary line: its own run inside the container. */
  readonly dbhookMs: number
}

/**
 * Watches the hook Job's pod (`kubectl get -w`, one line per change) and notes when the watch first saw it and
 * when it saw phase Succeeded, by this process's clock.
 */
function watchPod(cluster: Cluster, job: string): { seen: Promise<{ createdAt: number; succeededAt: number }>; stop: () => void } {
  const child = spawn(
    kubectlBinary,
    [
      '--kubeconfig',
      cluster.kubeconfig,
      '-n',
      cluster.namespace,
      'get',
      'pods',
      '-l',
      `job-name=${job}`,
      '--watch',
      '-o',
      'jsonpath={.metadata.name} {.status.phase}{"\\n"}',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let createdAt: number | undefined
  let buffered = ''
  const seen = new Promise<{ createdAt: number; succeededAt: number }>((resolvePromise, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const now = performance.now()
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines.filter(Boolean)) {
        createdAt ??= now
        if (line.endsWith(' Succeeded')) resolvePromise({ createdAt, succeededAt: now })
        if (line.endsWith(' Failed')) reject(new Error(`the hook pod failed: ${line}`))
      }
    })
    child.on('exit', (code) => reject(new Error(`kubectl get --watch exited (${code})`)))
  })
  seen.catch(() => undefined)
  return { seen, stop: () => child.kill() }
}

async function round(cluster: Cluster, index: number): Promise<Round> {
  const server: PostgresServer = await startHostPostgres(cluster)
  const release = `bench-${index}`
  const job = `${release}-dbhook`
  try {
    const provisioner = `provisioner-${randomBytes(9).toString('base64url')}`
    await server.query(`CREATE ROLE provisioner LOGIN CREATEDB CREATEROLE PASSWORD '${provisioner}'`)
    const values = await valuesFile({
      ...localImage,
      postgres: {
        host: cluster.host,
        port: server.port,
        sslMode: 'disable',
        password: `owner-${randomBytes(9).toString('base64url')}`,
        provisioning: { username: 'provisioner', password: provisioner },
      },
    })
    const watch = watchPod(cluster, job)
    try {
      // Give the watch a moment to be established before the pod can appear.
      await new Promise((r) => setTimeout(r, 1000))
      const started = performance.now()
      const install = await helm(cluster, [
        'install',
        release,
        join(repoRoot, 'chart'),
        '-n',
        cluster.namespace,
        '-f',
        ciValues('openzro-postgres-values.yaml'),
        '-f',
        values.path,
        '--wait',
        '--timeout',
        '10m',
      ])
      const installMs = performance.now() - started
      if (install.code !== 0) throw new Error(`helm install failed: ${install.stderr}`)
      const pod = await Promise.race([
        watch.seen,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the watch did not see the pod succeed')), 30_000)),
      ])
      const owners = await server.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY($1::text[]) AND pg_get_userbyid(datdba) = 'openzro'",
        [databases],
      )
      if (owners[0]?.n !== 4) throw new Error(`after install ${release}, ${owners[0]?.n} of 4 databases exist owned by openzro`)
      const logs = await kubectl(cluster, ['-n', cluster.namespace, 'logs', `job/${job}`])
      const summary = logs.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { summary?: boolean; durationMs?: number })
        .find((line) => line.summary === true)
      if (summary?.durationMs === undefined) throw new Error(`no summary line in the hook pod's log:\n${logs.stdout}${logs.stderr}`)
      return { installMs, podMs: pod.succeededAt - pod.createdAt, dbhookMs: summary.durationMs }
    } finally {
      watch.stop()
      await values.remove()
      await helm(cluster, ['uninstall', release, '-n', cluster.namespace, '--wait'])
      await kubectl(cluster, ['-n', cluster.namespace, 'delete', 'job', job, '--ignore-not-found', '--wait'])
    }
  } finally {
    await server.stop()
  }
}

const range = (s: Summary) => `${formatSeconds(s.median)} (${formatSeconds(s.min)}–${formatSeconds(s.max)})`

async function main(): Promise<void> {
  if (!existsSync(join(repoRoot, 'dist/dbhook.mjs'))) throw new Error('dist/dbhook.mjs is missing: npm run build')
  const owner = `bench-${randomUUID()}`
  const loadBefore = loadavg()[0] as number
  const benchStarted = performance.now()
  log('cluster.sh up')
  const cluster = await startCluster(owner)
  const upMs = performance.now() - benchStarted
  try {
    // One install first, not counted: the first pod on a fresh node also warms the kubelet and containerd.
    log('warm-up install')
    await round(cluster, 0)
    const results: Round[] = []
    for (let i = 1; i <= rounds; i += 1) {
      const result = await round(cluster, i)
      results.push(result)
      log(
        `round ${i}/${rounds}: helm install ${formatSeconds(result.installMs)}, hook pod ${formatSeconds(result.podMs)}, dbhook ${formatSeconds(result.dbhookMs)}`,
      )
    }
    const install = summarize(results.map((r) => r.installMs))
    const pod = summarize(results.map((r) => r.podMs))
    const inside = summarize(results.map((r) => r.dbhookMs))
    const cpu = cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown CPU'
    const section = [
      kubernetesSection.start,
      "## In a real cluster: helm install of openZro's values",
      '',
      'Written by `npm run bench:kubernetes` (bench/kubernetes.ts); do not edit by hand. The one-node cluster of',
      "[test/kubernetes/cluster.sh](../test/kubernetes/cluster.sh) (docs/kubernetes.md), openZro's values",
      '(chart/ci/openzro-postgres-values.yaml) with inline passwords and a CREATEDB+CREATEROLE provisioning user,',
      `four databases created on a fresh PostgreSQL 15 each round, in the \`restricted\` namespace; ${rounds} rounds after one warm-up.`,
      '',
      `- Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; Kubernetes ${kubeVersion}, helm ${helmVersion}, containerd ${(await containerdVersion()) || 'unknown'}`,
      `- Machine: ${cpus().length} cores, ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory; 1-minute load average ${loadBefore.toFixed(1)} at the start, ${(loadavg()[0] as number).toFixed(1)} at the end; \`cluster.sh up\` took ${formatSeconds(upMs)} for this run`,
      '',
      '| What | Median (min–max) | Runs |',
      '| --- | --- | --- |',
      `| \`helm install --wait\`, spawn to exit (the pre-install hook Job complete) | ${range(install)} | ${install.runs} |`,
      `| The hook pod: created → phase Succeeded, as a watch sees it | ${range(pod)} | ${pod.runs} |`,
      `| dbhook apply inside it (\`durationMs\` of its summary line) | ${range(inside)} | ${inside.runs} |`,
      '',
      "The pod's time beyond dbhook's is the kubelet's: the sandbox, its network, the container, Node's start and",
      'the status update. The rest of `helm install` is Helm itself (rendering, the hook Secret, creating the Job,',
      'polling it) and the Job controller creating the pod.',
      kubernetesSection.end,
    ].join('\n')
    await mkdir(join(report, '..'), { recursive: true })
    const before = existsSync(report) ? await readFile(report, 'utf8') : ''
    await writeFile(report, replaceSection(before, kubernetesSection, section))
    log(`wrote ${report}`)
    process.stdout.write(`${section}\n`)
  } finally {
    log((await stopClusterIfOwner(owner)) ? 'cluster.sh down' : 'cluster left running (it was up before)')
  }
}

async function containerdVersion(): Promise<string> {
  const result = await new Promise<string>((resolvePromise) => {
    const child = spawn('containerd', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.on('close', () => resolvePromise(out))
    child.on('error', () => resolvePromise(''))
  })
  return result.split(' ')[2]?.trim() ?? ''
}

await main()
