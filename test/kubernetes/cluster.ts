// The one-node Kubernetes of test/kubernetes/cluster.sh, as the test files use it: started by the first file
// that asks (cluster.sh serialises concurrent `up`s with a lock, and a second `up` finds it running), torn down
// by global-setup.ts at the end of the run that started it. A file that cannot get it fails with the reason.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { helmBinary } from '../chart/helm.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Names this vitest run; cluster.sh records it as the cluster's owner when this run starts it. */
    dbhookKubernetesRun: string
  }
}

export const kubeVersion = 'v1.37.2'
const clusterScript = resolve(import.meta.dirname, 'cluster.sh')
export const stateDir = process.env.DBHOOK_K8S_STATE ?? '/var/tmp/dbhook-k8s'
/** Written by the first `cluster.sh up` after a `down`: DBHOOK_K8S_OWNER, or `manual`. */
const ownerFile = join(stateDir, 'owner')
/** The reason `up` failed in this run, so that the other files fail with it at once instead of retrying. */
export const failureFile = `${stateDir}.up-failed`
const namespace = 'dbhook-e2e'
export const kubectlBinary = join(process.env.DBHOOK_TOOLS ?? '/var/tmp/dbhook-tools', `kubernetes-${kubeVersion}`, 'bin/kubectl')
/** Cold, `up` builds both dbhook images from scratch (npm ci in the build stage) besides starting everything. */
export const upTimeoutMs = 25 * 60_000

export interface Cluster {
  readonly kubeconfig: string
  /** DBHOOK_E2E_HOST: the bridge's address, where pods reach a server listening on the host. */
  readonly host: string
  /** The pods' address range, for a server's access rules (pg_hba.conf, MariaDB user hosts). */
  readonly podCidr: string
  readonly namespace: string
}

export interface CommandResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command with `env` added to this process's environment; never rejects on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

let started: Promise<Cluster> | undefined

/** The cluster, started on first use in this vitest run (which global-setup.ts names). */
export function useCluster(): Promise<Cluster> {
  started ??= (async () => {
    // Imported here, so that the bench can use this file outside vitest.
    const { inject } = await import('vitest')
    const owner = inject('dbhookKubernetesRun')
    if (!owner)
      throw new Error(
        'no vitest run id: run the Kubernetes tests with vitest.config.ts, whose globalSetup (test/kubernetes/global-setup.ts) tears the cluster down',
      )
    return startCluster(owner)
  })()
  return started
}

/**
 * `cluster.sh up` on behalf of `owner`: when this call starts the cluster, `owner` is recorded, and whoever
 * passed it is the one to stop it (`stopClusterIfOwner`).
 */
export async function startCluster(owner: string): Promise<Cluster> {
  if (existsSync(failureFile)) {
    const [failedRun, ...reason] = readFileSync(failureFile, 'utf8').split('\n')
    if (failedRun === owner) throw new Error(reason.join('\n'))
  }
  // docker/build-local.sh wants Node 24 first on PATH: the one running the tests.
  const up = await run('bash', [clusterScript, 'up'], {
    env: { DBHOOK_K8S_OWNER: owner, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    timeoutMs: upTimeoutMs,
  })
  const exports = Object.fromEntries([...up.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]))
  if (up.code !== 0 || !exports.KUBECONFIG || !exports.DBHOOK_E2E_HOST) {
    const reason = `test/kubernetes/cluster.sh up failed (exit ${up.code}); build the components with test/kubernetes/build.sh (.ci/setup.d/70-kubernetes.sh does both):\n${up.stderr.slice(-6000)}`
    writeFileSync(failureFile, `${owner}\n${reason}`)
    throw new Error(reason)
  }
  const network = Object.fromEntries(
    readFileSync(join(stateDir, 'network.env'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )
  return { kubeconfig: exports.KUBECONFIG, host: exports.DBHOOK_E2E_HOST, podCidr: network.POD_CIDR ?? '', namespace }
}

/** `cluster.sh down` when `owner` started the cluster; nothing otherwise (it was up before, or someone else's). */
export async function stopClusterIfOwner(owner: string): Promise<string> {
  if (!existsSync(ownerFile) || readFileSync(ownerFile, 'utf8').trim() !== owner) return ''
  const down = await run('bash', [clusterScript, 'down'], { timeoutMs: 240_000 })
  if (down.code !== 0)
    throw new Error(`test/kubernetes/cluster.sh down failed (${down.code}); the cluster may still be running:\n${down.stderr.slice(-4000)}`)
  return down.stderr
}

/** kubectl v1.37.2 (built by build.sh; /usr/bin/kubectl may be another version) against the cluster. */
export function kubectl(
  cluster: Pick<Cluster, 'kubeconfig'>,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return run(kubectlBinary, ['--kubeconfig', cluster.kubeconfig, ...args], options)
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(
  cluster: Pick<Cluster, 'kubeconfig'>,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const result = await kubectl(cluster, args, options)
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return result.stdout
}

export async function kubectlJson<T = any>(cluster: Pick<Cluster, 'kubeconfig'>, args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectlOk(cluster, [...args, '-o', 'json'])) as T
}

/** helm v3.22.0 against the cluster, with a home of its own (no repositories, plugins or other kube config). */
export async function helm(
  cluster: Pick<Cluster, 'kubeconfig'>,
  args: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<CommandResult> {
  const home = await mkdtemp(join(tmpdir(), 'dbhook-helm-'))
  try {
    return await run(helmBinary(), args, {
      env: {
        HOME: home,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
        KUBECONFIG: cluster.kubeconfig,
      },
      timeoutMs: options.timeoutMs ?? 900_000,
    })
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}

/** Writes values to a temporary file for `helm -f`; the caller removes the directory. */
export async function valuesFile(values: Record<string, unknown>): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dbhook-values-'))
  const path = join(dir, 'values.json')
  await writeFile(path, JSON.stringify(values), { mode: 0o600 })
  return { path, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** Creates (or replaces) a generic Secret in the test namespace from string data, without a password on argv. */
export async function applySecret(cluster: Cluster, name: string, data: Record<string, string>): Promise<void> {
  const manifest = { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: cluster.namespace }, type: 'Opaque', stringData: data }
  await kubectlOk(cluster, ['apply', '-f', '-'], { input: JSON.stringify(manifest) })
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** The chart values every test sets: the image built from this checkout, never pulled. */
export const localImage = { image: { repository: 'localhost/dbhook', tag: 'dev', pullPolicy: 'Never' } }
export const localBackupImage = { backup: { image: { repository: 'localhost/dbhook', tag: 'dev-pgtools' } } }

/** The hook Jobs and pods of a release: Helm leaves them behind on uninstall (they are not part of the release). */
export function deleteReleasePods(cluster: Cluster, release: string): Promise<CommandResult> {
  return kubectl(cluster, [
    '-n',
    cluster.namespace,
    'delete',
    'job,pod',
    '-l',
    `app.kubernetes.io/instance=${release}`,
    '--ignore-not-found',
    '--wait=false',
  ])
}

/** Uninstalls a release and deletes what Helm leaves of it; for afterAll, so it never throws. */
export async function removeRelease(cluster: Cluster, release: string): Promise<void> {
  await helm(cluster, ['uninstall', release, '-n', cluster.namespace, '--wait']).catch(() => undefined)
  await deleteReleasePods(cluster, release).catch(() => undefined)
}
