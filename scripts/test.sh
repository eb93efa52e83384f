#!/usr/bin/env bash
# Installs what is needed and runs every check: formatting, clippy, and the
# whole test suite (unit tests, and as root the privileged and end-to-end
# tests, each inside fresh namespaces; with WHARF_VM_LANE=1 then the cgroup
# tests in a cgroup v2 guest, scripts/test-vm.sh). Ends with one line: N passed, N failed.
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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked 2>&1 | tee "$log" || status=$?
# The cgroup tests again on a pure cgroup v2 kernel (this host may be v1 or
# hybrid), with WHARF_VM_LANE=1: a guest booted by scripts/test-vm.sh; its test
# output joins the log. Not by default yet: two cgroup_v2 tests failed in one
# of the guest's two runs under emulation and are not understood.
if [ "${WHARF_VM_LANE:-}" = 1 ]; then
  vm_status=0
  bash scripts/test-vm.sh 2>&1 | tee -a "$log" || vm_status=$?
  [ "$vm_status" = 0 ] || status=$vm_status
fi
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
