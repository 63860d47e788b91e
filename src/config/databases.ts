import { quoteValue } from './quote.ts'

/** One database the application needs: `key` is the application's name for it (openZro's `flow`), `name` the real one. */
export interface DatabaseSpec {
  readonly key: string
  readonly name: string
}

/**
 * Parses DBHOOK_DATABASES: `name,name`, `key=name,key=name`, or JSON (an array of names, or an object of
 * key -> name) for names that hold commas, equals signs or surrounding spaces. In the comma form each item is
 * trimmed. Throws a message naming what is wrong; the value is not a secret, so it may be quoted.
 */
function parseDatabases(text: string): DatabaseSpec[] {
  const trimmed = text.trim()
  if (trimmed === '') throw new Error('is empty; list at least one database')
  const specs = trimmed.startsWith('[') || trimmed.startsWith('{') ? parseJson(trimmed) : parseList(trimmed)
  const seenNames = new Set<string>()
  const seenKeys = new Set<string>()
  for (const spec of specs) {
    if (seenNames.has(spec.name)) throw new Error(`names database ${JSON.stringify(spec.name)} twice`)
    if (seenKeys.has(spec.key)) throw new Error(`uses the key ${JSON.stringify(spec.key)} twice`)
    seenNames.add(spec.name)
    seenKeys.add(spec.key)
  }
  return specs
}

/**
 * DBHOOK_DATABASES, required, parsed and each name checked with the engine's rule. Problems name the variable and
 * are added to `problems`; a list that does not parse reads as empty.
 */
export function readDatabaseList(
  value: string,
  databaseNameProblem: (name: string) => string | undefined,
  problems: string[],
): DatabaseSpec[] {
  if (value === '') {
    problems.push('DBHOOK_DATABASES is required: a list such as management=openzro,dex=dex')
    return []
  }
  try {
    const databases = parseDatabases(value)
    for (const db of databases) {
      const problem = databaseNameProblem(db.name)
      if (problem) problems.push(`DBHOOK_DATABASES: database ${quoteValue(db.name)} ${problem}`)
    }
    return databases
  } catch (error) {
    problems.push(`DBHOOK_DATABASES ${(error as Error).message}`)
    return []
  }
}

function parseList(text: string): DatabaseSpec[] {
  return text.split(',').map((item, index) => {
    const part = item.trim()
    if (part === '') throw new Error(`has an empty item at position ${index + 1}`)
    const eq = part.indexOf('=')
    if (eq === -1) return { key: part, name: part }
    const key = part.slice(0, eq).trim()
    const name = part.slice(eq + 1).trim()
    if (key === '' || name === '') throw new Error(`item ${JSON.stringify(part)} must be key=name`)
    return { key, name }
  })
}

function parseJson(text: string): DatabaseSpec[] {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new Error('looks like JSON but does not parse')
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error('is an empty JSON array; list at least one database')
    return value.map((name, index) => {
      if (typeof name !== 'string') throw new Error(`item ${index + 1} of the JSON array is not a string`)
      return { key: name, name }
    })
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) throw new Error('is an empty JSON object; list at least one database')
    return entries.map(([key, name]) => {
      if (typeof name !== 'string') throw new Error(`the JSON value for key ${JSON.stringify(key)} is not a string`)
      return { key, name }
    })
  }
  throw new Error('must be a JSON array or object when it is JSON')
}
