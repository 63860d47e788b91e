/**
 * The part of @kubernetes/client-node dbhook uses. scripts/build.mjs bundles this module on its own and appends it,
 * compressed, to dist/dbhook.mjs as a comment, read back and compiled only when a run generates passwords: parsed
 * with the rest of the bundle it would add tens of milliseconds and megabytes to every start, `dbhook --version`
 * included.
 */
export { ApiException, CoreV1Api, KubeConfig, Observable, PatchStrategy } from '@kubernetes/client-node'
export type { ConfigurationOptions, ObservableMiddleware, RequestContext, ResponseContext, V1Status } from '@kubernetes/client-node'
