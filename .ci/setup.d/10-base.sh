# PostgreSQL refuses to run as root: the tests start it as the OS user postgres. psql is the TLS oracle and
# the benchmark's peer; openssl makes the test certificates.
apt_install postgresql-client openssl ca-certificates
if ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
command -v psql >/dev/null
command -v openssl >/dev/null
