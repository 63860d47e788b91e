# The Spanner tests (test/integration/spanner-*.test.ts, test/image/spanner-image.test.ts) start the Cloud Spanner
# emulator: gateway_main, which starts emulator_main, from the Debian package google-cloud-cli-spanner-emulator.
# One of them runs the gcloud commands `dbhook sql` prints against it (gcloud: google-cloud-cli, which the emulator
# package depends on). Both come from Google's apt repository (packages.cloud.google.com/apt, cloud-sdk main), which
# Debian does not configure: the package is installed here only when the configured sources offer it, and CI fails
# below when the emulator is still missing, rather than skip the tests.
spanner_emulator_dir=${DBHOOK_SPANNER_EMULATOR_DIR:-/usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator}
if [ ! -x "$spanner_emulator_dir/gateway_main" ] || [ ! -x "$spanner_emulator_dir/emulator_main" ] || ! command -v gcloud >/dev/null; then
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq || true; APT_UPDATED=1; fi
  if apt-cache policy google-cloud-cli-spanner-emulator 2>/dev/null | grep -Eq 'Candidate: [0-9]'; then
    apt_install google-cloud-cli-spanner-emulator google-cloud-cli
  fi
fi
for tool in gateway_main emulator_main; do
  [ -x "$spanner_emulator_dir/$tool" ] || {
    echo "80-spanner.sh: $spanner_emulator_dir/$tool is missing: install google-cloud-cli-spanner-emulator from Google's apt repository (or set DBHOOK_SPANNER_EMULATOR_DIR); the Spanner tests cannot run" >&2
    exit 1
  }
done
command -v gcloud >/dev/null || { echo "80-spanner.sh: gcloud is missing: install google-cloud-cli from Google's apt repository; the Spanner sql test runs it" >&2; exit 1; }
echo "Cloud Spanner emulator: $spanner_emulator_dir ($(dpkg-query -W -f='${Version}' google-cloud-cli-spanner-emulator 2>/dev/null || echo 'not from a package'))"
