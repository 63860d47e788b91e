import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { isMap, isScalar, isSeq, parseDocument, type Pair, type YAMLMap } from 'yaml'

const chartDir = resolve(import.meta.dirname, '../chart')
const begin = '<!-- values:begin (generated from values.yaml by `node scripts/values-doc.ts --write`) -->'
const end = '<!-- values:end -->'

/** One documented value: helm-docs style, a `# --` comment right above the key. */
export interface DocumentedValue {
  readonly key: string
  readonly type: string
  readonly default: unknown
  readonly description: string
}

/**
 * Every value of chart/values.yaml with its `# --` comment. A key with such a comment is documented as a whole
 * (resources, podSecurityContext); a map without one is descended into. A leaf without a comment is reported in
 * `undocumented`.
 */
export function documentedValues(text = readFileSync(join(chartDir, 'values.yaml'), 'utf8')): {
  values: DocumentedValue[]
  undocumented: string[]
} {
  const doc = parseDocument(text)
  const values: DocumentedValue[] = []
  const undocumented: string[] = []
  const walk = (map: YAMLMap, prefix: string) => {
    map.items.forEach((item, index) => {
      const pair = item as Pair<{ value: string; commentBefore?: string | null }, unknown>
      const key = `${prefix}${pair.key.value}`
      // The yaml library hangs the comment above a map's first key on the map itself.
      const comment = pair.key.commentBefore ?? (index === 0 ? map.commentBefore : undefined) ?? ''
      const described = comment
        .split('\n')
        .map((line) => line.trim())
        .find((line) => line.startsWith('-- '))
      if (described) {
        const value = (pair.value as { toJSON(): unknown } | null)?.toJSON() ?? null
        values.push({ key, type: typeOf(pair.value), default: value, description: described.slice(3) })
      } else if (isMap(pair.value)) {
        walk(pair.value, `${key}.`)
      } else {
        undocumented.push(key)
      }
    })
  }
  walk(doc.contents as YAMLMap, '')
  return { values, undocumented }
}

function typeOf(node: unknown): string {
  if (isMap(node)) return 'object'
  if (isSeq(node)) return 'list'
  if (isScalar(node)) {
    if (node.value === null) return 'int or null'
    return typeof node.value === 'number' ? 'int' : typeof node.value === 'boolean' ? 'bool' : 'string'
  }
  return 'string'
}

/** The README table of values, as generated from values.yaml. */
export function valuesTable(values: readonly DocumentedValue[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const rows = values.map((v) => {
    const shown = JSON.stringify(v.default)
    return `| \`${v.key}\` | ${v.type} | \`${cell(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown)}\` | ${cell(v.description)} |`
  })
  return [begin, '| Key | Type | Default | Description |', '|-----|------|---------|-------------|', ...rows, end].join('\n')
}

/** The table currently in chart/README.md, markers included, or undefined. */
export function readmeTable(readme = readFileSync(join(chartDir, 'README.md'), 'utf8')): string | undefined {
  const from = readme.indexOf(begin)
  const to = readme.indexOf(end)
  return from === -1 || to === -1 ? undefined : readme.slice(from, to + end.length)
}

if (process.argv[1] === import.meta.filename && process.argv.includes('--write')) {
  const readmePath = join(chartDir, 'README.md')
  const readme = readFileSync(readmePath, 'utf8')
  const current = readmeTable(readme)
  if (current === undefined) throw new Error(`chart/README.md has no ${begin} ... ${end} block`)
  writeFileSync(readmePath, readme.replace(current, valuesTable(documentedValues().values)))
}
