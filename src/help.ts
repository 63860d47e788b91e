/** The text of `dbhook --help`; README's tables say the same at greater length. */
export function helpText(version: string): string {
  return `dbhook ${version}: make a PostgreSQL or MySQL/MariaDB server (or a Cloud Spanner instance) hold the databases an
application needs.

Usage: dbhook [command]
       dbhook restore --database NAME [--from FILE|latest] [--into NAME] [--replace]

Commands:
  apply    wait for the server, lock, inspect, plan and execute; print a summary (default)
  plan     inspect and print the steps without executing them; exit 0 in sync, 2 changes pending
  wait     exit 0 once an authenticated connection as the admin succeeds
  verify   check as the owner that every database exists, is owned by it and accepts a table
  sql      print the idempotent SQL (psql, \\gexec; spanner: gcloud commands) a DBA can run by hand; connects to nothing
  backup   dump every database into DBHOOK_BACKUP_DIR with a manifest, check each dump, then apply retention
  restore  restore a backup into a new database (default <name>_restore_<timestamp>)
  drill    restore the newest backups into scratch databases and compare them with the backups' manifests

Options:
  -h, --help     show this text
  -V, --version  show the version
  --database NAME  restore: the listed database (name or key) whose backup to restore
  --from FILE      restore: this backup file instead of the newest (latest, the default)
  --into NAME      restore: the database to create and restore into
  --replace        restore: drop and replace an existing target; refused while sessions are connected to it

Settings come from the environment (a *_FILE variant exists for every password and wins):
  DBHOOK_ENGINE            postgres (default), mysql (alias mariadb) or spanner
  DBHOOK_HOST, DBHOOK_PORT server address (PGHOST, PGPORT); port 5432 / 3306; PostgreSQL: comma lists, as libpq
  DBHOOK_TARGET_SESSION_ATTRS  read-write (default) | primary | any | read-only | standby | prefer-standby
  DBHOOK_ADMIN_USER        role that provisions (PGUSER); needs CREATEDB
  DBHOOK_ADMIN_PASSWORD    its password (PGPASSWORD)
  DBHOOK_ADMIN_DATABASE    database the admin connects to (postgres)
  DBHOOK_OWNER             role that owns the databases (default: the admin)
  DBHOOK_OWNER_PASSWORD    when set, the owner is created if missing and its password kept current
  DBHOOK_APP_USER          data-only role granted read/write on the owner's tables
  DBHOOK_APP_PASSWORD      when set, the app role is created if missing and its password kept current
  DBHOOK_OWNER_GENERATED_SECRET, DBHOOK_APP_GENERATED_SECRET
                           in a Kubernetes pod: generate that role's password once and keep it in this Secret
  DBHOOK_DATABASES         name,name | key=name,key=name | JSON array or object
  DBHOOK_EXTENSIONS        extensions created in every database, e.g. pg_trgm
  DBHOOK_EVENT_TRIGGER     auto (default) | on | off: the permission event trigger
  DBHOOK_CONNECTION_LIMIT  CONNECTION LIMIT for roles dbhook creates
  DBHOOK_PARALLEL          databases worked on at once (4)
  DBHOOK_SSLMODE           disable|allow|prefer|require|verify-ca|verify-full (prefer; PGSSLMODE)
  DBHOOK_SSLROOTCERT       CA file, or "system" (PGSSLROOTCERT)
  DBHOOK_SSLCERT/SSLKEY    client certificate and key files (PGSSLCERT, PGSSLKEY)
  DBHOOK_WAIT_TIMEOUT      deadline to reach the server (300s); seconds or 90s, 5m
  DBHOOK_CONNECT_TIMEOUT   per connection attempt (10s; PGCONNECT_TIMEOUT)
  DBHOOK_LOG_LEVEL         info (default), debug, warn, error, silent
  DBHOOK_LOG_FORMAT        json (default) or pretty
  DBHOOK_TERMINATION_LOG   outcome file (/dev/termination-log), written when it exists or is set
  DBHOOK_MYSQL_CHARSET, DBHOOK_MYSQL_COLLATION, DBHOOK_MYSQL_USER_HOST, DBHOOK_MYSQL_REQUIRE_SSL  (MySQL only)
  DBHOOK_BACKUP_DIR        backup/restore/drill: folder of the backups, one sub-folder per database
  DBHOOK_BACKUP_KEEP_DAYS  days of backups kept (7); the newest good backup is always kept
  DBHOOK_BACKUP_KEY_FILE   256-bit key (32 bytes or 64 hex): AES-256-GCM encryption at rest
  DBHOOK_PG_DUMP           pg_dump to run (PATH); pg_restore from the same folder
  DBHOOK_SPANNER_PROJECT, DBHOOK_SPANNER_INSTANCE  spanner: where the databases live; credentials are Google's
                           Application Default Credentials, SPANNER_EMULATOR_HOST reaches an emulator. Spanner takes
                           only DATABASES, PARALLEL, the timeouts and logging: any other setting exits 78

Exit codes:
  0 done or in sync       1 a step failed or verify found problems   2 plan: changes pending
  64 bad command line     69 server not reachable before the deadline
  77 authentication or privilege refused   78 configuration invalid   130/143 interrupted
`
}
