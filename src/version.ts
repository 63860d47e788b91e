declare const DBHOOK_VERSION: string

/** package.json's version, stamped by the bundler (scripts/build.mjs); `0.0.0-dev` when run from source. */
export const dbhookVersion: string = typeof DBHOOK_VERSION === 'string' ? DBHOOK_VERSION : '0.0.0-dev'
