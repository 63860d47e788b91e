# helm, for the chart tests (test/chart): built from source with the Go toolchain, since only the Go module proxy
# is reachable, not a binary download. Sourced by .ci/run; PATH gains the Go bin directory.
# The -X flags stamp what helm's release builds carry (see its Makefile): without them `helm version` reads
# v3.22 and `helm template` assumes Kubernetes 1.20. 1.37 follows k8s.io/client-go v0.37.0 in helm v3.22.0's go.mod.
# The end-to-end chart test runs the hook as UID 65532 with setpriv (util-linux is essential on Debian).
command -v setpriv >/dev/null || apt_install util-linux
HELM_VERSION=v3.22.0
HELM_KUBE_MINOR=37
GO_TOOLS=${DBHOOK_TOOLS:-/var/tmp/dbhook-tools}/go
HELM_STAMP=$GO_TOOLS/bin/.helm-$HELM_VERSION-kube1.$HELM_KUBE_MINOR
export PATH=$GO_TOOLS/bin:/usr/local/go/bin:$PATH
if [ ! -e "$HELM_STAMP" ] || ! helm version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  command -v go >/dev/null || { echo "40-helm.sh: go is not installed (expected /usr/local/go/bin/go); cannot build helm" >&2; exit 1; }
  mkdir -p "$GO_TOOLS/bin"
  helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    helm_ldflags="$helm_ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$HELM_KUBE_MINOR"
  done
  GOBIN=$GO_TOOLS/bin GOPATH=$GO_TOOLS GOCACHE=$GO_TOOLS/cache \
    go install -ldflags "$helm_ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
    || { echo "40-helm.sh: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed" >&2; exit 1; }
  touch "$HELM_STAMP"
fi
helm version --template '{{.Version}}' | grep -qx "$HELM_VERSION" \
  || { echo "40-helm.sh: helm $HELM_VERSION is not first on PATH" >&2; exit 1; }
