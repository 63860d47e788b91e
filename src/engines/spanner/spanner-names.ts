/**
 * Cloud Spanner's id rules (cloud.google.com/spanner/docs/reference/rest): checked before any call, so that a bad
 * name is a configuration error (exit 78) rather than an INVALID_ARGUMENT halfway through a run.
 */

/** A database id: 2-30 characters, lowercase letters, digits, `_` and `-`, starting with a letter, not ending in `_` or `-`. */
export function spannerDatabaseNameProblem(name: string): string | undefined {
  if (name.length < 2 || name.length > 30) return `must be 2 to 30 characters long (Spanner database id), not ${name.length}`
  if (!/^[a-z]/.test(name)) return 'must start with a lowercase letter (Spanner database id)'
  if (!/^[a-z0-9_-]+$/.test(name)) return 'may hold only lowercase letters, digits, _ and - (Spanner database id)'
  if (/[_-]$/.test(name)) return 'must not end with _ or - (Spanner database id)'
  return undefined
}

/** A project id: 6-30 characters, lowercase letters, digits and `-`, starting with a letter; optionally `domain:` first. */
export function spannerProjectProblem(project: string): string | undefined {
  if (project.startsWith('projects/')) return 'must be the project id alone, without "projects/"'
  const id = project.slice(project.lastIndexOf(':') + 1)
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(id)) {
    return 'is not a Google Cloud project id (6-30 lowercase letters, digits and -, starting with a letter, not ending with -)'
  }
  if (project.includes(':') && !/^[a-z0-9][a-z0-9.-]*[a-z0-9]:[^:]+$/.test(project))
    return 'has a malformed domain prefix (expected example.com:project-id)'
  return undefined
}

/** An instance id: 2-64 characters, lowercase letters, digits and `-`, starting with a letter, ending with a letter or digit. */
export function spannerInstanceProblem(instance: string): string | undefined {
  if (instance.includes('/')) return 'must be the instance id alone, without "projects/…/instances/"'
  if (!/^[a-z][a-z0-9-]{0,62}[a-z0-9]$/.test(instance)) {
    return 'is not a Spanner instance id (2-64 lowercase letters, digits and -, starting with a letter, ending with a letter or digit)'
  }
  return undefined
}
