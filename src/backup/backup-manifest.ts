/**
 * What a backup holds, recorded beside it when it is taken and compared with what a restore of it holds. The
 * manifest is read in the dump's own snapshot (PostgreSQL) or from the dump itself (MySQL/MariaDB), so the drill
 * never needs the live source: a database written all day still has a manifest that matches its dump exactly.
 */

/** One sequence's position. Sequences are not transactional: `lastValue` is read right after the snapshot. */
export interface SequenceState {
  /** bigint as decimal text: sequences run past Number.MAX_SAFE_INTEGER. */
  readonly lastValue: string
  readonly isCalled: boolean
  /** The step, as decimal text: its sign says in which direction the sequence advances. */
  readonly increment: string
}

/** Tables, objects and sequences of one database. Names are `schema.name` on PostgreSQL, bare on MySQL. */
export interface Inventory {
  /** Exact row count per table. */
  readonly tables: ReadonlyMap<string, number>
  /** Every other object, as `kind name`: `schema app`, `view public.v`, `function public.f(integer)`, `extension pg_trgm`. */
  readonly objects: ReadonlySet<string>
  readonly sequences: ReadonlyMap<string, SequenceState>
}

export interface Manifest {
  readonly database: string
  /** `PostgreSQL 16`, `MariaDB 10.11.6`. */
  readonly server: string
  /** When the snapshot the dump holds was taken (the server's clock): the point a restore goes back to. */
  readonly snapshotAt: Date
  /** How the inventory was taken: in the dump's exported snapshot, or counted from the dump's own statements. */
  readonly method: 'snapshot' | 'dump'
  readonly inventory: Inventory
}

const format = 'dbhook-backup-manifest'
const version = 1

export function serializeManifest(manifest: Manifest): Buffer {
  const { inventory } = manifest
  const document = {
    format,
    version,
    database: manifest.database,
    server: manifest.server,
    snapshotAt: manifest.snapshotAt.toISOString(),
    method: manifest.method,
    tables: [...inventory.tables].sort(([a], [b]) => compareText(a, b)).map(([name, rows]) => ({ name, rows })),
    objects: [...inventory.objects].sort(compareText),
    sequences: [...inventory.sequences].sort(([a], [b]) => compareText(a, b)).map(([name, state]) => ({ name, ...state })),
  }
  return Buffer.from(`${JSON.stringify(document, null, 1)}\n`)
}

/** Parses a manifest, or throws saying what is wrong with it (never trusting a field it did not check). */
export function parseManifest(content: Buffer): Manifest {
  let document: Record<string, unknown>
  try {
    document = JSON.parse(content.toString('utf8')) as Record<string, unknown>
  } catch {
    throw new Error('it is not JSON')
  }
  if (document?.format !== format || document.version !== version) throw new Error(`it is not a ${format} of version ${version}`)
  const text = (value: unknown, what: string): string => {
    if (typeof value !== 'string') throw new Error(`${what} is missing`)
    return value
  }
  const list = (value: unknown, what: string): unknown[] => {
    if (!Array.isArray(value)) throw new Error(`${what} is missing`)
    return value
  }
  const tables = new Map<string, number>()
  for (const entry of list(document.tables, 'tables') as { name?: unknown; rows?: unknown }[]) {
    const rows = entry?.rows
    if (typeof rows !== 'number' || !Number.isSafeInteger(rows) || rows < 0)
      throw new Error(`the row count of table ${JSON.stringify(entry?.name)} is not a count`)
    tables.set(text(entry.name, 'a table name'), rows)
  }
  const objects = new Set(list(document.objects, 'objects').map((o) => text(o, 'an object')))
  const sequences = new Map<string, SequenceState>()
  for (const entry of list(document.sequences, 'sequences') as Record<string, unknown>[]) {
    const lastValue = text(entry?.lastValue, 'a sequence value')
    const increment = text(entry?.increment, 'a sequence increment')
    if (!/^-?\d+$/.test(lastValue) || !/^-?\d+$/.test(increment) || typeof entry?.isCalled !== 'boolean')
      throw new Error(`sequence ${JSON.stringify(entry?.name)} is not a sequence state`)
    sequences.set(text(entry.name, 'a sequence name'), { lastValue, isCalled: entry.isCalled, increment })
  }
  const snapshotAt = new Date(text(document.snapshotAt, 'snapshotAt'))
  if (Number.isNaN(snapshotAt.getTime())) throw new Error('snapshotAt is not a time')
  const method = document.method
  if (method !== 'snapshot' && method !== 'dump') throw new Error('method is missing')
  return {
    database: text(document.database, 'database'),
    server: text(document.server, 'server'),
    snapshotAt,
    method,
    inventory: { tables, objects, sequences },
  }
}

/**
 * Every way `restored` falls short of `manifest`, for a person: missing or unexpected tables and objects, row
 * counts that differ, sequences that are missing or behind the position the snapshot recorded. Empty when the
 * restore holds exactly what the backup recorded.
 */
export function compareWithManifest(manifest: Inventory, restored: Inventory): string[] {
  const differences: string[] = []
  for (const [table, rows] of manifest.tables) {
    const found = restored.tables.get(table)
    if (found === undefined) differences.push(`table ${table} is missing`)
    else if (found !== rows) differences.push(`table ${table} has ${found} rows, the manifest ${rows}`)
  }
  for (const table of restored.tables.keys()) if (!manifest.tables.has(table)) differences.push(`table ${table} is not in the manifest`)
  for (const object of manifest.objects) if (!restored.objects.has(object)) differences.push(`${object} is missing`)
  for (const object of restored.objects) if (!manifest.objects.has(object)) differences.push(`${object} is not in the manifest`)
  for (const [sequence, recorded] of manifest.sequences) {
    const found = restored.sequences.get(sequence)
    if (!found) differences.push(`sequence ${sequence} is missing`)
    else if (isBehind(found, recorded))
      differences.push(`sequence ${sequence} is at ${describe(found)}, behind the ${describe(recorded)} the manifest recorded`)
  }
  for (const sequence of restored.sequences.keys())
    if (!manifest.sequences.has(sequence)) differences.push(`sequence ${sequence} is not in the manifest`)
  return differences
}

/**
 * Whether `found` has not yet reached `recorded`. The manifest reads a sequence just after the snapshot and
 * pg_dump reads it later, so a restored sequence may be further on (values taken by writers meanwhile) but never
 * behind: behind would hand out values the restored rows already use.
 */
function isBehind(found: SequenceState, recorded: SequenceState): boolean {
  const position = (s: SequenceState) => (s.isCalled ? BigInt(s.lastValue) : BigInt(s.lastValue) - BigInt(s.increment))
  return BigInt(recorded.increment) >= 0n ? position(found) < position(recorded) : position(found) > position(recorded)
}

function describe(s: SequenceState): string {
  return s.isCalled ? s.lastValue : `${s.lastValue} (not yet called)`
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Rows in all tables. */
export function totalRows(inventory: Inventory): number {
  let rows = 0
  for (const n of inventory.tables.values()) rows += n
  return rows
}
