// Builds the `pgtools` target of docker/Dockerfile (docker/build-local.sh --pgtools: a base holding the machine's
// pg_dump/pg_restore and mariadb-dump stands in for the PGDG stage) and runs it as the backup CronJob does:
// read-only root, UID 65532, the backup directory as the only writable volume besides /tmp.
import { spawnSync } from 'node:child_process'
import { chmod, chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startMariadb } from '../support/mariadb.ts'
import { startPostgres, type PostgresServer } from '../support/postgres.ts'
import { commandWorks, runProcess, skipUnlessAvailable, type ProcessResult } from './tools.ts'

const repoRoot = resolve(import.meta.dirname, '../..')
const image = 'localhost/dbhook:test-pgtools'
const hasPodman = commandWorks('podman')
// Debian bookworm's pg_dump is 15; it dumps servers up to its own major.
const serverMajor = 15

interface Built {
  readonly imageSize: number
  readonly baseSize: number
}

async function buildPgtoolsImage(): Promise<Built> {
  const built = await runProcess('bash', [join(repoRoot, 'docker/build-local.sh'), '--pgtools', image], {
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    timeoutMs: 540_000,
  })
  if (built.code !== 0) throw new Error(`docker/build-local.sh --pgtools failed (${built.code}):\n${built.stderr.slice(-4000)}`)
  const values = Object.fromEntries(
    built.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
  return { imageSize: Number(values.IMAGE_SIZE), baseSize: Number(values.BASE_SIZE) }
}

/** Passwords handed to containers in this file; no output may contain one. */
const secrets = new Set<string>()

/**
 * `podman run` as the backup pod runs: read-only root, UID/GID 65532, host network for the loopback server, a
 * tmpfs at /tmp (the chart's emptyDir), `volumes` as host:container. Settings go by name (`--env NAME`) so that
 * passwords stay off podman's command line.
 */
async function runPgtools(
  command: string[],
  options: { env?: Record<string, string>; entrypoint?: string; volumes?: string[] } = {},
): Promise<ProcessResult> {
  const env = options.env ?? {}
  for (const [name, value] of Object.entries(env)) if (name.endsWith('PASSWORD')) secrets.add(value)
  const args = [
    'run',
    '--rm',
    '--read-only',
    '--read-only-tmpfs=false',
    '--tmpfs',
    '/tmp:rw,size=64m,mode=1777',
    '--user',
    '65532:65532',
    '--network=host',
  ]
  if (options.entrypoint) args.push('--entrypoint', options.entrypoint)
  for (const volume of options.volumes ?? []) args.push('--volume', volume)
  for (const name of Object.keys(env)) args.push('--env', name)
  const result = await runProcess('podman', [...args, image, ...command], { env })
  for (const secret of secrets)
    expect(result.stdout.includes(secret) || result.stderr.includes(secret), 'a password appeared in the container output').toBe(false)
  return result
}

describe.skipIf(skipUnlessAvailable(hasPodman))('the pgtools image built with podman', () => {
  let built: Built
  let server: PostgresServer
  let backupDir: string

  beforeAll(async () => {
    if (!hasPodman) throw new Error('podman is not installed or does not run: .ci/setup.d/50-podman.sh installs and configures it')
    ;[built, server, backupDir] = await Promise.all([
      buildPgtoolsImage(),
      startPostgres(serverMajor),
      mkdtemp(join(tmpdir(), 'dbhook-pgtools-backups-')),
    ])
    // The backup volume is writable for 65532, as fsGroup makes a PVC in the pod.
    if (process.getuid?.() === 0) await chown(backupDir, 65532, 65532)
    else await chmod(backupDir, 0o777)
  }, 600_000)
  afterAll(async () => {
    await server?.stop()
    if (backupDir) await rm(backupDir, { recursive: true, force: true })
  })

  test('keeps the entrypoint and user of the provisioning image, defaults to backup, adds only the bundle to its base', async () => {
    console.info(`pgtools image ${built.imageSize} bytes, pgtools base ${built.baseSize} bytes`)
    expect(built.imageSize - built.baseSize).toBeGreaterThan(0)
    expect(built.imageSize - built.baseSize).toBeLessThanOrEqual(5 * 1000 * 1000)
    const inspected = await runProcess('podman', ['image', 'inspect', '--format', '{{json .Config}}', image])
    expect(inspected.code, inspected.stderr).toBe(0)
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    expect(JSON.parse(inspected.stdout)).toMatchObject({
      User: '65532:65532',
      Entrypoint: ['/nodejs/bin/node', '/app/dbhook.mjs'],
      Cmd: ['backup'],
      Labels: { 'org.opencontainers.image.title': 'dbhook-pgtools', 'org.opencontainers.image.version': pkg.version },
    })
  })

  test('pg_dump and pg_restore of the newest local major, and mariadb-dump, run read-only as 65532', async () => {
    const hostPgDump = spawnSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -t/ -k5 -n | tail -n 1'], {
      encoding: 'utf8',
    }).stdout.trim()
    const hostVersion = spawnSync(join(hostPgDump, 'pg_dump'), ['--version'], { encoding: 'utf8' }).stdout.trim()
    for (const tool of ['pg_dump', 'pg_restore']) {
      const result = await runPgtools(['--version'], { entrypoint: tool })
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.trim()).toBe(hostVersion.replace(/^pg_dump/, tool))
    }
    const mariadbDump = await runPgtools(['--version'], { entrypoint: 'mariadb-dump' })
    expect(mariadbDump.code, mariadbDump.stderr).toBe(0)
    expect(mariadbDump.stdout).toMatch(/MariaDB/)
    const whoami = await runPgtools(['-e', 'console.log(process.getuid(), process.getgid())'], { entrypoint: '/nodejs/bin/node' })
    expect(whoami.stdout.trim()).toBe('65532 65532')
  })

  test('dbhook --version prints the package version', async () => {
    const result = await runPgtools(['--version'])
    expect(result.code, result.stderr).toBe(0)
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    expect(result.stdout.trim()).toBe(`dbhook ${pkg.version}`)
  })

  test(`dbhook backup then dbhook drill against PostgreSQL ${serverMajor}: the dump lands in the mounted directory and restores`, async () => {
    const env = {
      ...server.env('postgres', server.password),
      DBHOOK_OWNER: 'pgtools_owner',
      DBHOOK_OWNER_PASSWORD: 'pgtools owner pw',
      DBHOOK_DATABASES: 'main=pgtools_main',
      DBHOOK_BACKUP_DIR: '/var/backups/dbhook',
      TMPDIR: '/tmp',
    }
    const volumes = [`${backupDir}:/var/backups/dbhook`]
    const apply = await runPgtools(['apply'], { env })
    expect(apply.code, apply.stdout + apply.stderr).toBe(0)
    const asOwner = { user: 'pgtools_owner', password: 'pgtools owner pw', database: 'pgtools_main' }
    await server.query('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 42)', [], asOwner)

    const backup = await runPgtools(['backup'], { env, volumes })
    expect(backup.code, backup.stdout + backup.stderr).toBe(0)
    const files = (await readdir(join(backupDir, 'pgtools_main'))).sort()
    expect(files).toHaveLength(3)
    expect(files[0]).toMatch(/^pgtools_main-\d{8}T\d{6}Z\.dump$/)
    expect(files[1]).toBe(`${files[0]}.sha256`)
    expect(files[2]).toBe(files[0]!.replace(/\.dump$/, '.manifest'))

    const drill = await runPgtools(['drill'], { env, volumes: [`${backupDir}:/var/backups/dbhook:ro`] })
    expect(drill.code, drill.stdout + drill.stderr).toBe(0)
    expect(drill.stdout).toMatch(/42 rows/)
  })

  test('dbhook backup then dbhook drill against MariaDB: mariadb-dump and mariadb from the image', async () => {
    const mariadb = await startMariadb()
    try {
      const env = {
        ...mariadb.env(mariadb.admin, mariadb.password),
        DBHOOK_OWNER: 'pgtools_owner',
        DBHOOK_OWNER_PASSWORD: 'pgtools maria pw',
        DBHOOK_DATABASES: 'main=pgtools_maria',
        DBHOOK_BACKUP_DIR: '/var/backups/dbhook',
        TMPDIR: '/tmp',
      }
      const apply = await runPgtools(['apply'], { env })
      expect(apply.code, apply.stdout + apply.stderr).toBe(0)
      await mariadb.query('CREATE TABLE pgtools_maria.items (id int PRIMARY KEY)')
      await mariadb.query('INSERT INTO pgtools_maria.items VALUES (1), (2), (3), (4), (5), (6), (7)')

      const backup = await runPgtools(['backup'], { env, volumes: [`${backupDir}:/var/backups/dbhook`] })
      expect(backup.code, backup.stdout + backup.stderr).toBe(0)
      expect((await readdir(join(backupDir, 'pgtools_maria'))).filter((f) => f.endsWith('.dump'))).toHaveLength(1)
      const drill = await runPgtools(['drill'], { env, volumes: [`${backupDir}:/var/backups/dbhook:ro`] })
      expect(drill.code, drill.stdout + drill.stderr).toBe(0)
      expect(drill.stdout).toMatch(/7 rows/)
    } finally {
      await mariadb.stop()
    }
  })
})
