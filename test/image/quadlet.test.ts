// docker/quadlet through podman's own generator (quadlet -dryrun): what systemd would run. image.test.ts runs
// the generated commands against a real server.
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { helpText } from '../../src/help.ts'
import { findQuadlet, generateUnits, skipUnlessAvailable, splitExecStart, type GeneratedUnit } from './tools.ts'

const unitDir = resolve(import.meta.dirname, '../../docker/quadlet')
const quadlet = findQuadlet()

/** podman's options as name -> values ("--user 65532:65532" and "--cap-drop all" take one value each). */
function podmanOptions(argv: string[]): { options: Map<string, string[]>; image: string; command: string[] } {
  const withValue = new Set(['--name', '--tmpfs', '--cap-drop', '--user', '--env', '--env-file', '--secret', '--network'])
  const options = new Map<string, string[]>()
  let i = 2 // podman run
  for (; argv[i]?.startsWith('--'); i += 1) {
    const [name = '', inline] = (argv[i] ?? '').split(/=(.*)/s)
    const value = inline ?? (withValue.has(name) ? (argv[++i] ?? '') : '')
    options.set(name, [...(options.get(name) ?? []), value])
  }
  return { options, image: argv[i] ?? '', command: argv.slice(i + 1) }
}

describe.skipIf(skipUnlessAvailable(!!quadlet))(`quadlet -dryrun over docker/quadlet`, () => {
  let units: Record<string, GeneratedUnit>
  /** The values of `key` in `section` of the generated `service`, in order; [] when absent. */
  const values = (service: string, section: string, key: string): string[] => units[service]?.[section]?.[key] ?? []

  beforeAll(() => {
    if (!quadlet) throw new Error('quadlet generator missing: .ci/setup.d/50-podman.sh builds it and exports DBHOOK_QUADLET')
    units = generateUnits(quadlet, unitDir)
  })

  test('generates the two dbhook services and the example application', () => {
    expect(Object.keys(units).sort()).toEqual(['dbhook-wait.service', 'dbhook.service', 'example-app.service'])
  })

  test.each([
    ['dbhook-wait.service', 'wait', ['admin']],
    ['dbhook.service', 'apply', ['admin', 'owner', 'app']],
  ])('%s runs `dbhook %s` read-only as 65532 with passwords as secret files', (service, command, roles) => {
    const [execStart = '', ...more] = values(service, 'Service', 'ExecStart')
    expect(more).toEqual([])
    const argv = splitExecStart(execStart)
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/podman', 'run'])
    const run = podmanOptions(argv)
    expect(run.image).toMatch(/^localhost\/dbhook:/)
    expect(run.command).toEqual([command])
    expect(run.options.get('--read-only')).toEqual([''])
    expect(run.options.get('--read-only-tmpfs')).toEqual(['false'])
    // The one tmpfs: root-owned mount points for the secret files, which a read-only root cannot provide.
    expect(run.options.get('--tmpfs')).toEqual(['/run/secrets:rw,mode=0755,size=64k,noexec,nosuid,nodev'])
    expect(run.options.get('--user')).toEqual(['65532:65532'])
    expect(run.options.get('--cap-drop')).toEqual(['all'])
    expect(run.options.get('--security-opt')).toEqual(['no-new-privileges'])
    expect(run.options.get('--env-file')).toEqual([join(unitDir, 'dbhook.env')])
    // Not detached: the oneshot unit lasts as long as dbhook runs and takes its exit status.
    expect(run.options.has('-d')).toBe(false)
    expect(argv).not.toContain('-d')

    const expectedSecrets = roles.map(
      (role) => `dbhook-${role}-password,type=mount,target=/run/secrets/dbhook-${role}-password,uid=65532,gid=65532,mode=0400`,
    )
    expect(run.options.get('--secret')?.sort()).toEqual(expectedSecrets.sort())
    const expectedEnv = roles.map((role) => `DBHOOK_${role.toUpperCase()}_PASSWORD_FILE=/run/secrets/dbhook-${role}-password`)
    expect(run.options.get('--env')?.sort()).toEqual(expectedEnv.sort())
    expect(values(service, 'Service', 'Type')).toEqual(['oneshot'])
  })

  test('dbhook.service requires dbhook-wait.service, stays active after success and is enabled for boot', () => {
    expect(values('dbhook.service', 'Unit', 'Requires')).toContain('dbhook-wait.service')
    expect(values('dbhook.service', 'Unit', 'After')).toContain('dbhook-wait.service')
    expect(values('dbhook.service', 'Service', 'RemainAfterExit')).toEqual(['yes'])
    expect(values('dbhook.service', 'Install', 'WantedBy')).toEqual(['multi-user.target'])
  })

  test('the example application starts only after dbhook.service succeeded', () => {
    expect(values('example-app.service', 'Unit', 'Requires')).toContain('dbhook.service')
    expect(values('example-app.service', 'Unit', 'After')).toContain('dbhook.service')
  })

  test('the example env file sets only variables dbhook knows, and no password', async () => {
    const known = new Set(helpText('0').match(/\bDBHOOK_[A-Z_]+\b/g))
    const names = (await readFile(join(unitDir, 'dbhook.env'), 'utf8'))
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.slice(0, line.indexOf('=')))
    expect(names.length).toBeGreaterThan(0)
    for (const name of names) {
      expect(known, name).toContain(name)
      expect(name).not.toMatch(/PASSWORD/)
    }
  })
})
