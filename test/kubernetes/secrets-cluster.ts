// The cluster as the secrets-*.test.ts files use it, behind one small interface:
// - by hand: `eval "$(test/kubernetes/cluster.sh up)"` exports KUBECONFIG and DBHOOK_E2E_HOST; DBHOOK_E2E_IMAGE_TAG
//   names the dbhook image tag in the cluster (default `dev`, the image cluster.sh builds from its checkout; its
//   `-pgtools` variant must be there too) and DBHOOK_E2E_POD_CIDR the pods' range (optional).
// - in the suite: when KUBECONFIG is not set, cluster.ts's useCluster() (which starts the cluster
//   on first use and has global-setup.ts tear it down) provides the same facts.
// A test that can get neither fails with the reason; it never skips.
import { readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { helmBinary, type Manifest } from '../chart/helm.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import {
  helm as clusterHelm,
  kubectl as clusterKubectl,
  kubectlJson as clusterKubectlJson,
  kubectlOk as clusterKubectlOk,
  run,
  useCluster,
  type CommandResult,
} from './cluster.ts'

export type { CommandResult }

export interface SecretsCluster {
  readonly kubeconfig: string
  /** DBHOOK_E2E_HOST: where pods reach a server listening on the host. */
  readonly host: string
  /** The pods' range for pg_hba.conf; undefined admits any address that reaches the bridge. */
  readonly podCidr?: string
  readonly namespace: string
  /** The dbhook image in the cluster: `<repository>:<tag>`, and `<tag>-pgtools` beside it. */
  readonly image: { readonly repository: string; readonly tag: string }
}

let cached: Promise<SecretsCluster> | undefined

export function secretsCluster(): Promise<SecretsCluster> {
  cached ??= find()
  return cached
}

async function find(): Promise<SecretsCluster> {
  const image = { repository: 'localhost/dbhook', tag: process.env.DBHOOK_E2E_IMAGE_TAG || 'dev' }
  if (process.env.KUBECONFIG && process.env.DBHOOK_E2E_HOST) {
    return {
      kubeconfig: process.env.KUBECONFIG,
      host: process.env.DBHOOK_E2E_HOST,
      podCidr: process.env.DBHOOK_E2E_POD_CIDR || undefined,
      namespace: 'dbhook-e2e',
      image,
    }
  }
  const cluster = await useCluster()
  return { kubeconfig: cluster.kubeconfig, host: cluster.host, podCidr: cluster.podCidr || undefined, namespace: cluster.namespace, image }
}

// cluster.ts's kubectl and helm, in the test namespace.
export function kubectl(cluster: SecretsCluster, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}) {
  return clusterKubectl(cluster, ['-n', cluster.namespace, ...args], options)
}

export function kubectlOk(cluster: SecretsCluster, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}) {
  return clusterKubectlOk(cluster, ['-n', cluster.namespace, ...args], options)
}

export function kubectlJson<T = any>(cluster: SecretsCluster, args: readonly string[]): Promise<T> {
  return clusterKubectlJson<T>(cluster, ['-n', cluster.namespace, ...args])
}

/** The object, or undefined when the API server says NotFound. */
export async function getOrUndefined<T = any>(cluster: SecretsCluster, kind: string, name: string): Promise<T | undefined> {
  const result = await kubectl(cluster, ['get', kind, name, '-o', 'json'])
  if (result.code === 0) return JSON.parse(result.stdout) as T
  if (/NotFound/.test(result.stderr)) return undefined
  throw new Error(`kubectl get ${kind} ${name} failed: ${result.stderr}`)
}

export function helm(cluster: SecretsCluster, args: readonly string[], options: { timeoutMs?: number } = {}) {
  return clusterHelm(cluster, [...args, '--namespace', cluster.namespace], options)
}

/**
 * How the hook pod reaches the API server. A real cluster routes the `kubernetes` Service to it; this test
 * cluster has no kube-proxy, no endpoints for that Service and an API server listening on 127.0.0.1 only, so pods
 * cannot reach it at all. Then `useApiRoute` starts a forwarder on the bridge address (where pods reach the host)
 * that passes bytes to the API server untouched (TLS end to end), and a MutatingAdmissionPolicy points every pod
 * in the namespace that mounts the projected `kube-api-access` volume there: hostAliases and
 * KUBERNETES_SERVICE_HOST/PORT under a name the API server's certificate holds. Nothing of the chart changes.
 */
