import { readFileSync } from 'node:fs'
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  Observable,
  PatchStrategy,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type V1Status,
} from '@kubernetes/client-node'
import { DbhookError, ExitCode } from '../errors.ts'
import type { RunContext } from '../engines/engine.ts'
import { untrustedCertificateCodes } from '../engines/tls-codes.ts'
import { connectWithRetry, type ConnectVerdict } from '../wait.ts'
import type { SecretStore, StoredSecret } from './secret-store.ts'

/**
 * Where the chart mounts the hook pod's projected service account volume: an audience-bound, short-lived token,
 * the API server's CA (the kube-root-ca.crt ConfigMap) and the pod's namespace. It is the path in-cluster clients
 * read, so @kubernetes/client-node's loadFromCluster finds it.
 */
const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount'

/** Statuses worth another attempt: the API server restarting, overloaded or behind a balancer that is. */
const transientStatuses = new Set([429, 500, 502, 503, 504])

/**
 * A SecretStore on the Kubernetes API, with in-cluster configuration only: the API server from
 * KUBERNETES_SERVICE_HOST/PORT, the token and CA from the projected volume. Transient failures are retried until
 * the run's deadline (exit 69); a refusal is exit 77. No Secret value is ever part of a message.
 */
export function kubernetesSecretStore(context: RunContext, variable: string): SecretStore {
  const problem = inClusterProblem()
  if (problem) throw new DbhookError(`${variable} needs the Kubernetes API from inside a pod: ${problem}`, ExitCode.config)
  const namespace = readFileSync(`${serviceAccountDir}/namespace`, 'utf8').trim()
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromCluster()
  const api = kubeConfig.makeApiClient(CoreV1Api)
  const server = `the Kubernetes API at ${kubeConfig.getCurrentCluster()?.server ?? '?'}`

  // Every request carries the run's signal and its own timeout, so neither a hung API server nor a SIGTERM waits.
  const requestOptions = (timeLeftMs: number, extra: readonly ObservableMiddleware[] = []): ConfigurationOptions => ({
    middleware: [
      beforeSending((request) =>
        request.setSignal(AbortSignal.any([context.signal, AbortSignal.timeout(Math.min(timeLeftMs, context.config.connectTimeoutMs))])),
      ),
      ...extra,
    ],
    middlewareMergeStrategy: 'append',
  })

  /** The request's result, or the expected status it was answered with (404 on read, 409 on create and patch). */
  const call = async <T>(what: string, request: (timeLeftMs: number) => Promise<T>, expected: readonly number[]): Promise<T | number> => {
    try {
      return await connectWithRetry(request, (error) => classify(error, what, expected), {
        deadline: context.deadline,
        signal: context.signal,
        log: context.log,
        target: server,
      })
    } catch (error) {
      if (error instanceof ExpectedAnswer) return error.status
      throw error
    }
  }

  return {
    namespace,
    async read(name) {
      const what = `read Secret ${namespace}/${name}`
      const result = await call(
        what,
        (timeLeft) => api.readNamespacedSecret({ name, namespace }, requestOptions(timeLeft)).then(fromSecret),
        [404],
      )
      return typeof result === 'number' ? undefined : result
    },
    async create(name, data) {
      const what = `create Secret ${namespace}/${name}`
      const body = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name,
          namespace,
          // Not app.kubernetes.io/instance: Argo CD would then count the Secret as the application's and prune it.
          labels: { 'app.kubernetes.io/managed-by': 'dbhook', 'app.kubernetes.io/component': 'generated-credentials' },
          annotations: { 'dbhook.io/generated': 'kept by dbhook apply; never rewritten; delete it to have new passwords generated' },
        },
        stringData: { ...data },
      }
      return (
        (await call(
          what,
          (timeLeft) => api.createNamespacedSecret({ namespace, body }, requestOptions(timeLeft)).then(() => true),
          [409],
        )) === true
      )
    },
    async addKeys(name, resourceVersion, data) {
      const what = `add keys to Secret ${namespace}/${name}`
      const encoded = Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'utf8').toString('base64')]))
      const body = { metadata: { resourceVersion }, data: encoded }
      return (
        (await call(
          what,
          (timeLeft) =>
            api
              .patchNamespacedSecret(
                { name, namespace, body },
                requestOptions(timeLeft, [beforeSending((request) => request.setHeaderParam('Content-Type', PatchStrategy.MergePatch))]),
              )
              .then(() => true),
          [409],
        )) === true
      )
    },
  }
}

