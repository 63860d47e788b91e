# The Kubernetes end-to-end tests (test/kubernetes) run the chart in a one-node cluster that
# test/kubernetes/cluster.sh starts from parts installed here: etcd, containerd, runc and the CNI plugins from
# Debian; kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl built from the Go module
# proxy by test/kubernetes/build.sh (cached in $TOOLS/kubernetes-<version>; the first build takes about half an
# hour on two cores). gcc and libc6-dev build the pause image; podman (50-podman.sh) the dbhook images.
apt_install containerd runc containernetworking-plugins etcd-server iproute2 iptables curl util-linux gcc libc6-dev binutils
for tool in containerd containerd-shim-runc-v2 ctr runc etcd ip iptables curl gcc findmnt; do
  command -v "$tool" >/dev/null || { echo "70-kubernetes.sh: $tool is missing after apt_install; the Kubernetes tests cannot run" >&2; exit 1; }
done
for plugin in bridge host-local loopback portmap; do
  [ -x "/usr/lib/cni/$plugin" ] || { echo "70-kubernetes.sh: /usr/lib/cni/$plugin is missing (containernetworking-plugins)" >&2; exit 1; }
done
DBHOOK_TOOLS=$TOOLS bash test/kubernetes/build.sh \
  || { echo "70-kubernetes.sh: test/kubernetes/build.sh failed; the Kubernetes tests cannot run" >&2; exit 1; }
"$TOOLS/kubernetes-v1.37.2/bin/kube-apiserver" --version
