// Builds the -spanner variant of docker/Dockerfile with podman (docker/build-local.sh --spanner) and runs it as the
// chart runs it (read-only root, UID 65532) against the Cloud Spanner emulator on loopback.
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startSpannerEmulator, type SpannerEmulator } from '../support/spanner-emulator.ts'
import { commandWorks, runProcess, skipUnlessAvailable } from './tools.ts'

const repoRoot = resolve(import.meta.dirname, '../..')
const image = 'localhost/dbhook:test-spanner'
const hasPodman = commandWorks('podman')

describe.skipIf(skipUnlessAvailable(hasPodman))('the -spanner image built with podman', () => {
  let emulator: SpannerEmulator
  let sizes: { image: number; base: number }

  beforeAll(async () => {
    if (!hasPodman) throw new Error('podman is not installed or does not run: .ci/setup.d/50-podman.sh installs and configures it')
    const [built, started] = await Promise.all([
      runProcess('bash', [join(repoRoot, 'docker/build-local.sh'), '--spanner', image], {
        env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
        timeoutMs: 540_000,
      }),
      startSpannerEmulator(),
    ])
    emulator = started
    if (built.code !== 0) throw new Error(`docker/build-local.sh --spanner failed (${built.code}):\n${built.stderr.slice(-4000)}`)
    const values = Object.fromEntries(
      built.stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
    sizes = { image: Number(values.IMAGE_SIZE), base: Number(values.BASE_SIZE) }
  }, 600_000)
  afterAll(async () => {
    await emulator?.stop()
  })

  test("apply and verify run from a read-only container as 65532 with Google's client from /app/node_modules", async () => {
    console.info(`-spanner image ${sizes.image} bytes, runtime base ${sizes.base} bytes, added ${sizes.image - sizes.base} bytes`)
    await emulator.createInstance('dbhook-test', 'main')
    const env = {
      DBHOOK_ENGINE: 'spanner',
      DBHOOK_SPANNER_PROJECT: 'dbhook-test',
      DBHOOK_SPANNER_INSTANCE: 'main',
      SPANNER_EMULATOR_HOST: emulator.address,
      DBHOOK_DATABASES: 'management=openzro,flow=openzro_flow,activity=openzro_activity,dex=dex',
    }
    const run = (command: string) =>
      runProcess(
        'podman',
        [
          'run',
          '--rm',
          '--read-only',
          '--read-only-tmpfs=false',
          '--user',
          '65532:65532',
          '--network=host',
          ...Object.keys(env).flatMap((n) => ['--env', n]),
          image,
          command,
        ],
        { env },
      )
    const apply = await run('apply')
    expect(apply.code, apply.stdout + apply.stderr).toBe(0)
    expect(apply.stdout).toContain(
      'apply finished: management=openzro created, flow=openzro_flow created, activity=openzro_activity created, dex=dex created',
    )
    expect(await emulator.databases('dbhook-test', 'main')).toEqual(['dex', 'openzro', 'openzro_activity', 'openzro_flow'])
    const verify = await run('verify')
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)

    const listing = await runProcess('podman', [
      'run',
      '--rm',
      '--read-only',
      '--read-only-tmpfs=false',
      '--entrypoint',
      '/nodejs/bin/node',
      image,
      '-e',
      'const fs=require("fs");const s=fs.statSync("/app/node_modules/@google-cloud/spanner/package.json");console.log(JSON.stringify({files:fs.readdirSync("/app").sort(),uid:s.uid,writable:(s.mode&0o222)!==0,user:process.getuid()}))',
    ])
    expect(listing.code, listing.stderr).toBe(0)
    const shipped = JSON.parse(listing.stdout) as { files: string[]; uid: number; writable: boolean; user: number }
    expect(shipped).toMatchObject({ uid: 0, writable: false, user: 65532 })
    // Google's client beside the bundle of dist/: the entry and its chunks, among them the Spanner engine's.
    expect(shipped.files.filter((name) => !/^[\w-]+\.mjs$/.test(name))).toEqual(['node_modules'])
    expect(shipped.files).toEqual(expect.arrayContaining(['dbhook.mjs', expect.stringMatching(/^spanner-adapter-\w{8}\.mjs$/)]))
  })
})
