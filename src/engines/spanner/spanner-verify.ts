import { runBounded } from '../../concurrency.ts'
import type { RunContext } from '../engine.ts'
import { isReady, SpannerAdmin } from './spanner-client.ts'
import { dialectOf } from './spanner-inspect.ts'

/**
 * Checks, with one list call, that every listed database exists, is READY and has the PostgreSQL dialect.
 * Returns every problem, not the first. What the application may do in it is IAM's, which dbhook does not read.
 */
export async function verifySpanner(context: RunContext): Promise<readonly string[]> {
  const admin = await SpannerAdmin.open(context)
  try {
    const listed = new Map((await admin.listDatabases()).map((db) => [db.id, db]))
    const found = await runBounded(context.config.databases, context.config.parallel, async (db): Promise<string | undefined> => {
      const database = listed.get(db.name)
      if (!database) return `${db.key}: database ${JSON.stringify(db.name)} does not exist in ${admin.path}`
      if (!isReady(database.state)) return `${db.key}: database ${JSON.stringify(db.name)} is ${database.state}, not READY`
      if ((await dialectOf(admin, database)) !== 'POSTGRESQL')
        return `${db.key}: database ${JSON.stringify(db.name)} has the GoogleSQL dialect, not PostgreSQL`
      return undefined
    })
    return found.filter((problem) => problem !== undefined)
  } finally {
    await admin.close()
  }
}
