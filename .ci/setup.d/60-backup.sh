# Backups (test/integration/backup-*.test.ts) run Debian's pg_dump/pg_restore (15: they dump servers up to 15,
# so those tests use PostgreSQL 13 and 15) and mariadb-dump/mariadb.
apt_install postgresql-client mariadb-client
for tool in pg_dump pg_restore mariadb-dump mariadb; do
  command -v "$tool" >/dev/null || { echo "60-backup.sh: $tool is missing after apt_install postgresql-client mariadb-client; the backup tests cannot run" >&2; exit 1; }
done
pg_major=$(pg_dump --version | sed -E 's/.* ([0-9]+)\..*/\1/')
[ "$pg_major" -ge 15 ] || { echo "60-backup.sh: pg_dump is $pg_major; the backup tests dump PostgreSQL 15 and need pg_dump 15 or newer" >&2; exit 1; }
