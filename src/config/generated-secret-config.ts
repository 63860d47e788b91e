import { str } from 'envalid'

/**
 * DBHOOK_OWNER_GENERATED_SECRET and DBHOOK_APP_GENERATED_SECRET: the Kubernetes Secret (in the pod's own
 * namespace) that keeps a password dbhook generated for the owner or the app role, with connection keys beside it
 * (docs/kubernetes-secrets.md). Kept apart from load-config.ts so that the feature reads as one piece.
 */
export const generatedSecretVariables = {
  DBHOOK_OWNER_GENERATED_SECRET: str({ default: '' }),
  DBHOOK_APP_GENERATED_SECRET: str({ default: '' }),
} as const

/** The Secret names; a role without one has its password given (or none). */
export interface GeneratedSecrets {
  readonly owner?: string
  readonly app?: string
}

// A Secret's name is a DNS subdomain (RFC 1123): the API server refuses anything else.
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

export interface GeneratedSecretInput {
  readonly ownerSecret: string
  readonly appSecret: string
  readonly ownerPasswordGiven: boolean
  readonly appPasswordGiven: boolean
  readonly ownerIsAdmin: boolean
  readonly appUser: string
}

/** Reads the two variables; returns the settings and every problem, each naming the variable. Values are names, not secrets. */
export function readGeneratedSecrets(input: GeneratedSecretInput): { settings: GeneratedSecrets; problems: string[] } {
  const problems: string[] = []
  const owner = input.ownerSecret.trim()
  const app = input.appSecret.trim()
  for (const [variable, name] of [
    ['DBHOOK_OWNER_GENERATED_SECRET', owner],
    ['DBHOOK_APP_GENERATED_SECRET', app],
  ] as const) {
    if (name !== '' && (name.length > 253 || !dnsSubdomain.test(name))) {
      problems.push(
        `${variable} ${JSON.stringify(name.slice(0, 80))} is not a Kubernetes Secret name (lower-case letters, digits, - and ., at most 253)`,
      )
    }
  }
  if (owner !== '') {
    if (input.ownerPasswordGiven)
      problems.push(
        "DBHOOK_OWNER_GENERATED_SECRET and DBHOOK_OWNER_PASSWORD are both set: the owner's password is either given or generated",
      )
    if (input.ownerIsAdmin)
      problems.push(
        'DBHOOK_OWNER_GENERATED_SECRET is set but the owner is the admin dbhook logs in as, whose password must be given: set DBHOOK_ADMIN_USER to a provisioning user with CREATEROLE',
      )
  }
  if (app !== '') {
    if (input.appUser === '') problems.push('DBHOOK_APP_GENERATED_SECRET is set but DBHOOK_APP_USER is not')
    else if (input.appPasswordGiven)
      problems.push(
        "DBHOOK_APP_GENERATED_SECRET and DBHOOK_APP_PASSWORD are both set: the app role's password is either given or generated",
      )
  }
  if (owner !== '' && owner === app)
    problems.push('DBHOOK_OWNER_GENERATED_SECRET and DBHOOK_APP_GENERATED_SECRET name the same Secret: each role keeps its own')
  return { settings: { ...(owner ? { owner } : {}), ...(app ? { app } : {}) }, problems }
}
