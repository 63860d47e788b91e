import { DbhookError, ExitCode } from '../errors.ts'
import { connectionKeys, missingKeys, type ConnectionFacts } from './connection-keys.ts'
import { generatePassword } from './generated-password.ts'
import type { SecretStore, StoredSecret } from './secret-store.ts'

/** The facts of a Secret except the password, which the Secret itself decides. */
export type SecretFacts = Omit<ConnectionFacts, 'password'>

type SecretOutcome = 'created' | 'completed' | 'unchanged'

export interface EnsuredSecret {
  readonly password: string
  readonly outcome: SecretOutcome
  /** Keys this run wrote (all of them when it created the Secret). */
  readonly written: readonly string[]
  /** Times another run created or changed the Secret between this run's read and its write (a 409). */
  readonly racesLost: number
}

// Each lost race costs one read; more than a few in a row means something rewrites the Secret in a loop.
const maxAttempts = 8

/**
 * Makes the Secret `name` exist and hold every connection key, and returns the password in it:
 * - absent: a new password, and the Secret created with every key; a 409 means another run was first, so its
 *   Secret is read and used;
 * - present: its password wins, always; keys it lacks are added with a patch conditional on the version read, so
 *   nothing in it is ever overwritten, and a concurrent change makes this run read again.
 */
export async function ensureCredentialsSecret(store: SecretStore, name: string, facts: SecretFacts): Promise<EnsuredSecret> {
  let racesLost = 0
  for (let attempt = 1; attempt <= maxAttempts; attempt++, racesLost++) {
    const existing = await store.read(name)
    if (existing === undefined) {
      const password = generatePassword()
      const data = connectionKeys({ ...facts, password })
      if (await store.create(name, data)) return { password, outcome: 'created', written: Object.keys(data), racesLost }
      continue
    }
    const { password, missing } = completion(store, name, existing, facts)
    const added = Object.keys(missing)
    if (added.length === 0) return { password, outcome: 'unchanged', written: [], racesLost }
    if (await store.addKeys(name, existing.resourceVersion, missing)) return { password, outcome: 'completed', written: added, racesLost }
  }
  throw new DbhookError(
    `Secret ${store.namespace}/${name} changed under every one of ${maxAttempts} attempts to complete it; something else keeps rewriting it`,
    ExitCode.failed,
  )
}

export interface InspectedSecret {
  /** undefined when the Secret does not exist. */
  readonly existing?: StoredSecret
  /** The Secret's password, or one made for this look only (never stored) when it has none. */
  readonly password: string
  /** Keys apply would write: all of them when the Secret is absent. */
  readonly missing: readonly string[]
}

/** What apply would do to the Secret, read only: for plan and verify. */
export async function inspectCredentialsSecret(store: SecretStore, name: string, facts: SecretFacts): Promise<InspectedSecret> {
  const existing = await store.read(name)
  if (existing === undefined) {
    const password = generatePassword()
    return { password, missing: Object.keys(connectionKeys({ ...facts, password })) }
  }
  const { password, missing } = completion(store, name, existing, facts)
  return { existing, password, missing: Object.keys(missing) }
}

/** The password a present Secret decides (its own, or a new one when it has no `password` key) and the keys it lacks. */
function completion(
  store: SecretStore,
  name: string,
  existing: StoredSecret,
  facts: SecretFacts,
): { password: string; missing: Record<string, string> } {
  const holder = existing.data.username
  if (holder !== undefined && holder !== facts.username) {
    throw new DbhookError(
      `Secret ${store.namespace}/${name} holds the credentials of ${JSON.stringify(holder)}, not of ${JSON.stringify(facts.username)}; dbhook never rewrites it: delete it, or name another Secret`,
      ExitCode.failed,
    )
  }
  const stored = existing.data.password
  if (stored === '') {
    throw new DbhookError(
      `Secret ${store.namespace}/${name} has an empty password key; dbhook never rewrites a key: remove it (kubectl patch) to have a password generated`,
      ExitCode.failed,
    )
  }
  const password = stored ?? generatePassword()
  return { password, missing: missingKeys(existing.data, connectionKeys({ ...facts, password })) }
}
