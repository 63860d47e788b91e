#!/bin/sh
# The database hook most Helm charts ship today, kept as charts write it (not tuned): for each database one psql
# to check whether it exists and, when it does not, one psql to create it.
# Reads the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE), DATABASES (names
# separated by spaces) and OWNER.
set -eu
for db in $DATABASES; do
  if [ "$(psql -tAc "SELECT 1 FROM pg_database WHERE datname='$db'")" != "1" ]; then
    psql -c "CREATE DATABASE \"$db\" OWNER \"$OWNER\""
  fi
done