export interface ApiRoute {
  readonly host: string
  readonly port: number
}

const routePolicy = 'dbhook-test-api-route'

/** The API server's address as the kubeconfig names it (reachable from the host). */
function apiServerOf(cluster: SecretsCluster): URL {
  const config = parseYaml(readFileSync(cluster.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] }
  return new URL(config.clusters[0]!.cluster.server)
}

export interface ApiForwarder extends ApiRoute {
  close(): Promise<void>
}

/**
 * A forwarder on the bridge address to the API server, bytes untouched (TLS end to end). With `barrier`, the
 * first connections are held, not a byte passed either way, until that many are waiting at once; then all go
 * together, and every later connection passes at once. Runs that started seconds apart thus send their first
 * request to the API server in the same instant.
 */
export function startApiForwarder(cluster: SecretsCluster, barrier = 0): Promise<ApiForwarder> {
  const api = apiServerOf(cluster)
  return startForwarder(cluster, { host: api.hostname, port: Number(api.port || 443) }, barrier)
}

/** The same forwarder in front of any server on the host's loopback (a MariaDB that listens on 127.0.0.1 only). */
export async function startForwarder(cluster: SecretsCluster, target: { host: string; port: number }, barrier = 0): Promise<ApiForwarder> {
  const held = new Set<() => void>()
  const open = new Set<import('node:net').Socket>()
  let released = barrier === 0
  const server = createServer((client) => {
    open.add(client)
    client.on('close', () => open.delete(client))
    client.on('error', () => undefined)
    const go = () => {
      const upstream = connect(target.port, target.host)
      open.add(upstream)
      upstream.on('close', () => open.delete(upstream))
      upstream.on('error', () => client.destroy())
      client.on('error', () => upstream.destroy())
      client.pipe(upstream).pipe(client)
    }
    if (released) return go()
    held.add(go)
    client.once('close', () => held.delete(go))
    if (held.size >= barrier) {
      released = true
      for (const start of held) start()
      held.clear()
    }
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, cluster.host, resolve))
  return {
    host: cluster.host,
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Sets the route up when the cluster lacks one; returns a function that removes what it set up. */
export async function useApiRoute(cluster: SecretsCluster): Promise<() => Promise<void>> {
  const slices = await clusterKubectl(cluster, [
    '-n',
    'default',
    'get',
    'endpointslices',
    '-l',
    'kubernetes.io/service-name=kubernetes',
    '-o',
    'json',
  ])
  if (slices.code !== 0) throw new Error(`cannot list the kubernetes Service's endpoints: ${slices.stderr}`)
  if ((JSON.parse(slices.stdout) as { items: unknown[] }).items.length > 0) return async () => undefined
  const forwarder = await startApiForwarder(cluster)
  const env = (name: string, value: string) =>
    `JSONPatch{op: "add", path: "/spec/containers/0/env/-", value: Object.spec.containers.env{name: "${name}", value: "${value}"}}`
  const patch = [
    `JSONPatch{op: "add", path: "/spec/hostAliases", value: [Object.spec.hostAliases{ip: "${forwarder.host}", hostnames: ["kubernetes.default.svc"]}]}`,
    env('KUBERNETES_SERVICE_HOST', 'kubernetes.default.svc'),
    env('KUBERNETES_SERVICE_PORT', String(forwarder.port)),
  ]
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingAdmissionPolicy',
    metadata: { name: routePolicy },
    spec: {
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
      // A pod that names its own route (secrets-race's barrier) keeps it.
      matchConditions: [
        {
          name: 'mounts-the-api-token',
          expression:
            "has(object.spec.volumes) && object.spec.volumes.exists(v, v.name == 'kube-api-access') && !has(object.spec.hostAliases)",
        },
      ],
      failurePolicy: 'Fail',
      reinvocationPolicy: 'Never',
      mutations: [{ patchType: 'JSONPatch', jsonPatch: { expression: `[${patch.join(', ')}]` } }],
    },
  }
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingAdmissionPolicyBinding',
    metadata: { name: routePolicy },
    spec: {
      policyName: routePolicy,
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': cluster.namespace } } },
    },
  }
  await kubectlOk(cluster, ['apply', '-f', '-'], { input: [policy, binding].map((o) => JSON.stringify(o)).join('\n') })
  // The policy reaches admission through an informer: wait until a dry-run pod comes back patched.
  await waitFor(
    'the route policy to take effect',
    async () => {
      const restricted = {
        runAsNonRoot: true,
        runAsUser: 65532,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      }
      const probe = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'route-probe' },
        spec: {
          containers: [{ name: 'c', image: 'none', env: [{ name: 'A', value: 'b' }], securityContext: restricted }],
          volumes: [{ name: 'kube-api-access', emptyDir: {} }],
        },
      }
      const result = await kubectl(cluster, ['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(probe) })
      return result.code === 0 && result.stdout.includes(String(forwarder.port)) ? true : undefined
    },
    60_000,
  )
  return async () => {
    await kubectl(cluster, ['delete', 'mutatingadmissionpolicybinding', routePolicy, '--ignore-not-found'])
    await kubectl(cluster, ['delete', 'mutatingadmissionpolicy', routePolicy, '--ignore-not-found'])
    await forwarder.close()
  }
}

