#!/usr/bin/env bash
# Builds docker/Dockerfile with podman without a registry: the two bases it names (node:24-bookworm-slim for the
# build stage, distroless nodejs24 for the runtime) are replaced by images imported from local files.
#
#   runtime base: the Node 24 binary at /nodejs/bin/node (where distroless puts it), the shared libraries it
#                 links (ldd), /etc/passwd and /etc/group with root and nonroot (65532), CA certificates.
#   build base:   the same Node at /usr/local/bin/node, the machine's npm at /usr/local/lib/node_modules/npm
#                 (as in the node image), /bin/sh and /usr/bin/env for npm's scripts, CA certificates.
#
# npm ci in the build stage fetches from the npm registry over the host's network (--network=host), trusting the
# host's CA bundle (NODE_EXTRA_CA_CERTS: some networks intercept TLS with their own CA). Bases are
# imported once per Node/npm version and reused; podman's layer cache keeps npm ci until package*.json change.
#
#   pgtools base: (with --pgtools) the runtime base plus the machine's PostgreSQL client tools (pg_dump,
#                 pg_restore, psql of the newest /usr/lib/postgresql/N, first on PATH) and mariadb-dump and
#                 mariadb, with the libraries they link; it stands in for the Dockerfile's pgtools-base stage,
#                 which installs them from the PGDG and Debian repositories.
#
# Usage: docker/build-local.sh [--pgtools|--spanner] [TAG]
#   default: the provisioning image (the Dockerfile's last stage), TAG localhost/dbhook:dev
#   --pgtools: the `pgtools` target instead, TAG localhost/dbhook:dev-pgtools
#   --spanner: the `spanner` target (the runtime base plus Google's Spanner client), TAG localhost/dbhook:dev-spanner
# Node 24 must be first on PATH.
# Prints KEY=VALUE lines: IMAGE, RUNTIME_BASE, BUILD_BASE, IMAGE_SIZE, BASE_SIZE (bytes, as podman reports; the
# base is the one the image is built on: the runtime base, or with --pgtools the pgtools base, also PGTOOLS_BASE).
set -euo pipefail
script=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$script")/.."

pgtools=
spanner=
if [ "${1:-}" = --pgtools ]; then pgtools=1; shift; fi
if [ "${1:-}" = --spanner ]; then spanner=1; shift; fi
tag=${1:-localhost/dbhook:dev${pgtools:+-pgtools}${spanner:+-spanner}}
command -v podman >/dev/null || { echo "podman is not installed (.ci/setup.d/50-podman.sh installs it)" >&2; exit 1; }
node_bin=$(command -v node)
node_version=$(node --version)
case "$node_version" in v24.*) ;; *) echo "need Node 24 first on PATH, found $node_version at $node_bin" >&2; exit 1 ;; esac
node_bin=$(readlink -f "$node_bin")
npm_dir=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")
npm_version=$(node -p "require('$npm_dir/package.json').version")
# npm from the npm registry (or Node's own tarball) bundles its dependencies; Debian's splits them across
# /usr/share/nodejs and cannot be copied on its own.
[ -d "$npm_dir/node_modules" ] || { echo "npm at $npm_dir does not bundle its dependencies; install npm from the npm registry" >&2; exit 1; }
version=$(node -p "require('./package.json').version")

