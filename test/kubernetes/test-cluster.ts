// How a test file gets the cluster: once, in a beforeAll given the time `cluster.sh up` may take, and handed to
// every test before it runs. When the cluster cannot be had, each test fails with the reason; a failed beforeAll
// alone would leave vitest reporting the file's tests as skipped.
import { beforeAll, beforeEach } from 'vitest'
import { useCluster, upTimeoutMs, type Cluster } from './cluster.ts'

/**
 * Calls `use` with the cluster before each test (await what it starts; make it idempotent with `??=` when it
 * should run once per file, such as starting the file's database server).
 */
export function withCluster(use: (cluster: Cluster) => void | Promise<void>): void {
  let cluster: Cluster | undefined
  let failure: unknown
  beforeAll(async () => {
    try {
      cluster = await useCluster()
    } catch (error) {
      failure = error
    }
  }, upTimeoutMs + 60_000)
  beforeEach(async () => {
    if (!cluster) throw failure
    await use(cluster)
  }, 300_000)
}
