#!/usr/bin/env bash
# Builds the Kubernetes components the test cluster needs from the Go module proxy (no binary can be downloaded
# here): kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl at $KUBE_VERSION, into
# $KUBE_BIN (cached: a second run with the stamp present does nothing). `go install pkg@version` is refused for
# k8s.io/kubernetes because its go.mod replaces every staging module with ./staging/...; a throwaway module that
# requires it and replaces each staging module with its published v0.x twin builds it instead.
set -euo pipefail
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
TOOLS=${DBHOOK_TOOLS:-/var/tmp/dbhook-tools}
KUBE_BIN=${KUBE_BIN:-$TOOLS/kubernetes-$KUBE_VERSION/bin}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
stamp=$KUBE_BIN/.built-$KUBE_VERSION

all_built() {
  local c
  for c in "${COMPONENTS[@]}"; do [ -x "$KUBE_BIN/$c" ] || return 1; done
}

# A stamp without every binary (one deleted by hand) means build again, not fail.
if [ -e "$stamp" ] && all_built; then
  echo "kubernetes $KUBE_VERSION: cached in $KUBE_BIN"
  exit 0
fi
[ -x "$GO" ] || { echo "build.sh: Go is needed to build Kubernetes $KUBE_VERSION; none found" >&2; exit 1; }

export GOPATH=$TOOLS/go GOCACHE=$TOOLS/go/cache GOFLAGS=-buildvcs=false CGO_ENABLED=0
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
patch=${KUBE_VERSION##*.}
staging_version=v0.$minor.$patch
module=$TOOLS/kubernetes-$KUBE_VERSION/module
mkdir -p "$module" "$KUBE_BIN"
cd "$module"
if [ ! -s go.sum ]; then
  rm -f go.mod
  "$GO" mod init dbhook.local/kubernetes >/dev/null 2>&1
  kube_mod=$("$GO" mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -s "$kube_mod" ] || { echo "build.sh: cannot download k8s.io/kubernetes@$KUBE_VERSION from the module proxy" >&2; exit 1; }
  "$GO" mod edit -require "k8s.io/kubernetes@$KUBE_VERSION"
  # Every staging module k8s.io/kubernetes replaces with a local path, at its published version.
  for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$kube_mod"); do
    "$GO" mod edit -replace "$m=$m@$staging_version"
  done
  printf 'package tools\n\nimport (\n' > tools.go
  for c in "${COMPONENTS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c" >> tools.go; done
  printf ')\n' >> tools.go
  sed -i '1i //go:build tools' tools.go
  "$GO" mod tidy -e >/dev/null
fi
# Unstamped binaries report v0.0.0-master, and helm then refuses the chart's kubeVersion.
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1"
ldflags="$ldflags -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
pkgs=()
for c in "${COMPONENTS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
start=$(date +%s)
"$GO" build -trimpath -ldflags "$ldflags" -o "$KUBE_BIN/" "${pkgs[@]}"
echo "kubernetes $KUBE_VERSION: built ${COMPONENTS[*]} in $(( $(date +%s) - start )) s into $KUBE_BIN"
"$KUBE_BIN/kube-apiserver" --version | grep -qx "Kubernetes $KUBE_VERSION" \
  || { echo "build.sh: kube-apiserver does not report $KUBE_VERSION" >&2; exit 1; }
touch "$stamp"
