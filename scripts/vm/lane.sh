#!/usr/bin/env bash
# The cgroup v2 test lane, run as root inside the test guest (see test-vm.sh):
# the runtime's privileged tests and the end-to-end tests that touch cgroups
# (limits, stats, pause/unpause, OOM, devices, run, up/down, crash/reboot,
# delegation), against the guest's unified hierarchy. The test binaries were
# built on the host; their paths come as NAME=PATH arguments. Each binary's
# `test result:` lines reach the console, so the host's log counts them.
#
# WHARF_VM_LANE_FILTER (a space-separated list of e2e filters) replaces the
# default selection.
set -uo pipefail

declare -A binary
for arg in "$@"; do
    binary[${arg%%=*}]=${arg#*=}
done

if [ ! -f /sys/fs/cgroup/cgroup.controllers ] || [ -d /sys/fs/cgroup/memory ]; then
    echo "lane: not a pure cgroup v2 host: /sys/fs/cgroup is not the unified hierarchy" >&2
    exit 2
fi
echo "lane: cgroup v2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

# The end-to-end tests that touch cgroups and need no network beyond loopback.
e2e_filters=(
    cgroup_v2::
    hello::
    process::
    security::
    lifecycle::
    crash::
    bad_input::failed_up_leaves_nothing_behind
    health::conditions_wait_for_health_and_completion
    cli::exit_codes_follow_docker_compose
)
if [ -n "${WHARF_VM_LANE_FILTER:-}" ]; then
    read -ra e2e_filters <<<"$WHARF_VM_LANE_FILTER"
fi

status=0
timed() {
    local label=$1 started=$SECONDS rc=0
    shift
    echo "lane: running $label"
    "$@" || rc=$?
    echo "lane: $label finished with status $rc in $((SECONDS - started))s"
    [ "$rc" = 0 ] || status=1
}

export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
if [ -n "${binary[runtime]:-}" ]; then
    timed "runtime privileged tests" "${binary[runtime]}" --test-threads=2
fi
if [ -n "${binary[e2e]:-}" ]; then
    for filter in "${e2e_filters[@]}"; do
        timed "e2e $filter" "${binary[e2e]}" --test-threads=2 "$filter"
    done
fi

leftover=$(find /sys/fs/cgroup -mindepth 1 -type d -name 'wharf*' 2>/dev/null)
if [ -n "$leftover" ]; then
    echo "lane: cgroups left behind:" >&2
    echo "$leftover" >&2
    status=1
fi
exit "$status"
