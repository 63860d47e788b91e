# The TLS tests (test/integration/postgres-tls.test.ts) generate their certificates with openssl at test time and
# use Debian's psql (libpq) as the oracle for what each sslmode means. Without either, they must fail, not skip.
apt_install openssl postgresql-client
for tool in openssl /usr/bin/psql; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "20-tls.sh: $tool is missing after apt_install openssl postgresql-client; the TLS tests cannot run" >&2
    exit 1
  fi
done
echo "TLS test tools: $(openssl version), $(/usr/bin/psql --version)"
