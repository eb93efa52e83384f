#!/usr/bin/env bash
# A/B comparison of two wharf builds on the lifecycle rows of the suite:
# `run --rm SERVICE true`, `up -d` and `down` of 3 and 50 services, and the
# monitors' RSS and PSS with 50 running. The two binaries take turns within
# each run (A, B, A, B, ...), so a loaded or noisy machine weighs on both
# alike; each row prints both medians (min, max) and B's change.
#
# Needs root and what benches/suite.sh needs (unshare, busybox-static).
# Each build is a directory holding `wharf` (and `wharf-monitor` beside it,
# which the engine starts for each container).
#
# Usage: RUNS=11 bash benches/ab.sh DIR_A DIR_B
#
# Everything runs inside fresh mount, network and pid namespaces with a
# temporary WHARF_ROOT (shared by the two builds: they read the same state
# format) and a cgroup parent of its own, all removed at the end.
set -euo pipefail
export LC_ALL=C
RUNS=${RUNS:-9}

if [ "${WHARF_AB_INNER:-}" != 1 ]; then
  repo=$(cd "$(dirname "$0")/.." && pwd)
  if [ $# != 2 ]; then
    echo "usage: RUNS=N bash benches/ab.sh DIR_A DIR_B (each holding a wharf binary)" >&2
    exit 2
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "benches/ab.sh needs root (namespaces, mounts, cgroups and bridges): run it with sudo" >&2
    exit 1
  fi
  if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then
    echo "RUNS=$RUNS is not a positive number of runs" >&2
    exit 1
  fi
  for dir in "$1" "$2"; do
    [ -x "$dir/wharf" ] || { echo "$dir/wharf is not an executable" >&2; exit 1; }
  done
  for tool in unshare busybox; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed: run scripts/install-deps.sh" >&2; exit 1; }
  done
  work=$(mktemp -d)
  cgroup_parent="wharf-ab-$$-$(date +%s%N)"
  cleanup() {
    for top in /sys/fs/cgroup/*/"$cgroup_parent" /sys/fs/cgroup/"$cgroup_parent"; do
      [ -d "$top" ] || continue
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        find "$top" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [ -d "$top" ] || break
        sleep 0.2
      done
    done
    rm -rf "$work"
  }
  trap cleanup EXIT
  (cd "$repo" && bash scripts/make-busybox-tar.sh "$work/busybox.tar" >/dev/null)
  WHARF_AB_INNER=1 WHARF_A="$(realpath "$1")/wharf" WHARF_B="$(realpath "$2")/wharf" \
    WORK="$work" RUNS="$RUNS" WHARF_CGROUP_PARENT="$cgroup_parent" \
    unshare --mount --net --pid --fork --mount-proc --propagation private -- bash "$0"
  exit 0
fi

# ---- inside the namespaces --------------------------------------------------

export WHARF_ROOT=$WORK/root
errors=$WORK/last-command.err
busybox ip link set lo up

quiet() {
  if ! "$@" >/dev/null 2>"$errors" </dev/null; then
    echo "failed: $*" >&2
    cat "$errors" >&2
    exit 1
  fi
}

# timed FILE CMD...: run CMD quietly and append its wall time (µs) to FILE.
timed() {
  local file=$1
  shift
  local start=${EPOCHREALTIME/./}
  quiet "$@"
  local end=${EPOCHREALTIME/./}
  echo $((end - start)) >>"$file"
}

# Median, min and max of the numbers in FILE, divided by DIVISOR.
summary() {
  sort -g "$1" | awk -v div="$2" '
    { v[NR] = $1 / div }
    END {
      n = NR
      median = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%9.2f %9.2f %9.2f\n", median, v[1], v[n]
    }'
}

row() {
  local name=$1 unit=$2 divisor=$3 key=$4
  read -r ma mina maxa < <(summary "$WORK/A.$key" "$divisor")
  read -r mb minb maxb < <(summary "$WORK/B.$key" "$divisor")
  printf '%-38s %-4s A %9.2f (%7.2f-%7.2f)  B %9.2f (%7.2f-%7.2f)  %+6.1f%%\n' \
    "$name" "$unit" "$ma" "$mina" "$maxa" "$mb" "$minb" "$maxb" \
    "$(awk -v a="$ma" -v b="$mb" 'BEGIN { print (a > 0) ? (b - a) * 100 / a : 0 }')"
}

# Sum of VmRSS and of Pss (KiB) of the running monitors, and their number.
monitor_memory() {
  local rss=0 pss=0 count=0 pid cmdline value
  for pid in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' <"$pid/cmdline" 2>/dev/null) || continue
    [[ $cmdline == *" __monitor "* ]] || continue
    value=$(awk '/^VmRSS:/ { print $2 }' "$pid/status" 2>/dev/null) || continue
    rss=$((rss + ${value:-0}))
    value=$(awk '/^Pss:/ { print $2 }' "$pid/smaps_rollup" 2>/dev/null) || continue
    pss=$((pss + ${value:-0}))
    count=$((count + 1))
  done
  echo "$rss $pss $count"
}

idle_services() {
  echo "services:"
  for ((i = 0; i < $1; i++)); do
    cat <<EOF
  s$i:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 60 & wait; done"]
EOF
  done
}

quiet "$WHARF_A" image import -c 'CMD ["/bin/sh"]' "$WORK/busybox.tar" busybox:latest
mkdir -p "$WORK/oneoff" "$WORK/idle3" "$WORK/idle50"
printf 'services:\n  app:\n    image: busybox:latest\n    command: ["true"]\n' \
  >"$WORK/oneoff/compose.yaml"
idle_services 3 >"$WORK/idle3/compose.yaml"
idle_services 50 >"$WORK/idle50/compose.yaml"
# Warm-up: the seccomp program is compiled and cached once.
(cd "$WORK/oneoff" && quiet "$WHARF_A" run --rm app true && quiet "$WHARF_B" run --rm app true)

for ((r = 0; r < RUNS; r++)); do
  echo "== run $((r + 1)) of $RUNS" >&2
  for side in A B; do
    bin_var=WHARF_$side
    wharf=${!bin_var}
    cd "$WORK/oneoff"
    timed "$WORK/$side.run" "$wharf" run --rm app true
    cd "$WORK/idle3"
    timed "$WORK/$side.up3" "$wharf" up -d
    timed "$WORK/$side.down3" "$wharf" down
    cd "$WORK/idle50"
    timed "$WORK/$side.up50" "$wharf" up -d
    read -r rss_sum pss_sum monitors < <(monitor_memory)
    if [ "$monitors" != 50 ]; then
      echo "expected 50 monitors, found $monitors" >&2
      exit 1
    fi
    awk -v s="$rss_sum" 'BEGIN { print s / 50 / 1024 }' >>"$WORK/$side.rss"
    awk -v s="$pss_sum" 'BEGIN { print s / 50 / 1024 }' >>"$WORK/$side.pss"
    timed "$WORK/$side.down50" "$wharf" down
  done
done

echo "A = ${WHARF_A%/wharf}, B = ${WHARF_B%/wharf}, $RUNS runs each, median (min-max)"
row "run --rm SERVICE true" ms 1000 run
row "up -d, 3 services" ms 1000 up3
row "down, 3 services" ms 1000 down3
row "up -d, 50 services" ms 1000 up50
row "down, 50 services" ms 1000 down50
row "monitor RSS per container (50 running)" MiB 1 rss
row "monitor PSS per container (50 running)" MiB 1 pss
