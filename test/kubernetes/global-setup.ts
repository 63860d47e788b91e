// Names the vitest run, and at its end stops the Kubernetes test cluster if this run started it. The cluster is
// started lazily by the first test file that needs it (cluster.ts), so a run without those files costs nothing,
// and a cluster someone started by hand (`cluster.sh up`) is left running.
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import type { TestProject } from 'vitest/node'
import { failureFile, stopClusterIfOwner } from './cluster.ts'

export default function setup(project: TestProject): () => Promise<void> {
  const owner = `vitest-${process.pid}-${randomUUID()}`
  project.provide('dbhookKubernetesRun', owner)
  return async () => {
    if (existsSync(failureFile) && readFileSync(failureFile, 'utf8').startsWith(`${owner}\n`)) rmSync(failureFile, { force: true })
    process.stderr.write(await stopClusterIfOwner(owner))
  }
}
