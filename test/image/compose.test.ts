// docker/compose.yaml against the Compose Specification's JSON schema (vendored, see compose-spec.schema.md),
// and the start order it promises: db healthy -> dbhook exits 0 -> app.
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { beforeAll, describe, expect, test } from 'vitest'
import { parse } from 'yaml'
import { helpText } from '../../src/help.ts'

const repoRoot = resolve(import.meta.dirname, '../..')

interface ComposeService {
  image?: string
  build?: { context: string; dockerfile: string }
  environment?: Record<string, string>
  secrets?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  read_only?: boolean
  user?: string
  command?: string[]
}
interface ComposeFile {
  services: { db: ComposeService; dbhook: ComposeService; app: ComposeService }
  secrets: Record<string, { file: string }>
}

/**
 * This schema revision labels its parts with draft-4 `id` strings ("#/definitions/service"), which draft 2019-09
 * replaced by `$id` and Ajv refuses. Every `$ref` in it is a plain JSON pointer, so the labels can go.
 */
function withoutDraft4Ids(node: unknown, inPropertyMap = false): unknown {
  if (Array.isArray(node)) return node.map((item) => withoutDraft4Ids(item))
  if (typeof node !== 'object' || node === null) return node
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => inPropertyMap || key !== 'id' || typeof value !== 'string')
      .map(([key, value]) => [
        key,
        withoutDraft4Ids(value, !inPropertyMap && (key === 'properties' || key === 'patternProperties' || key === 'definitions')),
      ]),
  )
}

/** A validator for the vendored schema, with its custom formats checked as Compose reads them. */
async function composeValidator() {
  const schema = withoutDraft4Ids(JSON.parse(await readFile(join(import.meta.dirname, 'compose-spec.schema.json'), 'utf8')))
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false })
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/)
  ajv.addFormat('ports', /^((\[?[0-9a-fA-F:.]*\]?:)?[0-9]+(-[0-9]+)?:)?[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/)
  ajv.addFormat('expose', /^[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/)
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/[0-9]+$/)
  return ajv.compile(schema as object)
}

describe('docker/compose.yaml', () => {
  let compose: ComposeFile
  let validate: Awaited<ReturnType<typeof composeValidator>>

  beforeAll(async () => {
    compose = parse(await readFile(join(repoRoot, 'docker/compose.yaml'), 'utf8')) as ComposeFile
    validate = await composeValidator()
  })

  test('is valid against the Compose Specification schema', () => {
    const valid = validate(compose)
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([])
    expect(valid).toBe(true)
  })

  test('the schema check rejects a misspelt condition and an unknown service key', () => {
    const misspelt = structuredClone(compose)
    misspelt.services.dbhook.depends_on = { db: { condition: 'service_healthly' } }
    expect(validate(misspelt)).toBe(false)
    const unknownKey = structuredClone(compose) as unknown as { services: { dbhook: Record<string, unknown> } }
    unknownKey.services.dbhook.readonly = true
    expect(validate(unknownKey)).toBe(false)
  })

  test('dbhook waits for a healthy db, and the app for dbhook to exit 0', () => {
    expect(compose.services.db.healthcheck?.test.length).toBeGreaterThan(0)
    expect(compose.services.dbhook.depends_on).toEqual({ db: { condition: 'service_healthy' } })
    expect(compose.services.app.depends_on).toEqual({ dbhook: { condition: 'service_completed_successfully' } })
  })

  test('dbhook is built from docker/Dockerfile and runs read-only as 65532', () => {
    const dbhook = compose.services.dbhook
    expect(dbhook.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' })
    expect(dbhook.read_only).toBe(true)
    expect(dbhook.user).toBe('65532:65532')
    expect(dbhook.command).toEqual(['apply'])
  })

  test('dbhook gets passwords only as secret files, through variables it knows', () => {
    const environment = compose.services.dbhook.environment ?? {}
    const known = new Set(helpText('0').match(/\bDBHOOK_[A-Z_]+\b/g))
    for (const [name, value] of Object.entries(environment)) {
      const base = name.replace(/_FILE$/, '')
      expect(known, name).toContain(base)
      if (/PASSWORD/.test(name)) {
        expect(name).toMatch(/_PASSWORD_FILE$/)
        const secret = value.replace(/^\/run\/secrets\//, '')
        expect(compose.services.dbhook.secrets).toContain(secret)
        expect(compose.secrets[secret]?.file).toMatch(/^\.\/secrets\//)
      }
    }
    expect(compose.services.db.environment?.POSTGRES_PASSWORD_FILE).toBe(environment.DBHOOK_ADMIN_PASSWORD_FILE)
  })
})
