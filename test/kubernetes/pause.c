/*
 * The pod sandbox's process (what registry.k8s.io/pause does): holds the pod's namespaces open, reaps the
 * zombies of processes that share its PID namespace, and exits on SIGINT or SIGTERM. No image can be pulled
 * here, so test/kubernetes/cluster.sh builds this statically and packs it into an OCI archive for containerd.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) {
  (void)signal_number;
  _exit(0);
}

static void reap(int signal_number) {
  (void)signal_number;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction on_stop = {.sa_handler = stop};
  struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  if (sigaction(SIGINT, &on_stop, 0) < 0 || sigaction(SIGTERM, &on_stop, 0) < 0 || sigaction(SIGCHLD, &on_child, 0) < 0) return 1;
  for (;;) pause();
}
