import type { Config, RoleSpec } from '../config/config.ts'
import type { RunContext } from '../engines/engine.ts'
import { DbhookError, ExitCode } from '../errors.ts'
import type { SecretFacts } from './credentials-secret.ts'
import type { SecretStore } from './secret-store.ts'

/**
 * The bridge between the commands and generated passwords (DBHOOK_OWNER_GENERATED_SECRET,
 * DBHOOK_APP_GENERATED_SECRET). With neither set every function here returns at once and the Kubernetes client is
 * never loaded, so the runs that do not generate keep their startup time and memory.
 */

type Kind = 'owner' | 'app'

const variables: Record<Kind, string> = { owner: 'DBHOOK_OWNER_GENERATED_SECRET', app: 'DBHOOK_APP_GENERATED_SECRET' }

interface Generated {
  readonly kind: Kind
  readonly role: RoleSpec
  readonly secret: string
}

function generatedRoles(config: Config, kinds: readonly Kind[]): Generated[] {
  const out: Generated[] = []
  for (const kind of kinds) {
    const secret = config.generatedSecrets[kind]
    const role = kind === 'owner' ? config.owner : config.app
    if (secret && role) out.push({ kind, role, secret })
  }
  return out
}

function factsOf(config: Config, role: RoleSpec): SecretFacts {
  return {
    engine: config.engine,
    host: config.host,
    port: config.port,
    sslMode: config.tls.mode,
    username: role.name,
    databases: config.databases,
  }
}

async function openStore(context: RunContext, roles: readonly Generated[]): Promise<SecretStore> {
  const { kubernetesSecretStore } = await import('./kubernetes-secret-store.ts')
  return kubernetesSecretStore(context, roles.map((r) => variables[r.kind]).join(' and '))
}

/** The context with each generated role's password filled in. */
function withPasswords(context: RunContext, passwords: ReadonlyMap<Kind, string>): RunContext {
  const { config } = context
  const owner = passwords.get('owner')
  const app = passwords.get('app')
  return {
    ...context,
    config: {
      ...config,
      owner: owner === undefined ? config.owner : { ...config.owner, password: owner },
      app: app === undefined || config.app === undefined ? config.app : { ...config.app, password: app },
    },
  }
}

/** Warnings about keys the Secret holds in a form some client cannot use, said once per run. */
async function warnAboutUris(context: RunContext): Promise<void> {
  const { namesNodePostgresMisreads, unusableUriKeys } = await import('./connection-keys.ts')
  const { config, log } = context
  for (const key of unusableUriKeys(config.databases))
    log.warn(`database key ${JSON.stringify(key)} cannot name a Secret key (letters, digits, -, _ and .): no uri-${key} is written`)
  if (config.engine === 'postgres') {
    for (const db of namesNodePostgresMisreads(config.databases)) {
      log.warn(
        `uri-${db.key}: node-postgres misreads a database name holding / ? or # in a URI (libpq and pgx read it); such an application should use the host, port and database name instead`,
      )
    }
  }
}

/**
 * apply: makes each generated role's Secret exist and be complete, and runs with the password it holds (a new
 * one only when this run created the Secret or it had none).
 */
export async function applyGeneratedCredentials(context: RunContext): Promise<RunContext> {
  const roles = generatedRoles(context.config, ['owner', 'app'])
  if (roles.length === 0) return context
  const { ensureCredentialsSecret } = await import('./credentials-secret.ts')
  const store = await openStore(context, roles)
  await warnAboutUris(context)
  const passwords = new Map<Kind, string>()
  for (const { kind, role, secret } of roles) {
    const ensured = await ensureCredentialsSecret(store, secret, factsOf(context.config, role))
    context.addSecret(ensured.password)
    passwords.set(kind, ensured.password)
    const qualified = `${store.namespace}/${secret}`
    const where = `Secret ${qualified}`
    if (ensured.racesLost > 0)
      context.log.info(
        { secret: qualified },
        `${where} was created meanwhile or changed by another run (${ensured.racesLost}× 409 Conflict); read again`,
      )
    if (ensured.outcome === 'created') {
      context.log.info(
        { secret: qualified, keys: ensured.written },
        `generated a password for the ${kind} role ${JSON.stringify(role.name)} and created ${where}`,
      )
    } else if (ensured.outcome === 'completed') {
      context.log.info(
        { secret: qualified, keys: ensured.written },
        `added ${ensured.written.join(', ')} to ${where}; its other keys are kept as they are`,
      )
    } else {
      context.log.info({ secret: qualified }, `the password of the ${kind} role ${JSON.stringify(role.name)} comes from ${where}`)
    }
  }
  return withPasswords(context, passwords)
}

/**
 * plan: reads each Secret and says what apply would write, creating nothing. The plan then runs with the Secret's
 * password, or with one made for this look only when there is none yet (so that it shows the role being created,
 * or its password being set, as apply would).
 */
export async function planGeneratedCredentials(context: RunContext): Promise<{ context: RunContext; pending: readonly string[] }> {
  const roles = generatedRoles(context.config, ['owner', 'app'])
  if (roles.length === 0) return { context, pending: [] }
  const { inspectCredentialsSecret } = await import('./credentials-secret.ts')
  const store = await openStore(context, roles)
  await warnAboutUris(context)
  const passwords = new Map<Kind, string>()
  const pending: string[] = []
  for (const { kind, role, secret } of roles) {
    const seen = await inspectCredentialsSecret(store, secret, factsOf(context.config, role))
    context.addSecret(seen.password)
    passwords.set(kind, seen.password)
    const qualified = `${store.namespace}/${secret}`
    const where = `Secret ${qualified}`
    if (seen.existing === undefined) {
      pending.push(
        `generate a password for the ${kind} role ${JSON.stringify(role.name)} and create ${where} with ${seen.missing.join(', ')}`,
      )
    } else if (seen.missing.length > 0) {
      pending.push(`add ${seen.missing.join(', ')} to ${where}`)
    } else {
      context.log.info({ secret: qualified }, `plan: the password of the ${kind} role ${JSON.stringify(role.name)} comes from ${where}`)
    }
  }
  for (const step of pending) context.log.info({ step: 'secret' }, `plan: ${step}`)
  return { context: withPasswords(context, passwords), pending }
}

/** verify: logs in as the owner with the password its Secret holds; a Secret not there yet is the problem reported. */
export async function verifyGeneratedCredentials(context: RunContext): Promise<RunContext> {
  const roles = generatedRoles(context.config, ['owner'])
  if (roles.length === 0) return context
  const { inspectCredentialsSecret } = await import('./credentials-secret.ts')
  const store = await openStore(context, roles)
  const passwords = new Map<Kind, string>()
  for (const { kind, role, secret } of roles) {
    const seen = await inspectCredentialsSecret(store, secret, factsOf(context.config, role))
    const qualified = `${store.namespace}/${secret}`
    const where = `Secret ${qualified}`
    if (seen.existing === undefined || seen.existing.data.password === undefined) {
      throw new DbhookError(
        `${where}, which keeps the password of ${JSON.stringify(role.name)}, ${seen.existing ? 'has no password key' : 'does not exist'}: dbhook apply with ${variables[kind]} makes it`,
        ExitCode.failed,
      )
    }
    context.addSecret(seen.password)
    passwords.set(kind, seen.password)
  }
  return withPasswords(context, passwords)
}
