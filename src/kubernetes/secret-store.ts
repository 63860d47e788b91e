/** A Secret as dbhook reads it: its decoded keys and the version a conditional patch names. */
export interface StoredSecret {
  readonly data: Readonly<Record<string, string>>
  readonly resourceVersion: string
}

/**
 * The three calls dbhook makes on Secrets in its own namespace, and nothing else: the hook's Role allows get and
 * patch on the named Secrets and create on secrets.
 */
export interface SecretStore {
  /** Namespace of the pod, where every Secret lives. */
  readonly namespace: string
  /** undefined when the Secret does not exist (404). */
  read(name: string): Promise<StoredSecret | undefined>
  /** Creates it with these keys; false when it already exists (409): someone else was first. */
  create(name: string, data: Readonly<Record<string, string>>): Promise<boolean>
  /**
   * Adds keys with a merge patch that names `resourceVersion`, so that it applies only to the Secret as read;
   * false when the Secret changed meanwhile (409).
   */
  addKeys(name: string, resourceVersion: string, data: Readonly<Record<string, string>>): Promise<boolean>
}
