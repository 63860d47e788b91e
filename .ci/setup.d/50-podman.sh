# The image test builds docker/Dockerfile with podman and runs it against a local PostgreSQL; the quadlet test
# runs podman's own quadlet generator over docker/quadlet. Both must fail, never skip, when a tool is missing.
apt_install podman buildah runc uidmap ca-certificates

# crun fails on this host's hybrid cgroups, and the default nofile/nproc ulimits exceed what the runner allows.
dbhook_containers_conf=/etc/containers/containers.conf
if ! grep -q 'dbhook: written by .ci/setup.d/50-podman.sh' "$dbhook_containers_conf" 2>/dev/null; then
  mkdir -p /etc/containers
  [ -f "$dbhook_containers_conf" ] && cp "$dbhook_containers_conf" "$dbhook_containers_conf.before-dbhook"
  cat >"$dbhook_containers_conf" <<'CONF'
# dbhook: written by .ci/setup.d/50-podman.sh
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
CONF
fi
podman --version
[ "$(podman info --format '{{.Host.OCIRuntime.Name}}')" = runc ] || { echo "podman does not work or does not use runc" >&2; exit 1; }

# Debian's podman 4.3 has no quadlet generator: build podman 5's from the Go module proxy (pure Go with these
# tags, no cgo). `go install pkg@version` is refused here (it asks for the module's version list, which the
# proxy does not serve for podman), so build it from a throwaway module instead.
QUADLET_VERSION=v5.6.2
export DBHOOK_QUADLET=${TOOLS:-/var/tmp/dbhook-tools}/quadlet-$QUADLET_VERSION/quadlet
if [ ! -x "$DBHOOK_QUADLET" ]; then
  quadlet_go=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$quadlet_go" ] || { echo "Go (>= 1.23) is needed to build podman's quadlet generator; none found" >&2; exit 1; }
  quadlet_module=$(mktemp -d)
  (
    cd "$quadlet_module"
    "$quadlet_go" mod init dbhook.local/quadlet >/dev/null 2>&1
    "$quadlet_go" get "github.com/containers/podman/v5/cmd/quadlet@$QUADLET_VERSION"
    CGO_ENABLED=0 "$quadlet_go" build \
      -tags 'remote exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_openpgp' \
      -o "$DBHOOK_QUADLET" github.com/containers/podman/v5/cmd/quadlet
  )
  rm -rf "$quadlet_module"
fi
[ "$("$DBHOOK_QUADLET" -version)" = "${QUADLET_VERSION#v}" ] || { echo "$DBHOOK_QUADLET is not quadlet $QUADLET_VERSION" >&2; exit 1; }