/** The pod of a Job pointed at a forwarder of its own (as the route policy does, but with that forwarder). */
export function routedToApi(job: Manifest, api: ApiRoute): Manifest {
  const copy = structuredClone(job)
  const spec = copy.spec.template.spec
  spec.hostAliases = [{ ip: api.host, hostnames: ['kubernetes.default.svc'] }]
  for (const container of spec.containers) {
    container.env = [
      ...(container.env ?? []),
      { name: 'KUBERNETES_SERVICE_HOST', value: 'kubernetes.default.svc' },
      { name: 'KUBERNETES_SERVICE_PORT', value: String(api.port) },
    ]
  }
  return copy
}

/** `helm <verb> <release> chart -f values.json` with the image of this cluster, never pulled. */
export async function helmChart(
  cluster: SecretsCluster,
  verb: 'install' | 'upgrade',
  release: string,
  values: Record<string, unknown>,
  extra: readonly string[] = [],
): Promise<CommandResult> {
  const dir = await mkdtemp(join(tmpdir(), 'dbhook-values-'))
  try {
    const file = join(dir, 'values.json')
    await writeFile(file, JSON.stringify({ image: { ...cluster.image, pullPolicy: 'Never' }, ...values }), { mode: 0o600 })
    const chart = join(import.meta.dirname, '../../chart')
    return await helm(cluster, [verb, release, chart, '-f', file, '--wait', '--timeout', '10m', ...extra])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Polls `probe` until it returns something other than undefined, or fails naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/** PostgreSQL on the host, on 127.0.0.1 and the bridge address, logging every DDL statement. */
export function startHostPostgres(cluster: SecretsCluster): Promise<PostgresServer> {
  return startPostgres(15, {
    conf: [`listen_addresses = '127.0.0.1,${cluster.host}'`, "log_statement = 'ddl'"],
    hba: [
      'local all all scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      `host all all ${cluster.podCidr ?? '0.0.0.0/0'} scram-sha-256`,
      '',
    ].join('\n'),
  })
}

/** The statements PostgreSQL logged under log_statement = 'ddl'. */
export async function loggedDdl(server: PostgresServer): Promise<string[]> {
  return (await server.log()).split('\n').filter((line) => /LOG: {2}statement: /.test(line))
}

/** A Secret's keys, decoded. */
export async function secretData(cluster: SecretsCluster, name: string): Promise<Record<string, string> | undefined> {
  const secret = await getOrUndefined<{ data?: Record<string, string> }>(cluster, 'secret', name)
  if (!secret) return undefined
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
}

/** Everything a person could read about the namespace: logs of every pod, pods' statuses (termination messages), Events. */
export async function readableSurface(cluster: SecretsCluster): Promise<string> {
  const pods = await kubectlJson<{ items: { metadata: { name: string } }[] }>(cluster, ['get', 'pods'])
  const logs = await Promise.all(
    pods.items.map((p) => kubectl(cluster, ['logs', p.metadata.name, '--all-containers']).then((r) => r.stdout)),
  )
  const events = await kubectl(cluster, ['get', 'events', '-o', 'json'])
  return [JSON.stringify(pods), ...logs, events.stdout].join('\n')
}
