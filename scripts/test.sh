#!/usr/bin/env bash
# Installs what is needed and runs every check: formatting, clippy, and the
# whole test suite (unit tests, and as root the privileged and end-to-end
# tests, each inside fresh namespaces; then the cgroup tests again in a
# cgroup v2 guest, scripts/test-vm.sh, unless WHARF_VM_LANE=0). Ends with one
# line: N passed, N failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The devstack test's images install Debian packages as they build, so they are
# built here, on the host's network, and only loaded by the test (cached between
# runs; made again when the example changes).
cargo build --locked --bin wharf
WHARF_DEVSTACK_IMAGES=$(bash scripts/make-devstack-images.sh "${CARGO_TARGET_DIR:-target}/debug/wharf")
export WHARF_DEVSTACK_IMAGES
# The same for the image of examples/registry (the tutorial's private registry).
WHARF_REGISTRY_IMAGE=$(bash scripts/make-registry-image.sh "${CARGO_TARGET_DIR:-target}/debug/wharf")
export WHARF_REGISTRY_IMAGE
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked 2>&1 | tee "$log" || status=$?
# The cgroup tests again on a pure cgroup v2 kernel (this host may be v1 or
# hybrid): a guest booted by scripts/test-vm.sh, whose test output joins the
# log. WHARF_VM_LANE=0 leaves it out; a host that cannot boot the guest
# (test-vm.sh exits 77 and says what is missing) skips it, which is no failure.
vm_lane=passed
if [ "${WHARF_VM_LANE:-1}" = 0 ]; then
  vm_lane="left out (WHARF_VM_LANE=0)"
else
  vm_status=0
  bash scripts/test-vm.sh 2>&1 | tee -a "$log" || vm_status=$?
  case "$vm_status" in
    0) ;;
    77) vm_lane="skipped: this host cannot boot the guest (test-vm.sh said why above)" ;;
    *) vm_lane="failed with status $vm_status"; status=$vm_status ;;
  esac
fi
echo "cgroup v2 lane: $vm_lane"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
