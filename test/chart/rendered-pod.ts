import { spawn } from 'node:child_process'
import { chmod, chown, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { dbhookBin } from '../support/dbhook.ts'
import { podSpecOf, type Manifest } from './helm.ts'

/** What the "cluster" holds besides the rendered hooks: existing Secrets and ConfigMaps, name -> key -> value. */
export interface ClusterObjects {
  readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly configMaps?: Readonly<Record<string, Readonly<Record<string, string>>>>
  /** PersistentVolumeClaims: claim name -> a host directory that stands for the volume (kept across pods). */
  readonly claims?: Readonly<Record<string, string>>
}

export interface PodRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** What dbhook wrote to the termination log, as `kubectl describe pod` would show it. */
  readonly terminationMessage: string
  /** Peak memory in KiB, when run with `memoryProbe`. */
  readonly memory?: { readonly anonKiB: number; readonly fileKiB: number; readonly totalKiB: number }
  /** The files as mounted: path inside the pod -> octal mode. */
  readonly mountedModes: Record<string, string>
}

const runAsRoot = process.getuid?.() === 0

/**
 * Runs the dbhook container of a rendered Job or Pod the way the kubelet would, without a cluster: every volume's
 * items are written under a temporary root at their mountPath with the rendered mode (group-owned by fsGroup with
 * group read added, as the kubelet does), path variables are rewritten to point under that root, and
 * dist/dbhook.mjs runs with the container's args and exactly its env, as the pod's runAsUser and runAsGroup.
 * Secrets come from `rendered` (the chart's hook Secrets, base64 data) or from `cluster`. The termination log is
 * a file the process can write, as the kubelet provides /dev/termination-log. A PersistentVolumeClaim is the host
 * directory `cluster.claims` names (a symlink at its mountPath; readOnly is not enforced), an emptyDir a fresh
 * directory writable by the pod's user.
 */
export async function runRenderedPod(
  pod: Manifest,
  rendered: readonly Manifest[],
  cluster: ClusterObjects = {},
  options: { memoryProbe?: boolean } = {},
): Promise<PodRun> {
  const spec = podSpecOf(pod)
  const container = spec.containers[0]
  const user: number = container.securityContext?.runAsUser ?? spec.securityContext?.runAsUser
  const group: number = container.securityContext?.runAsGroup ?? spec.securityContext?.runAsGroup
  const fsGroup: number | undefined = spec.securityContext?.fsGroup
  const root = await mkdtemp(join(tmpdir(), 'dbhook-pod-'))
  await chmod(root, 0o755)
  try {
    const mountedModes: Record<string, string> = {}
    for (const mount of container.volumeMounts ?? []) {
      const volume = spec.volumes.find((v: { name: string }) => v.name === mount.name)
      if (volume.persistentVolumeClaim || volume.emptyDir) {
        await mountDirectory(root, mount.mountPath, volume, cluster, { user, group: fsGroup ?? group })
        continue
      }
      const source = volume.secret ? secretData(volume.secret.secretName, rendered, cluster) : cluster.configMaps?.[volume.configMap.name]
      if (!source)
        throw new Error(
          `volume ${volume.name} names ${volume.secret?.secretName ?? volume.configMap?.name}, which the cluster does not hold`,
        )
      const items: { key: string; path: string; mode?: number }[] = (volume.secret ?? volume.configMap).items
      const defaultMode: number = (volume.secret ?? volume.configMap).defaultMode ?? 0o644
      for (const item of items) {
        if (source[item.key] === undefined) throw new Error(`${volume.name}: key ${item.key} is missing`)
        const inPod = `${mount.mountPath}/${item.path}`
        const file = join(root, inPod)
        await mkdirReadable(root, dirname(file))
        await writeFile(file, source[item.key]!)
        let mode = item.mode ?? defaultMode
        if (runAsRoot && fsGroup !== undefined) {
          await chown(file, 0, fsGroup)
          mode |= 0o040
        }
        await chmod(file, mode)
        mountedModes[inPod] = mode.toString(8).padStart(4, '0')
      }
    }

    const env: Record<string, string> = {}
    const mountPaths: string[] = (container.volumeMounts ?? []).map((m: { mountPath: string }) => m.mountPath)
    const inMount = (value: string) =>
      value.startsWith('/var/run/secrets/') || mountPaths.some((p) => value === p || value.startsWith(`${p}/`))
    for (const entry of container.env as { name: string; value: string }[]) {
      env[entry.name] = inMount(entry.value) ? join(root, entry.value) : entry.value
    }
    // The kubelet creates the termination log; dbhook writes it when it exists.
    const terminationLog = join(root, 'dev/termination-log')
    await mkdirReadable(root, dirname(terminationLog))
    await writeFile(terminationLog, '')
    if (runAsRoot) await chown(terminationLog, user, group)
    env.DBHOOK_TERMINATION_LOG = terminationLog
    // The one addition to the rendered environment, and only when asked: it measures, it changes nothing.
    if (options.memoryProbe) env.NODE_OPTIONS = `--import=${join(import.meta.dirname, 'memory-probe.mjs')}`

    const result = await spawnAs(user, group, [process.execPath, dbhookBin, ...(container.command ?? []), ...container.args], env)
    return { ...result, terminationMessage: (await readFile(terminationLog, 'utf8')).trim(), mountedModes }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

function secretData(name: string, rendered: readonly Manifest[], cluster: ClusterObjects): Record<string, string> | undefined {
  const hook = rendered.find((m) => m.kind === 'Secret' && m.metadata.name === name)
  if (hook)
    return Object.fromEntries(Object.entries(hook.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
  return cluster.secrets?.[name]
}

async function mountDirectory(
  root: string,
  mountPath: string,
  volume: { name: string; persistentVolumeClaim?: { claimName: string } },
  cluster: ClusterObjects,
  owner: { user: number; group: number },
): Promise<void> {
  const at = join(root, mountPath)
  await mkdirReadable(root, dirname(at))
  if (volume.persistentVolumeClaim) {
    const hostDir = cluster.claims?.[volume.persistentVolumeClaim.claimName]
    if (!hostDir)
      throw new Error(`volume ${volume.name} names the claim ${volume.persistentVolumeClaim.claimName}, which the cluster does not hold`)
    await symlink(hostDir, at)
  } else {
    await mkdir(at)
    if (runAsRoot) await chown(at, owner.user, owner.group)
    await chmod(at, 0o777)
  }
}

async function mkdirReadable(root: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (let d = dir; d.startsWith(root) && d !== root; d = dirname(d)) await chmod(d, 0o755)
}

/** Runs argv as uid:gid when the tests run as root, as the pod's securityContext would. */
function spawnAs(
  uid: number,
  gid: number,
  argv: string[],
  env: Record<string, string>,
): Promise<Omit<PodRun, 'terminationMessage' | 'mountedModes'>> {
  const [command, ...args] = runAsRoot ? ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', ...argv] : argv
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const probe = /^dbhook-memory-probe (.*)$/m.exec(stderr)
      resolve({
        code,
        stdout,
        stderr: stderr.replace(/^dbhook-memory-probe .*\n?/m, ''),
        memory: probe ? JSON.parse(probe[1]!) : undefined,
      })
    })
  })
}
