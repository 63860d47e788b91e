# The MySQL/MariaDB integration tests start Debian's MariaDB (mariadbd, mariadb-install-db) on free ports and use
# the mariadb client as the TLS oracle. The packaged service is not used: the tests run their own servers.
apt_install mariadb-server mariadb-client
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || { echo "mariadbd is missing after installing mariadb-server" >&2; exit 1; }
command -v mariadb-install-db >/dev/null
command -v mariadb >/dev/null
