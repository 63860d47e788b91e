import { getContainerRuntimeClient, GenericContainer, Wait, type StartedTestContainer } from 'testcontainers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf } from '../support/dbhook.ts'

// The emulator image the Google Cloud SDK (528) itself runs for `gcloud emulators spanner start --use-docker`.
const image = 'gcr.io/cloud-spanner-emulator/emulator:1.5.28'
const project = 'dbhook-test'
const instance = 'main'

/** Fails, saying why, when there is no Docker or Podman to run containers with. */
async function requireContainerEngine(): Promise<void> {
  try {
    await getContainerRuntimeClient()
  } catch (error) {
    throw new Error(
      `no container engine is available (${(error as Error).message}): npm run test:containers needs Docker or a Podman socket (DOCKER_HOST). These tests fail rather than skip so that they are never counted as passing.`,
    )
  }
}

test('a container engine is available to run the Cloud Spanner emulator', async () => {
  await requireContainerEngine()
})

describe(`Cloud Spanner emulator in a container (${image})`, () => {
  let container: StartedTestContainer
  let env: Record<string, string>

  beforeAll(async () => {
    await requireContainerEngine()
    container = await new GenericContainer(image)
      .withExposedPorts(9010, 9020)
      .withWaitStrategy(Wait.forLogMessage(/REST server listening/))
      .start()
    const rest = `http://${container.getHost()}:${container.getMappedPort(9020)}/v1`
    const created = await fetch(`${rest}/projects/${project}/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instanceId: instance, instance: { config: 'emulator-config', displayName: instance, nodeCount: 1 } }),
    })
    if (!created.ok) throw new Error(`creating the instance: ${created.status} ${await created.text()}`)
    env = {
      DBHOOK_ENGINE: 'spanner',
      DBHOOK_SPANNER_PROJECT: project,
      DBHOOK_SPANNER_INSTANCE: instance,
      DBHOOK_DATABASES: 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex',
      SPANNER_EMULATOR_HOST: `${container.getHost()}:${container.getMappedPort(9010)}`,
      DBHOOK_WAIT_TIMEOUT: '60s',
    }
  })
  afterAll(async () => {
    await container?.stop()
  })

  test("openZro's four databases are created, a second apply changes nothing, verify passes", async () => {
    const first = await runDbhook(['apply'], env)
    expect(first.code, first.stdout).toBe(0)
    expect(summaryOf(first)?.databases.map((db) => db.result)).toEqual(['created', 'created', 'created', 'created'])
    const second = await runDbhook(['apply'], env)
    expect(second.code, second.stdout).toBe(0)
    expect(summaryOf(second)).toMatchObject({ statements: 0 })
    const verify = await runDbhook(['verify'], env)
    expect(verify.code, verify.stdout).toBe(0)
  })
})
