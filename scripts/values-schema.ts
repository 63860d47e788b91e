import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

// The source of chart/values.schema.json (JSON Schema draft 7, as Helm 3 reads it). Edit here, then run
// `node scripts/values-schema.ts --write`; chart-render.test.ts fails while the two differ.

export const valuesSchemaPath = join(resolve(import.meta.dirname, '../chart'), 'values.schema.json')

const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...extra,
})
const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra })
const bool = (description: string) => ({ type: 'boolean', description })
const int = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'integer', description, ...extra })
const k8sName = { pattern: '^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 }
const port = (def: number) => int(`TCP port of the server, 1-65535 (default ${def}).`, { minimum: 1, maximum: 65535 })
const duration = (d: string) => ({ type: ['string', 'integer'], description: d, pattern: '^[0-9]+(ms|s|m|h)?$', minimum: 1 })
const credentials = (what: string) => ({
  password: str(`${what} password, put in a hook Secret.`),
  existingSecret: str(`Existing Secret holding the ${what} password.`, k8sName),
  existingSecretKey: str('Key of the password in existingSecret.', { minLength: 1 }),
})
const databases = {
  type: 'object',
  description: 'Databases to create: application key -> database name; an empty name leaves the key out.',
  additionalProperties: { type: ['string', 'null'] },
  propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
}
const keyRef = (what: string) => obj({ name: str(`${what} name.`, k8sName), key: str('Key in it.', { minLength: 1 }) })
const certs = obj({
  caSecret: keyRef('Secret holding the server CA'),
  caConfigMap: keyRef('ConfigMap holding the server CA'),
  clientCertSecret: obj({
    name: str('Secret holding a client certificate and key.', k8sName),
    certKey: str('Key of the certificate.', { minLength: 1 }),
    keyKey: str('Key of the private key.', { minLength: 1 }),
  }),
})
const provisioning = (what: string) =>
  obj({
    enabled: bool('true: dbhook apply; false: dbhook verify.'),
    username: str(`${what} provisioning user; empty: the runtime user.`),
    ...credentials('provisioning user'),
  })
const appUser = obj({ username: str('Data-only user; empty: none.'), ...credentials('app user') })
const generatedSecret = obj({
  enabled: bool('Generate the passwords of users that have none, kept in Secrets the hook creates.'),
  name: str("The runtime user's Secret; empty: <release>-<engine>-credentials.", k8sName),
  appName: str("The app user's Secret; empty: <release>-<engine>-app-credentials.", k8sName),
})
const labelSelector = obj(
  {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: {
      type: 'array',
      items: obj(
        {
          key: str('Label key.', { minLength: 1 }),
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
        { required: ['key', 'operator'] },
      ),
    },
  },
  { description: 'A Kubernetes LabelSelector.' },
)
const cidrs = (description: string) => ({
  type: 'array',
  description,
  items: { type: 'string', pattern: '^[0-9A-Fa-f:.]+/[0-9]{1,3}$' },
  uniqueItems: true,
})
const common = (def: number) => ({
  enabled: bool('Provision databases on this engine.'),
  host: str('Host name or IP address of the server.'),
  port: port(def),
  username: str('Runtime user that owns the databases.'),
  ...credentials('runtime user'),
  databases,
  provisioning: provisioning(''),
  appUser,
  generatedSecret,
})
const quantities = { type: 'object', additionalProperties: { type: ['string', 'number'] } }
const resources = obj(
  {
    requests: quantities,
    limits: quantities,
    claims: { type: 'array', items: obj({ name: str('Claim name.'), request: str('Request name.') }, { required: ['name'] }) },
  },
  { description: 'Container resources (Kubernetes ResourceRequirements).' },
)
// Five fields of characters a cron field may hold (the controller checks the rest), or a macro Kubernetes knows.
const cronSchedule = (description: string) =>
  str(description, {
    pattern: '^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9*,/?LW#A-Za-z-]+( +[0-9*,/?LW#A-Za-z-]+){4})$',
  })
const seccompProfile = obj(
  { type: { type: 'string', enum: ['Localhost', 'RuntimeDefault', 'Unconfined'] }, localhostProfile: str('Profile file.') },
  { required: ['type'] },
)
/** chart/values.schema.json: every value typed, unknown keys refused at every level. */
export const valuesSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'dbhook chart values',
  ...obj({
    postgres: obj({
      ...common(5432),
      sslMode: {
        type: 'string',
        description: 'libpq sslmode.',
        enum: ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'],
      },
      adminDatabase: str('Database the provisioning and verify connections open first.', { minLength: 1 }),
      extensions: {
        type: 'array',
        description: 'Extensions created in every database.',
        items: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,63}$' },
        uniqueItems: true,
      },
      eventTrigger: {
        enum: ['auto', 'on', 'off', true, false],
        description: 'The permission event trigger; a YAML boolean reads as on/off.',
      },
      tls: certs,
    }),
    mysql: obj({
      ...common(3306),
      tls: { description: 'TLS in the Go MySQL driver words.', enum: [true, false, 'true', 'false', 'preferred', 'skip-verify'] },
      charset: str('Character set of new databases.', { pattern: '^[A-Za-z0-9_]+$' }),
      collation: str('Collation of new databases; empty: the default.', { pattern: '^[A-Za-z0-9_]*$' }),
      userHost: str('Host part of created users.', { minLength: 1 }),
      requireSsl: bool('Create users with REQUIRE SSL.'),
      certificates: certs,
    }),
    spanner: obj({
      enabled: bool('Provision Cloud Spanner databases with the PostgreSQL dialect.'),
      project: str('Google Cloud project id of the instance.', {
        pattern: '^$|^([a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$',
      }),
      instance: str('Spanner instance id.', { pattern: '^$|^[a-z][a-z0-9-]{0,62}[a-z0-9]$' }),
      databases: {
        ...databases,
        description: 'Databases to create: application key -> Spanner database id; an empty name leaves the key out.',
        additionalProperties: { type: ['string', 'null'], pattern: '^$|^[a-z][a-z0-9_-]{0,28}[a-z0-9]$' },
      },
      provisioning: obj({ enabled: bool('true: dbhook apply; false: dbhook verify.') }),
      emulatorHost: str('host:port of a Cloud Spanner emulator; empty: Google.', { pattern: '^$|^[^:/\\s]+:[0-9]{1,5}$' }),
      image: obj({
        repository: str('Image repository; empty: image.repository.'),
        tag: str('Image tag; empty: the appVersion plus -spanner. Quote numeric tags.'),
        digest: str('Image digest.', { pattern: '^$|^sha256:[a-f0-9]{64}$' }),
      }),
      resources,
    }),
    waitTimeout: duration('How long dbhook waits for the server (seconds or 90s, 5m).'),
    connectTimeout: duration('Deadline of one connection attempt.'),
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    logFormat: { type: 'string', enum: ['json', 'pretty'] },
    image: obj({
      repository: str('Image repository.', { minLength: 1 }),
      tag: str('Image tag; empty: the appVersion. Quote numeric tags.'),
      digest: str('Image digest.', { pattern: '^$|^sha256:[a-f0-9]{64}$' }),
      pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'] },
    }),
    imagePullSecrets: { type: 'array', items: obj({ name: str('Secret name.', { minLength: 1 }) }, { required: ['name'] }) },
    nameOverride: str('Replaces the chart name.'),
    fullnameOverride: str('Replaces the full name.'),
    hook: obj({
      events: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: { type: 'string', enum: ['pre-install', 'pre-upgrade', 'pre-rollback', 'post-install', 'post-upgrade'] },
      },
      weight: int('Hook weight of the Job.', { minimum: -1000, maximum: 1000 }),
      deletePolicy: str('Helm delete policy of the Job.', {
        pattern: '^(before-hook-creation|hook-succeeded|hook-failed)(,(before-hook-creation|hook-succeeded|hook-failed))*$',
      }),
      resourceDeletePolicy: str('Helm delete policy of the hook Secrets and ServiceAccount.', {
        pattern: '^(before-hook-creation|hook-succeeded|hook-failed)(,(before-hook-creation|hook-succeeded|hook-failed))*$',
      }),
      activeDeadlineSeconds: int('Deadline of the Job in seconds.', { minimum: 1 }),
      backoffLimit: int('Retries of a failed pod.', { minimum: 0 }),
      ttlSecondsAfterFinished: { type: ['integer', 'null'], minimum: 0 },
    }),
    resources,
    podSecurityContext: obj(
      {
        appArmorProfile: { type: 'object' },
        fsGroup: int('Group of mounted volumes.'),
        fsGroupChangePolicy: { type: 'string', enum: ['Always', 'OnRootMismatch'] },
        runAsGroup: int('GID.'),
        runAsNonRoot: bool('Refuse to run as root.'),
        runAsUser: int('UID.'),
        seLinuxChangePolicy: str('SELinux relabel policy.'),
        seLinuxOptions: { type: 'object' },
        seccompProfile,
        supplementalGroups: { type: 'array', items: { type: 'integer' } },
        supplementalGroupsPolicy: { type: 'string', enum: ['Merge', 'Strict'] },
        sysctls: { type: 'array', items: obj({ name: str('Sysctl.'), value: str('Value.') }, { required: ['name', 'value'] }) },
        windowsOptions: { type: 'object' },
      },
      { description: 'Pod security context (Kubernetes PodSecurityContext).' },
    ),
    securityContext: obj(
      {
        allowPrivilegeEscalation: bool('Allow privilege escalation.'),
        appArmorProfile: { type: 'object' },
        capabilities: obj({ add: { type: 'array', items: { type: 'string' } }, drop: { type: 'array', items: { type: 'string' } } }),
        privileged: bool('Privileged container.'),
        procMount: { type: 'string', enum: ['Default', 'Unmasked'] },
        readOnlyRootFilesystem: bool('Read-only root filesystem.'),
        runAsGroup: int('GID.'),
        runAsNonRoot: bool('Refuse to run as root.'),
        runAsUser: int('UID.'),
        seLinuxOptions: { type: 'object' },
        seccompProfile,
        windowsOptions: { type: 'object' },
      },
      { description: 'Container security context (Kubernetes SecurityContext).' },
    ),
    serviceAccount: obj({
      create: bool('Create a ServiceAccount hook.'),
      name: str('ServiceAccount name.', k8sName),
      annotations: { type: 'object', additionalProperties: { type: 'string' } },
    }),
    kubernetesApi: obj({
      tokenAudience: str("Audience of the hook's projected token; empty: the API server's own."),
      tokenExpirationSeconds: int('Lifetime of that token in seconds (Kubernetes issues 600 at the least).', { minimum: 600 }),
    }),
    networkPolicy: obj({
      enabled: bool('Render the NetworkPolicies.'),
      dns: obj({ namespaceSelector: labelSelector, podSelector: labelSelector }),
      database: obj({
        namespaceSelector: labelSelector,
        podSelector: labelSelector,
        cidrs: cidrs('CIDRs of a database reached by name outside the cluster.'),
      }),
      apiServer: obj({
        cidrs: cidrs("CIDRs of the API server's endpoints."),
        ports: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1, maximum: 65535 }, uniqueItems: true },
      }),
      extraEgress: { type: 'array', description: 'More NetworkPolicyEgressRule objects.', items: { type: 'object' } },
    }),
    nodeSelector: { type: 'object', additionalProperties: { type: 'string' } },
    tolerations: { type: 'array', items: { type: 'object' } },
    affinity: { type: 'object' },
    podAnnotations: { type: 'object', additionalProperties: { type: 'string' } },
    podLabels: { type: 'object', additionalProperties: { type: 'string' } },
    tests: obj({ enabled: bool('Render the helm test pod.') }),
    backup: obj({
      enabled: bool('Render the backup CronJob.'),
      schedule: cronSchedule('Cron schedule of the backup CronJob.'),
      timeZone: str("IANA time zone of the schedules; empty: the controller's.", { pattern: '^$|^[A-Za-z][A-Za-z0-9_+/-]*$' }),
      suspend: bool('Suspend both CronJobs.'),
      keepDays: int('Days of backups to keep.', { minimum: 1 }),
      successfulJobsHistoryLimit: int('Succeeded Jobs kept.', { minimum: 0 }),
      failedJobsHistoryLimit: int('Failed Jobs kept.', { minimum: 0 }),
      startingDeadlineSeconds: { type: ['integer', 'null'], minimum: 1 },
      activeDeadlineSeconds: int('Deadline of one backup or drill Job in seconds.', { minimum: 1 }),
      backoffLimit: int('Retries of a failed backup or drill pod.', { minimum: 0 }),
      resources,
      image: obj({
        repository: str('Image repository; empty: image.repository.'),
        tag: str('Image tag; empty: the appVersion plus -pgtools. Quote numeric tags.'),
        digest: str('Image digest.', { pattern: '^$|^sha256:[a-f0-9]{64}$' }),
      }),
      persistence: obj({
        existingClaim: str('Existing PersistentVolumeClaim.', k8sName),
        size: {
          type: 'string',
          description: 'Size of the created claim (a Kubernetes quantity); empty with existingClaim.',
          pattern: '^$|^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$',
        },
        storageClass: str('Storage class of the created claim; empty: the default class.', k8sName),
        accessMode: { type: 'string', enum: ['ReadWriteOnce', 'ReadWriteOncePod', 'ReadWriteMany'] },
        keepOnUninstall: bool('Keep the created claim on uninstall.'),
      }),
      encryption: obj({
        existingSecret: str('Secret holding the AES-256 key; empty: no encryption.', k8sName),
        key: str('Key in it.', { minLength: 1 }),
      }),
      drill: obj({ enabled: bool('Render the drill CronJob.'), schedule: cronSchedule('Cron schedule of the drill CronJob.') }),
    }),
    global: { type: 'object', description: 'Values Helm passes to every chart of a release.' },
  }),
}

/** The file's expected content. */
export function valuesSchemaText(): string {
  return `${JSON.stringify(valuesSchema, null, 2)}\n`
}

if (process.argv[1] === import.meta.filename && process.argv.includes('--write')) writeFileSync(valuesSchemaPath, valuesSchemaText())
