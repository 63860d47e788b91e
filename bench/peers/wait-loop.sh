#!/bin/sh
# The wait that precedes the psql loop in those charts: poll with pg_isready, sleep 2 s between tries.
set -eu
until pg_isready -h "$PGHOST" -p "$PGPORT"; do sleep 2; done
exec "$(dirname "$0")/psql-loop.sh"
