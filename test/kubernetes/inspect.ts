// What a user reads back from the cluster after a helm command: Jobs, their pods and termination messages, Events,
// logs and Helm's release records.
import { gunzipSync } from 'node:zlib'
import { expect } from 'vitest'
import { chartDir } from '../chart/helm.ts'
import { helm, kubectl, kubectlJson, kubectlOk, valuesFile, waitFor, type Cluster, type CommandResult } from './cluster.ts'

export interface Pod {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  spec: any
  status: {
    phase: string
    containerStatuses?: {
      state: { terminated?: { exitCode: number; message?: string; reason?: string }; running?: unknown; waiting?: { reason?: string } }
    }[]
  }
}

export interface Job {
  metadata: { name: string; annotations?: Record<string, string> }
  status: { succeeded?: number; failed?: number; conditions?: { type: string; status: string; reason?: string }[] }
}

export async function getOrUndefined<T>(cluster: Cluster, kind: string, name: string): Promise<T | undefined> {
  const result = await kubectl(cluster, ['-n', cluster.namespace, 'get', kind, name, '-o', 'json'])
  if (result.code === 0) return JSON.parse(result.stdout) as T
  if (/NotFound|not found/.test(result.stderr)) return undefined
  throw new Error(`kubectl get ${kind} ${name} failed: ${result.stderr}`)
}

export async function podsOfJob(cluster: Cluster, job: string): Promise<Pod[]> {
  return (await kubectlJson<{ items: Pod[] }>(cluster, ['-n', cluster.namespace, 'get', 'pods', '-l', `job-name=${job}`])).items
}

/** Waits until the Job has finished (Complete or Failed) and returns it. */
export function finishedJob(cluster: Cluster, name: string, timeoutMs = 300_000): Promise<Job> {
  return waitFor(
    `Job ${name} to finish`,
    async () => {
      const job = await getOrUndefined<Job>(cluster, 'job', name)
      const done = job?.status.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
      return done ? job : undefined
    },
    timeoutMs,
  )
}

export function condition(job: Job, type: string): { status: string; reason?: string } | undefined {
  return job.status.conditions?.find((c) => c.type === type)
}

/** The terminated state of a pod's dbhook container (undefined while it runs). */
export function terminated(pod: Pod): { exitCode: number; message?: string; reason?: string } | undefined {
  return pod.status.containerStatuses?.[0]?.state.terminated
}

export async function podLogs(cluster: Cluster, pod: string): Promise<string> {
  return kubectlOk(cluster, ['-n', cluster.namespace, 'logs', pod])
}

/** Every Event message in the namespace, for a secret scan. */
export async function eventMessages(cluster: Cluster): Promise<string> {
  const events = await kubectlJson<{ items: { reason?: string; message?: string; involvedObject: { kind: string; name: string } }[] }>(
    cluster,
    ['-n', cluster.namespace, 'get', 'events'],
  )
  return events.items.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`).join('\n')
}

/**
 * Helm's release records (Secrets sh.helm.release.v1.<release>.vN): base64 of gzipped JSON, inside the
 * Secret's own base64. Returns the JSON text of each revision.
 */
export async function releaseRecords(cluster: Cluster, release: string): Promise<string[]> {
  const secrets = await kubectlJson<{ items: { data: { release: string } }[] }>(cluster, [
    '-n',
    cluster.namespace,
    'get',
    'secrets',
    '-l',
    `owner=helm,name=${release}`,
  ])
  return secrets.items.map((s) => gunzipSync(Buffer.from(Buffer.from(s.data.release, 'base64').toString(), 'base64')).toString())
}

export interface ReleaseStatus {
  name: string
  version: number
  info: { status: string; description: string }
}

export async function releaseStatus(cluster: Cluster, release: string): Promise<ReleaseStatus> {
  const result = await helm(cluster, ['status', release, '-n', cluster.namespace, '-o', 'json'])
  if (result.code !== 0) throw new Error(`helm status ${release} failed: ${result.stderr}`)
  return JSON.parse(result.stdout) as ReleaseStatus
}

/**
 * `helm <verb> <release> chart/` (install, upgrade, upgrade --install) with the chart's ci/ values files and
 * `values` on top, waiting for the hooks. Returns helm's result; a PodSecurity warning fails the test at once.
 */
export async function helmChart(
  cluster: Cluster,
  verb: 'install' | 'upgrade' | 'upgrade --install',
  release: string,
  files: readonly string[],
  values: Record<string, unknown>,
  extra: readonly string[] = [],
): Promise<CommandResult> {
  const overrides = await valuesFile(values)
  try {
    const result = await helm(cluster, [
      ...verb.split(' '),
      release,
      chartDir,
      '--namespace',
      cluster.namespace,
      ...files.flatMap((f) => ['-f', f]),
      '-f',
      overrides.path,
      '--wait',
      '--timeout',
      '10m',
      ...extra,
    ])
    expect(result.stderr, 'the API server warned that a pod would violate Pod Security "restricted"').not.toMatch(/violate PodSecurity/)
    return result
  } finally {
    await overrides.remove()
  }
}

/** Fails the test if any text holds any of `secrets` (raw, or as JSON escapes it). */
export function expectNoSecrets(texts: Record<string, string>, secrets: readonly string[]): void {
  for (const [where, text] of Object.entries(texts)) {
    for (const secret of secrets) {
      const forms = new Set([secret, JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')])
      for (const form of forms) expect(text.includes(form), `a password appeared in ${where}`).toBe(false)
    }
  }
}
