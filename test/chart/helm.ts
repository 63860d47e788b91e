import { execFile as execFileCallback, spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { copyFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { parseAllDocuments } from 'yaml'

const execFile = promisify(execFileCallback)

export const chartDir = resolve(import.meta.dirname, '../../chart')
export const ciValuesDir = join(chartDir, 'ci')
/** The version .ci/setup.d/40-helm.sh installs. */
export const helmVersion = 'v3.22.0'

/** A rendered Kubernetes object, loosely typed: tests read it as a user reads `helm template` output. */
export type Manifest = {
  apiVersion: string
  kind: string
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> }
  [key: string]: any
}

let cachedHelm: string | undefined

/**
 * The helm binary: on PATH, or where .ci/setup.d/40-helm.sh puts it. Throws (never skips) when it is missing, so
 * a machine without helm fails the chart tests loudly.
 */
export function helmBinary(): string {
  if (cachedHelm) return cachedHelm
  const tools = process.env.DBHOOK_TOOLS ?? '/var/tmp/dbhook-tools'
  const candidates = [
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'helm')),
    join(tools, 'go/bin/helm'),
  ]
  const found = candidates.find((path) => existsSync(path))
  if (!found) {
    throw new Error(
      `helm is not installed (looked on PATH and in ${tools}/go/bin): run "source .ci/setup.d/40-helm.sh", which builds helm ${helmVersion} with go install`,
    )
  }
  const version = spawnSync(found, ['version', '--template', '{{.Version}}'], { encoding: 'utf8' }).stdout.trim()
  if (version !== helmVersion)
    throw new Error(`${found} is helm ${version || '(unknown)'}, the tests expect ${helmVersion}: run "source .ci/setup.d/40-helm.sh"`)
  cachedHelm = found
  return found
}

export interface HelmResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs helm with an isolated home (no repositories, no plugins, no kube config), collecting its output. */
export async function helm(args: string[]): Promise<HelmResult> {
  const home = await mkdtemp(join(tmpdir(), 'dbhook-helm-'))
  try {
    const { stdout, stderr } = await execFile(helmBinary(), args, {
      maxBuffer: 16 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
        KUBECONFIG: join(home, 'no-kubeconfig'),
      },
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string }
    if (typeof failure.code !== 'number') throw error
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' }
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}

/** Values for one helm run: objects are written to temporary files, strings are paths of values files. */
export type ValuesInput = ReadonlyArray<Record<string, unknown> | string>

async function valuesArgs(values: ValuesInput, dir: string): Promise<string[]> {
  const args: string[] = []
  for (const [index, item] of values.entries()) {
    if (typeof item === 'string') {
      args.push('-f', item)
    } else {
      const file = join(dir, `values-${index}.json`)
      await writeFile(file, JSON.stringify(item))
      args.push('-f', file)
    }
  }
  return args
}

export interface Rendered extends HelmResult {
  readonly manifests: Manifest[]
  /** NOTES.txt as rendered for the same values. */
  readonly notes: string
}

let probeChart: Promise<string> | undefined

/**
 * A copy of the chart that also renders NOTES.txt as a ConfigMap: `helm template` leaves NOTES out, and
 * `helm install --dry-run=client` of helm 3.22 still wants a reachable cluster.
 */
function chartWithNotesProbe(): Promise<string> {
  probeChart ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbhook-chart-'))
    await cp(chartDir, join(dir, 'dbhook'), { recursive: true })
    await copyFile(join(chartDir, 'templates/NOTES.txt'), join(dir, 'dbhook/NOTES.probe.txt'))
    await writeFile(
      join(dir, 'dbhook/templates/zz-notes-probe.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-probe\ndata:\n  notes: {{ tpl (.Files.Get "NOTES.probe.txt") . | quote }}\n',
    )
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    return join(dir, 'dbhook')
  })()
  return probeChart
}

/**
 * `helm template` with hooks and tests, and NOTES.txt rendered for the same values. The release is named
 * `openzro` in namespace `apps` unless told otherwise.
 */
export async function render(values: ValuesInput, options: { release?: string; namespace?: string } = {}): Promise<Rendered> {
  const dir = await mkdtemp(join(tmpdir(), 'dbhook-values-'))
  try {
    const result = await helm([
      'template',
      options.release ?? 'openzro',
      await chartWithNotesProbe(),
      '--namespace',
      options.namespace ?? 'apps',
      ...(await valuesArgs(values, dir)),
    ])
    if (result.code !== 0) return { ...result, manifests: [], notes: '' }
    const all = parseManifests(result.stdout)
    const probe = all.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'notes-probe')
    return { ...result, manifests: all.filter((m) => m !== probe), notes: String(probe?.data?.notes ?? '').trim() }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function lint(values: ValuesInput): Promise<HelmResult> {
  const dir = await mkdtemp(join(tmpdir(), 'dbhook-values-'))
  try {
    return await helm(['lint', '--strict', chartDir, ...(await valuesArgs(values, dir))])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The YAML documents of `helm template` output. */
function parseManifests(stdout: string): Manifest[] {
  return parseAllDocuments(stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`)
      return doc.toJS() as Manifest | null
    })
    .filter((doc): doc is Manifest => doc !== null && typeof doc === 'object')
}

export function byKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind)
}

/** The one object of `kind` whose component label is `component`; throws when there is not exactly one. */
export function only(manifests: readonly Manifest[], kind: string, component?: string): Manifest {
  const found = manifests.filter(
    (m) => m.kind === kind && (component === undefined || m.metadata.labels?.['app.kubernetes.io/component'] === component),
  )
  if (found.length !== 1)
    throw new Error(
      `expected one ${kind}${component ? ` (${component})` : ''}, found ${found.length}: ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`,
    )
  return found[0]!
}

/** The pod spec of a CronJob, a Job or a Pod. */
export function podSpecOf(manifest: Manifest): Manifest['spec'] {
  if (manifest.kind === 'CronJob') return manifest.spec.jobTemplate.spec.template.spec
  return manifest.kind === 'Job' ? manifest.spec.template.spec : manifest.spec
}

/** The env of the dbhook container as name -> value; a valueFrom entry maps to the string "valueFrom". */
export function envOf(manifest: Manifest): Record<string, string> {
  const container = podSpecOf(manifest).containers[0]
  return Object.fromEntries((container.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value ?? 'valueFrom']))
}

/** Files from the ci/ values matrix. */
export function ciValues(name: string): string {
  return join(ciValuesDir, name)
}
