import { runBounded } from '../../concurrency.ts'
import type { DatabaseSpec } from '../../config/databases.ts'
import type { DesiredState, ObservedDatabase, ObservedRole, ObservedState } from '../../plan.ts'
import { isReady, type SpannerAdmin, type SpannerDatabase } from './spanner-client.ts'

/**
 * A database's dialect as the admin API reported it, or as the database itself answers when the API leaves it
 * out (the emulator does; real Spanner always reports it, so this costs no query there).
 */
export async function dialectOf(admin: SpannerAdmin, database: SpannerDatabase): Promise<'POSTGRESQL' | 'GOOGLE_STANDARD_SQL'> {
  return database.dialect === 'unreported' ? admin.probeDialect(database.id) : database.dialect
}

/** The problem a database of the GoogleSQL dialect is for an application that speaks PostgreSQL. */
export function wrongDialect(db: DatabaseSpec, path: string): string {
  return `${db.key}: database ${JSON.stringify(db.name)} exists in ${path} with the GoogleSQL dialect, and Spanner cannot change a database's dialect: delete it if it holds nothing (gcloud spanner databases delete ${db.name}) or name another database in DBHOOK_DATABASES`
}

export interface SpannerInspection {
  readonly observed: ObservedState
  readonly problems: readonly string[]
}

/**
 * Compares the instance's databases (one list call) with the desired ones. A database still CREATING counts as
 * missing: apply then meets ALREADY_EXISTS and waits until it is READY, so that the application never starts
 * against a database that cannot serve it yet. Spanner has no roles dbhook manages, so every role is "there".
 */
export async function inspectSpanner(
  admin: SpannerAdmin,
  desired: DesiredState,
  listed: readonly SpannerDatabase[],
  parallel: number,
): Promise<SpannerInspection> {
  const byId = new Map(listed.map((db) => [db.id, db]))
  const roles = new Map<string, ObservedRole>(desired.roles.map((role) => [role.name, {}]))
  const existing = desired.databases.flatMap((db) => {
    const found = byId.get(db.name)
    return found && isReady(found.state) ? [{ db, found }] : []
  })
  const dialects = await runBounded(existing, parallel, ({ found }) => dialectOf(admin, found))
  const databases = new Map<string, ObservedDatabase>()
  const problems: string[] = []
  existing.forEach(({ db }, index) => {
    if (dialects[index] === 'GOOGLE_STANDARD_SQL') problems.push(wrongDialect(db, admin.path))
    else databases.set(db.name, { owner: null, present: new Set() })
  })
  return { observed: { roles, databases }, problems }
}
