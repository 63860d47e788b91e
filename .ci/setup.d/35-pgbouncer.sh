# test/reliability/postgres-pgbouncer.test.ts runs Debian's PgBouncer (1.18 on bookworm) in front of the embedded
# PostgreSQL, in session, transaction and statement pooling. The packaged service is not used: the test starts its
# own pgbouncer, as the postgres OS user (pgbouncer refuses to run as root).
apt_install pgbouncer
[ -x /usr/sbin/pgbouncer ] || { echo "/usr/sbin/pgbouncer is missing after installing pgbouncer" >&2; exit 1; }
/usr/sbin/pgbouncer --version | head -1
id -u postgres >/dev/null || { echo "pgbouncer needs the postgres OS user (created by the pgbouncer package)" >&2; exit 1; }
