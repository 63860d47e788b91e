import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { runDbhook, summaryOf } from '../support/dbhook.ts'
import { startSpannerEmulator, type SpannerEmulator } from '../support/spanner-emulator.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'

const project = 'dbhook-test'
const instance = 'main'
const openzro = 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex'

/** Polls until `done` holds, failing after `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const started = Date.now()
  while (!done()) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('Cloud Spanner emulator going away', () => {
  let emulator: SpannerEmulator
  let proxy: TcpProxy

  beforeAll(async () => {
    emulator = await startSpannerEmulator()
    // dbhook reaches the emulator through a loopback proxy, which can keep refusing while the restarted emulator
    // has no instance yet (a real instance does not vanish; an empty restarted emulator would answer NOT_FOUND).
    proxy = await startTcpProxy({ host: emulator.host, port: emulator.grpcPort })
  })
  afterAll(async () => {
    await proxy?.close()
    await emulator?.stop()
  })

  const env = () => ({
    DBHOOK_ENGINE: 'spanner',
    DBHOOK_SPANNER_PROJECT: project,
    DBHOOK_SPANNER_INSTANCE: instance,
    DBHOOK_DATABASES: openzro,
    SPANNER_EMULATOR_HOST: `${proxy.host}:${proxy.port}`,
    DBHOOK_WAIT_TIMEOUT: '180s',
    DBHOOK_CONNECT_TIMEOUT: '2s',
  })

  test('the emulator stopped during the wait and started again: apply retries UNAVAILABLE and succeeds', async () => {
    await emulator.createInstance(project, instance)
    await emulator.stop()

    const seenBefore = proxy.connections.length
    const running = runDbhook(['apply'], env(), { timeoutMs: 240_000 })
    // dbhook has tried (and been turned away) a few times while the emulator was down.
    await until(() => proxy.connections.length >= seenBefore + 3, 60_000, 'dbhook to retry against the stopped emulator')

    await proxy.setMode('refuse')
    await emulator.start()
    await emulator.createInstance(project, instance)
    await proxy.setMode('forward')

    const run = await running
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(
      run.logs.some(
        (line) =>
          line.level === 'info' &&
          String(line.msg).startsWith(`waiting for Cloud Spanner instance projects/${project}/instances/${instance}`) &&
          String(line.msg).includes('UNAVAILABLE'),
      ),
    ).toBe(true)
    expect(summaryOf(run)?.databases.map((db) => db.result)).toEqual(['created', 'created', 'created', 'created'])
    expect(await emulator.databases(project, instance)).toEqual(['dex', 'openzro', 'openzro_activity', 'openzro_flow'])
    expect((await runDbhook(['verify'], env())).code).toBe(0)
  })

  test('SIGTERM while waiting for an instance that never answers ends dbhook with 143 and says so', async () => {
    // A hung server: the proxy accepts each connection and never answers, so each call runs into its deadline.
    await proxy.setMode('swallow')
    try {
      let pid = 0
      const seenBefore = proxy.connections.length
      const running = runDbhook(['wait'], { ...env(), DBHOOK_DATABASES: '' }, { onSpawn: (p) => (pid = p), timeoutMs: 60_000 })
      await until(() => pid !== 0 && proxy.connections.length > seenBefore, 30_000, 'dbhook to connect to the hung proxy')
      process.kill(pid, 'SIGTERM')
      const run = await running
      expect(run.code, run.stdout).toBe(143)
      expect(run.terminationMessage.trim()).toBe('wait: interrupted by SIGTERM')
    } finally {
      proxy.cutAll()
      await proxy.setMode('forward')
    }
  })

  test('a hung instance: every call runs into its deadline, DEADLINE_EXCEEDED is retried, and wait ends with 69', async () => {
    await proxy.setMode('swallow')
    try {
      const seenBefore = proxy.connections.length
      const run = await runDbhook(['wait'], { ...env(), DBHOOK_DATABASES: '', DBHOOK_WAIT_TIMEOUT: '5s', DBHOOK_CONNECT_TIMEOUT: '1s' })
      expect(run.code, run.stdout).toBe(69)
      expect(run.terminationMessage).toContain('was not reachable before DBHOOK_WAIT_TIMEOUT ran out')
      expect(run.terminationMessage).toContain('last: DEADLINE_EXCEEDED')
      expect(proxy.connections.length).toBeGreaterThan(seenBefore)
    } finally {
      proxy.cutAll()
      await proxy.setMode('forward')
    }
  })
})
