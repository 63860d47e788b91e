// Builds docker/Dockerfile with podman against locally imported bases (docker/build-local.sh) and runs the image
// as the runners do: read-only root, UID 65532, against a real PostgreSQL on loopback.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startPostgres, testedMajors, type PostgresServer } from '../support/postgres.ts'
import { databaseOwners } from '../support/postgres-catalog.ts'
import { commandWorks, findQuadlet, generateUnits, runProcess, skipUnlessAvailable, splitExecStart, type ProcessResult } from './tools.ts'

const repoRoot = resolve(import.meta.dirname, '../..')
const image = 'localhost/dbhook:test'
const sizeBudgetBytes = 5 * 1000 * 1000
const hasPodman = commandWorks('podman')
const quadlet = findQuadlet()

interface Built {
  readonly imageSize: number
  readonly baseSize: number
  readonly runtimeBase: string
}

async function buildImage(): Promise<Built> {
  // The script wants Node 24 first on PATH: the one running these tests.
  const built = await runProcess('bash', [join(repoRoot, 'docker/build-local.sh'), image], {
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    timeoutMs: 540_000,
  })
  if (built.code !== 0) throw new Error(`docker/build-local.sh failed (${built.code}):\n${built.stderr.slice(-4000)}`)
  const values = Object.fromEntries(
    built.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
  return { imageSize: Number(values.IMAGE_SIZE), baseSize: Number(values.BASE_SIZE), runtimeBase: values.RUNTIME_BASE ?? '' }
}

/** Passwords handed to containers in this file; no output may contain one. */
const secrets = new Set<string>()

function expectNoSecrets(result: ProcessResult): void {
  for (const secret of secrets) {
    expect(result.stdout.includes(secret) || result.stderr.includes(secret), 'a password appeared in the container output').toBe(false)
  }
}

/**
 * `podman run` of the image as Kubernetes and quadlet run it: read-only root without even a tmpfs, UID/GID
 * 65532, host network to reach the loopback server. Settings are passed by name (`--env NAME`) so that
 * passwords stay out of podman's command line.
 */
async function runImage(command: string[], env: Record<string, string>): Promise<ProcessResult> {
  for (const [name, value] of Object.entries(env)) if (name.endsWith('PASSWORD')) secrets.add(value)
  const args = ['run', '--rm', '--read-only', '--read-only-tmpfs=false', '--user', '65532:65532', '--network=host']
  for (const name of Object.keys(env)) args.push('--env', name)
  const result = await runProcess('podman', [...args, image, ...command], { env })
  expectNoSecrets(result)
  return result
}

async function podmanJson<T>(args: string[]): Promise<T> {
  const result = await runProcess('podman', args)
  if (result.code !== 0) throw new Error(`podman ${args.join(' ')} failed: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

describe.skipIf(skipUnlessAvailable(hasPodman))('the image built with podman', () => {
  let built: Built
  let server: PostgresServer
  const pgVersion = Math.max(...testedMajors())

  beforeAll(async () => {
    if (!hasPodman) throw new Error('podman is not installed or does not run: .ci/setup.d/50-podman.sh installs and configures it')
    ;[built, server] = await Promise.all([buildImage(), startPostgres(pgVersion)])
  }, 600_000)
  afterAll(async () => {
    await server?.stop()
  })

  test('adds at most 5 MB to its runtime base and holds only the bundle in dist/, run as 65532', async () => {
    const added = built.imageSize - built.baseSize
    console.info(`image ${built.imageSize} bytes, runtime base ${built.baseSize} bytes, added ${added} bytes`)
    expect(added).toBeGreaterThan(0)
    expect(added).toBeLessThanOrEqual(sizeBudgetBytes)

    const [inspected = { Config: { User: '', Entrypoint: [], Cmd: [], Labels: {} } }] = await podmanJson<
      { Config: { User: string; Entrypoint: string[]; Cmd: string[]; Labels: Record<string, string> } }[]
    >(['image', 'inspect', image])
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    expect(inspected.Config).toMatchObject({ User: '65532:65532', Entrypoint: ['/nodejs/bin/node', '/app/dbhook.mjs'], Cmd: ['apply'] })
    expect(inspected.Config.Labels).toMatchObject({
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.source': expect.stringMatching(/^https:\/\//),
    })

    // The layers the Dockerfile adds on top of the base: all of dist/ (the entry and its chunks, as the build here
    // wrote them, content hashes aside), each file root-owned and not writable.
    const listing = await runProcess('podman', [
      'run',
      '--rm',
      '--read-only',
      '--read-only-tmpfs=false',
      '--entrypoint',
      '/nodejs/bin/node',
      image,
      '-e',
      'const fs=require("fs");const files=fs.readdirSync("/app").sort().map((name)=>{const s=fs.statSync("/app/"+name);return{name,uid:s.uid,mode:(s.mode&0o777).toString(8)}});console.log(JSON.stringify({files,user:process.getuid()}))',
    ])
    expect(listing.code, listing.stderr).toBe(0)
    const withoutHash = (name: string) => name.replace(/-\w{8}\.mjs$/, '-<hash>.mjs')
    const buildOutput = (await readdir(join(repoRoot, 'dist'))).map(withoutHash).sort()
    expect(buildOutput).toContain('dbhook.mjs')
    expect(buildOutput).toContain('kubernetes-secret-store-<hash>.mjs')
    const shipped = JSON.parse(listing.stdout) as { files: { name: string; uid: number; mode: string }[]; user: number }
    expect(shipped.user).toBe(65532)
    expect(shipped.files.map((f) => withoutHash(f.name)).sort()).toEqual(buildOutput)
    expect(shipped.files.filter((f) => f.uid !== 0 || f.mode !== '444')).toEqual([])
  })

  test('--version prints the package version from a read-only container', async () => {
    const result = await runImage(['--version'], {})
    expect(result.code, result.stderr).toBe(0)
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    expect(result.stdout.trim()).toBe(`dbhook ${pkg.version}`)
  })

  test('apply creates the databases, then plan finds nothing to do (exit 0)', async () => {
    const env = {
      ...server.env('postgres', server.password),
      DBHOOK_OWNER: 'image_owner',
      DBHOOK_OWNER_PASSWORD: 'image owner pw',
      DBHOOK_DATABASES: 'main=image_main,audit=image_audit',
    }
    const apply = await runImage(['apply'], env)
    expect(apply.code, apply.stdout + apply.stderr).toBe(0)
    expect(await databaseOwners(server, ['image_main', 'image_audit'])).toEqual({ image_main: 'image_owner', image_audit: 'image_owner' })
    const rows = await server.query('SELECT current_user AS who', [], {
      user: 'image_owner',
      password: 'image owner pw',
      database: 'image_main',
    })
    expect(rows).toEqual([{ who: 'image_owner' }])

    const plan = await runImage(['plan'], env)
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
  })

  test('the default command is apply', async () => {
    const env = { ...server.env('postgres', server.password), DBHOOK_DATABASES: 'image_default_cmd' }
    const result = await runImage([], env)
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(await databaseOwners(server, ['image_default_cmd'])).toEqual({ image_default_cmd: 'postgres' })
  })

  test('a wrong password exits 77 and the password is not printed', async () => {
    const env = { ...server.env('postgres', 'not the password'), DBHOOK_DATABASES: 'image_never' }
    const result = await runImage(['apply'], env)
    expect(result.code, result.stdout + result.stderr).toBe(77)
    expect(await databaseOwners(server, ['image_never'])).toEqual({})
  })

  // The quadlet units themselves, through podman's generator, with only what a test must change: the image
  // tag, settings for this server, host networking to reach loopback, and secret names of its own.
  describe.skipIf(skipUnlessAvailable(!!quadlet))('the generated quadlet services', () => {
    const secretPrefix = `dbhook-test-${process.pid}`
    const passwords = { admin: '', owner: 'quadlet owner pw', app: 'quadlet app pw' }
    let unitDir: string

    beforeAll(async () => {
      if (!quadlet) throw new Error('quadlet generator missing: .ci/setup.d/50-podman.sh builds it and exports DBHOOK_QUADLET')
      passwords.admin = server.password
      unitDir = await mkdtemp(join(tmpdir(), 'dbhook-quadlet-'))
      for (const name of ['dbhook-wait.container', 'dbhook.container']) {
        const unit = (await readFile(join(repoRoot, 'docker/quadlet', name), 'utf8'))
          .replace(/^Image=.*$/m, `Image=${image}`)
          .replace(/^\[Container\]$/m, '[Container]\nNetwork=host')
          .replaceAll(/dbhook-(admin|owner|app)-password/g, `${secretPrefix}-$1-password`)
        await writeFile(join(unitDir, name), unit)
      }
      await writeFile(
        join(unitDir, 'dbhook.env'),
        [
          'DBHOOK_HOST=127.0.0.1',
          `DBHOOK_PORT=${server.port}`,
          'DBHOOK_ADMIN_USER=postgres',
          'DBHOOK_OWNER=quadlet_owner',
          'DBHOOK_APP_USER=quadlet_app',
          'DBHOOK_DATABASES=quadlet_main,quadlet_audit',
          'DBHOOK_SSLMODE=disable',
          'DBHOOK_WAIT_TIMEOUT=20s',
          '',
        ].join('\n'),
      )
      for (const [role, password] of Object.entries(passwords)) {
        secrets.add(password)
        await runProcess('podman', ['secret', 'rm', `${secretPrefix}-${role}-password`])
        // podman 4.3 reads `secret create NAME -` only from a FIFO, not from a socket as Node's pipes are: use a file.
        const file = join(unitDir, `${role}-password`)
        await writeFile(file, password, { mode: 0o600 })
        const created = await runProcess('podman', ['secret', 'create', `${secretPrefix}-${role}-password`, file])
        await rm(file)
        if (created.code !== 0) throw new Error(`podman secret create failed: ${created.stderr}`)
      }
    })
    afterAll(async () => {
      for (const role of Object.keys(passwords)) await runProcess('podman', ['secret', 'rm', `${secretPrefix}-${role}-password`])
      if (unitDir) await rm(unitDir, { recursive: true, force: true })
    })

    /** The service's ExecStart, run as systemd would but outside a unit's cgroup (so without --cgroups=split). */
    async function runService(service: string): Promise<ProcessResult> {
      const units = generateUnits(quadlet!, unitDir)
      const [execStart] = units[service]?.Service?.ExecStart ?? []
      if (!execStart) throw new Error(`quadlet generated no ExecStart for ${service}`)
      const [command = '', ...args] = splitExecStart(execStart).filter((arg) => arg !== '--cgroups=split')
      const result = await runProcess(command, args)
      expectNoSecrets(result)
      return result
    }

    test('dbhook-wait.service then dbhook.service provision with passwords from podman secret files', async () => {
      const wait = await runService('dbhook-wait.service')
      expect(wait.code, wait.stdout + wait.stderr).toBe(0)
      const apply = await runService('dbhook.service')
      expect(apply.code, apply.stdout + apply.stderr).toBe(0)

      expect(await databaseOwners(server, ['quadlet_main', 'quadlet_audit'])).toEqual({
        quadlet_main: 'quadlet_owner',
        quadlet_audit: 'quadlet_owner',
      })
      // The owner and app roles got the passwords from the secret files.
      expect(
        await server.query('SELECT current_user AS who', [], {
          user: 'quadlet_owner',
          password: passwords.owner,
          database: 'quadlet_main',
        }),
      ).toEqual([{ who: 'quadlet_owner' }])
      expect(
        await server.query('SELECT current_user AS who', [], { user: 'quadlet_app', password: passwords.app, database: 'quadlet_audit' }),
      ).toEqual([{ who: 'quadlet_app' }])
    })
  })
})