/** Why this process cannot use the in-cluster configuration, or undefined. */
function inClusterProblem(): string | undefined {
  if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT)
    return 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set'
  for (const file of ['token', 'ca.crt', 'namespace']) {
    try {
      readFileSync(`${serviceAccountDir}/${file}`)
    } catch (error) {
      return `cannot read ${serviceAccountDir}/${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); the chart mounts a projected service account token there in the hook pod`
    }
  }
  return undefined
}

/** A middleware that changes each request before it is sent (the client's middleware speak its own Observable). */
function beforeSending(change: (request: RequestContext) => void): ObservableMiddleware {
  return {
    pre: (request) => {
      change(request)
      return new Observable(Promise.resolve(request))
    },
    post: (response) => new Observable(Promise.resolve(response)),
  }
}

function fromSecret(secret: { data?: Record<string, string>; metadata?: { resourceVersion?: string } }): StoredSecret {
  const data = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
  )
  return { data, resourceVersion: secret.metadata?.resourceVersion ?? '' }
}

/**
 * An expected status (404 on read, 409 on create and patch) is an answer, not a failure: it resolves to
 * undefined or false through the AbortError path below. Anything else is transient (retried) or permanent.
 */
function classify(error: unknown, what: string, expected: readonly number[]): ConnectVerdict {
  if (error instanceof ApiException) {
    const status = statusOf(error)
    if (expected.includes(error.code)) return { retry: false, error: new ExpectedAnswer(error.code) }
    if (error.code === 401 || error.code === 403) {
      return {
        retry: false,
        error: new DbhookError(
          `the Kubernetes API refused to ${what} (${error.code} ${status.reason ?? ''}): ${status.message ?? 'no message'}`,
          ExitCode.noPermission,
        ),
      }
    }
    if (transientStatuses.has(error.code)) return { retry: true, reason: `${what}: HTTP ${error.code} ${status.reason ?? ''}`.trim() }
    return {
      retry: false,
      error: new DbhookError(
        `could not ${what}: HTTP ${error.code} ${status.reason ?? ''}: ${status.message ?? 'no message'}`,
        ExitCode.failed,
      ),
    }
  }
  // fetch's own failures (refused, reset, DNS, TLS) and this request's timeout are worth another attempt; anything
  // else is a bug or a refusal that retrying would only hide.
  const failure = error as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (failure?.name === 'TimeoutError') return { retry: true, reason: `${what}: no answer within DBHOOK_CONNECT_TIMEOUT` }
  if (failure instanceof TypeError && failure.message === 'fetch failed') {
    const code = failure.cause?.code ?? ''
    if (untrustedCertificateCodes.has(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return {
        retry: false,
        error: new DbhookError(
          `could not ${what}: the API server's certificate does not verify against the CA of the token projection (${code})`,
          ExitCode.noPermission,
        ),
      }
    }
    return { retry: true, reason: `${what}: ${code || failure.cause?.message || 'fetch failed'}` }
  }
  return {
    retry: false,
    error: new DbhookError(`could not ${what}: ${failure?.message ?? String(error)}`, ExitCode.failed, { cause: error }),
  }
}

function statusOf(error: ApiException<unknown>): Partial<V1Status> {
  const body = error.body
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as V1Status
    } catch {
      return {}
    }
  }
  return (body ?? {}) as Partial<V1Status>
}

/** Carries an expected HTTP status out of the retry loop. */
class ExpectedAnswer extends DbhookError {
  readonly status: number
  constructor(status: number) {
    super(`HTTP ${status}`, ExitCode.failed)
    this.status = status
  }
}