# The recipe's hash is in the tags so that a change to this script makes new bases instead of reusing old ones.
recipe=$(sha256sum "$script" | cut -c1-12)
runtime_base=localhost/dbhook-runtime-base:node-${node_version#v}-$recipe
build_base=localhost/dbhook-build-base:node-${node_version#v}-npm-$npm_version-$recipe
pg_bin=
pgtools_base=
if [ -n "$pgtools" ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -n 1)
  [ -n "$pg_bin" ] && [ -x "$pg_bin/pg_dump" ] && [ -x "$pg_bin/pg_restore" ] \
    || { echo "no PostgreSQL client tools in /usr/lib/postgresql/*/bin (apt-get install postgresql-client)" >&2; exit 1; }
  command -v mariadb-dump >/dev/null && command -v mariadb >/dev/null \
    || { echo "mariadb-dump or mariadb is missing (apt-get install mariadb-client)" >&2; exit 1; }
  pg_major=$(basename "$(dirname "$pg_bin")")
  mariadb_version=$(mariadb-dump --version | grep -o 'Distrib [0-9.]*' | cut -d' ' -f2)
  pgtools_base=localhost/dbhook-pgtools-base:node-${node_version#v}-pg$pg_major-mariadb-$mariadb_version-$recipe
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies a file and, for an ELF binary, every library ldd says it loads, keeping their absolute paths.
copy_with_libraries() {
  local root=$1 file=$2 dest=${3:-$2}
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$file" "$root$dest"
  local lib
  # A static binary has no libraries: ldd fails and grep finds nothing.
  for lib in $({ ldd "$file" 2>/dev/null || true; } | grep -o '/[^ ]*' || true); do
    [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
  done
}

common_files() {
  local root=$1
  mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot" "$root/root"
  chmod 1777 "$root/tmp"
  chown 65532:65532 "$root/home/nonroot"
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$root/etc/group"
}

import_base() {
  local name=$1 root=$2; shift 2
  tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
  podman import --quiet "$@" "$work/rootfs.tar" "$name" >/dev/null
}

# Bases of earlier versions of this recipe are no longer used; those still in use by an image stay.
# Pgtools bases of this recipe are kept when building the provisioning image, and the other way round.
podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/dbhook-(runtime|build|pgtools)-base:' \
  | grep -vxF -e "$runtime_base" -e "$build_base" | grep -v -e "-$recipe\$" | xargs -r podman rmi >/dev/null 2>&1 || true

if ! podman image exists "$runtime_base"; then
  root=$work/runtime
  copy_with_libraries "$root" "$node_bin" /nodejs/bin/node
  common_files "$root"
  import_base "$runtime_base" "$root" \
    --change 'USER=65532:65532' --change 'WORKDIR=/home/nonroot' \
    --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV=SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENTRYPOINT=["/nodejs/bin/node"]'
  rm -rf "$root"
fi

if ! podman image exists "$build_base"; then
  root=$work/build
  copy_with_libraries "$root" "$node_bin" /usr/local/bin/node
  copy_with_libraries "$root" "$(readlink -f /bin/sh)" /bin/sh
  copy_with_libraries "$root" "$(readlink -f /usr/bin/env)" /usr/bin/env
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  common_files "$root"
  import_base "$build_base" "$root" \
    --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV=SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV=npm_config_update_notifier=false'
  rm -rf "$root"
fi

if [ -n "$pgtools" ] && ! podman image exists "$pgtools_base"; then
  root=$work/pgtools
  copy_with_libraries "$root" "$node_bin" /nodejs/bin/node
  for tool in pg_dump pg_restore psql; do copy_with_libraries "$root" "$pg_bin/$tool"; done
  for tool in mariadb-dump mariadb; do copy_with_libraries "$root" "$(readlink -f "$(command -v "$tool")")" "/usr/bin/$tool"; done
  common_files "$root"
  import_base "$pgtools_base" "$root" \
    --change 'USER=65532:65532' --change 'WORKDIR=/home/nonroot' \
    --change "ENV=PATH=$pg_bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'ENV=SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENTRYPOINT=["/nodejs/bin/node"]'
  rm -rf "$root"
fi

# Every base is given, so that no stage, not even one the target skips, names an image from a registry.
target_args=()
[ -n "$pgtools" ] && target_args=(--target pgtools --build-arg "PGTOOLS_BASE=$pgtools_base")
[ -n "$spanner" ] && target_args=(--target spanner)
podman build --quiet --network=host \
  --build-arg "BUILD_BASE=$build_base" --build-arg "RUNTIME_BASE=$runtime_base" --build-arg "VERSION=$version" \
  --build-arg "PGTOOLS_DEBIAN_BASE=$build_base" "${target_args[@]}" \
  -f docker/Dockerfile -t "$tag" . >/dev/null

image_base=${pgtools_base:-$runtime_base}
echo "IMAGE=$tag"
echo "RUNTIME_BASE=$runtime_base"
echo "BUILD_BASE=$build_base"
[ -n "$pgtools" ] && echo "PGTOOLS_BASE=$pgtools_base"
echo "IMAGE_SIZE=$(podman image inspect --format '{{.Size}}' "$tag")"
echo "BASE_SIZE=$(podman image inspect --format '{{.Size}}' "$image_base")"
