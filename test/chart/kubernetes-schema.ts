import { execFile as execFileCallback } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { Manifest } from './helm.ts'

const execFile = promisify(execFileCallback)
const repoRoot = resolve(import.meta.dirname, '../..')

/** kubernetes-models module and interface of each kind the chart renders. */
const models: Record<string, { module: string; type: string }> = {
  'batch/v1 Job': { module: 'kubernetes-models/batch/v1/Job', type: 'IJob' },
  'batch/v1 CronJob': { module: 'kubernetes-models/batch/v1/CronJob', type: 'ICronJob' },
  'v1 PersistentVolumeClaim': { module: 'kubernetes-models/v1/PersistentVolumeClaim', type: 'IPersistentVolumeClaim' },
  'v1 Pod': { module: 'kubernetes-models/v1/Pod', type: 'IPod' },
  'v1 Secret': { module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'v1 ServiceAccount': { module: 'kubernetes-models/v1/ServiceAccount', type: 'IServiceAccount' },
  'rbac.authorization.k8s.io/v1 Role': { module: 'kubernetes-models/rbac.authorization.k8s.io/v1/Role', type: 'IRole' },
  'rbac.authorization.k8s.io/v1 RoleBinding': {
    module: 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding',
    type: 'IRoleBinding',
  },
  'networking.k8s.io/v1 NetworkPolicy': { module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy', type: 'INetworkPolicy' },
}

function modelOf(manifest: Manifest): { module: string; type: string } {
  const model = models[`${manifest.apiVersion} ${manifest.kind}`]
  if (!model) throw new Error(`no Kubernetes schema known for ${manifest.apiVersion} ${manifest.kind} (${manifest.metadata?.name})`)
  return model
}

/**
 * Validates each manifest with the Kubernetes OpenAPI schema compiled into kubernetes-models (types, formats,
 * enums, required fields). Returns one line per problem.
 */
export async function schemaProblems(manifests: readonly Manifest[]): Promise<string[]> {
  const problems: string[] = []
  for (const manifest of manifests) {
    const { module } = modelOf(manifest)
    const exports = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>
    const Model = exports[manifest.kind]!
    try {
      new Model(manifest).validate()
    } catch (error) {
      problems.push(`${manifest.kind}/${manifest.metadata.name}: ${(error as Error).message}`)
    }
  }
  return problems
}

/**
 * The schema validators accept fields Kubernetes does not know (as the API server does, silently dropping them).
 * A misspelt field is a bug in the chart, so each manifest is also type-checked as an object literal of the
 * kubernetes-models interface: TypeScript's excess-property check rejects every unknown field, at any depth.
 * Returns tsc's complaints, one per line.
 */
export async function unknownFieldProblems(sets: Readonly<Record<string, readonly Manifest[]>>): Promise<string[]> {
  await mkdir(join(repoRoot, '.cache'), { recursive: true })
  const dir = await mkdtemp(join(repoRoot, '.cache/chart-fields-'))
  try {
    const imports = new Set<string>()
    const lines: string[] = []
    for (const [setName, manifests] of Object.entries(sets)) {
      for (const manifest of manifests) {
        const { module, type } = modelOf(manifest)
        imports.add(`import type { ${type} } from '${module}'`)
        lines.push(`// ${setName}: ${manifest.kind}/${manifest.metadata.name}`)
        lines.push(`export const m${lines.length}: ${type} = ${JSON.stringify(manifest, null, 2)}`)
      }
    }
    await writeFile(join(dir, 'manifests.ts'), `${[...imports].join('\n')}\n\n${lines.join('\n')}\n`)
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2023',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['manifests.ts'],
      }),
    )
    try {
      await execFile(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', dir], { maxBuffer: 16 * 1024 * 1024 })
      return []
    } catch (error) {
      const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`.trim()
      return output === '' ? [(error as Error).message] : output.split('\n')
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
