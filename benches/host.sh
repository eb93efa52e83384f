#!/usr/bin/env bash
# The benchmark suite's host mode (`benches/suite.sh --host` runs it after the
# fresh-namespace lifecycle rows): the same rows measured where users run
# wharf, in the host's own network namespace and cgroup tree, with a state
# root and a cgroup parent of its own, beside
#   - 200 unrelated bridges, each with an address and a route, and 200 nft
#     rules (table inet wharf_bench_host), all in 198.18.0.0/15, the range
#     set aside for benchmarks (RFC 2544), so that no traffic of the host
#     changes;
#   - a Docker daemon's rules as dockerd 20.10 installs them with
#     iptables-nft (tables ip filter and ip nat: DOCKER, DOCKER-USER,
#     DOCKER-ISOLATION-STAGE-1/2 and their jumps, the nat jumps and the
#     masquerade) for a docker0-like bridge `wbdocker0` in that range; no
#     DROP policy, every rule that decides matches the bench's own bridge.
#     Not added when the host already has ip filter or ip nat tables (a real
#     Docker daemon's, or anything else's): those are left alone.
# Then, when a Docker daemon answers `docker info` (through DOCKER_HOST or the
# default socket; never started here), a peer column: the same scenarios run
# with docker and docker compose, and docker's median over wharf's host one.
#
# Everything added is undone at the end, also when a step fails or on Ctrl-C:
# the projects brought down, the state root, its mounts, processes and cgroup
# parent, the bridges, the nft tables, and the peer's projects and image.
#
# Reads from benches/suite.sh: WHARF (the binary), WORK (its work directory,
# holding busybox.tar), RUNS, SUITE (its path), FRESH_SAMPLES (the fresh rows).
set -euo pipefail
export LC_ALL=C
: "${WHARF:?}" "${WORK:?}" "${RUNS:?}" "${SUITE:?}" "${FRESH_SAMPLES:?}"

host_work=$WORK/host
host_root=$host_work/root
host_samples=$WORK/host.samples
peer_samples=$WORK/peer.samples
cgroup_parent="wharf-bench-host-$$-$(date +%s%N)"
docker_bridge=wbdocker0
peer_label="wharf-bench=$$"
peer_image=wharf-bench/busybox:latest
peer_prefix="wharfbench$$"

progress() { echo "== $*" >&2; }
wharf() { WHARF_ROOT=$host_root WHARF_CGROUP_PARENT=$cgroup_parent "$WHARF" "$@"; }
table_exists() { nft list table "$@" >/dev/null 2>&1; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

# What the host had before, so that the cleanup removes only what came after.
inet_wharf_before=0
table_exists inet wharf && inet_wharf_before=1
wharf0_before=0
link_exists wharf0 && wharf0_before=1
clutter_added=0 docker_rules_added=0 peer_image_added=0
docker_note="" peer_note=""
peer_projects=()
docker_cli=()

# ---- the cleanup, on every exit ----------------------------------------------

# Processes of this run: its monitors (their command line names the state
# root) and whatever is in its cgroup parent.
own_pids() {
  local pid cmdline
  for pid in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' 2>/dev/null <"$pid/cmdline") || continue
    [[ $cmdline == *" --root $host_root "* ]] && echo "${pid#/proc/}"
  done
  find /sys/fs/cgroup/*/"$cgroup_parent" /sys/fs/cgroup/"$cgroup_parent" -name cgroup.procs \
    -exec cat {} + 2>/dev/null || true
}

# Anything this run added that is still on the host, a line each.
leftovers() {
  local link
  for link in $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    case $link in
      wbhost* | "$docker_bridge") echo "interface $link" ;;
      wharf0) [ "$wharf0_before" = 1 ] || echo "interface wharf0" ;;
    esac
  done
  table_exists inet wharf_bench_host && echo "nft table inet wharf_bench_host"
  if [ "$docker_rules_added" = 1 ]; then
    table_exists ip filter && echo "nft table ip filter"
    table_exists ip nat && echo "nft table ip nat"
  fi
  [ "$inet_wharf_before" = 1 ] || ! table_exists inet wharf || echo "nft table inet wharf"
  for dir in /sys/fs/cgroup/*/"$cgroup_parent" /sys/fs/cgroup/"$cgroup_parent"; do
    [ -d "$dir" ] && echo "cgroup $dir"
  done
  awk -v top="$host_work" 'index($5, top) == 1 { print "mount " $5 }' /proc/self/mountinfo
  own_pids | sed 's/^/process /'
  [ -e "$host_work" ] && echo "directory $host_work"
  return 0
}

cleanup() {
  local status=$? dir id pid
  set +e
  trap '' INT TERM HUP
  progress "host mode: undoing what it added"
  # The peer's projects, one-off containers and image.
  if [ ${#docker_cli[@]} -gt 0 ]; then
    for project in "${peer_projects[@]}"; do
      timeout 120 "${docker_cli[@]}" compose -p "$project" down -t 0 --remove-orphans >/dev/null 2>&1
    done
    ids=$("${docker_cli[@]}" ps -aq --filter "label=$peer_label" 2>/dev/null)
    [ -z "$ids" ] || "${docker_cli[@]}" rm -f $ids >/dev/null 2>&1
    [ "$peer_image_added" = 0 ] || "${docker_cli[@]}" rmi -f "$peer_image" >/dev/null 2>&1
  fi
  # wharf's own projects and containers, then its leftover bridges by id.
  if [ -d "$host_root" ]; then
    networks=$(wharf network ls -q 2>/dev/null)
    for dir in "$host_work"/*/; do
      [ -f "$dir/compose.yaml" ] || continue
      (cd "$dir" && timeout 120 env WHARF_ROOT="$host_root" WHARF_CGROUP_PARENT="$cgroup_parent" \
        "$WHARF" down -t 0 --remove-orphans >/dev/null 2>&1)
    done
    ids=$(wharf container ls -aq 2>/dev/null)
    [ -z "$ids" ] || timeout 120 env WHARF_ROOT="$host_root" "$WHARF" container rm -f $ids >/dev/null 2>&1
    [ "$wharf0_before" = 1 ] || wharf network rm bridge >/dev/null 2>&1
    for id in $networks; do
      link_exists "br-${id:0:12}" && ip link delete "br-${id:0:12}"
    done
  fi
  [ "$wharf0_before" = 1 ] || ! link_exists wharf0 || ip link delete wharf0
  # What a failed step may have left running: this run's processes only.
  for _ in $(seq 50); do
    pids=$(own_pids | sort -u)
    [ -n "$pids" ] || break
    kill -KILL $pids 2>/dev/null
    sleep 0.1
  done
  awk -v top="$host_work" 'index($5, top) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r mount; do umount -l "$mount"; done
  for top in /sys/fs/cgroup/*/"$cgroup_parent" /sys/fs/cgroup/"$cgroup_parent"; do
    [ -d "$top" ] || continue
    for _ in $(seq 25); do
      find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$top" ] || break
      sleep 0.2
    done
  done
  # The clutter and the docker rules.
  if [ "$clutter_added" = 1 ]; then
    table_exists inet wharf_bench_host && nft delete table inet wharf_bench_host
    for ((i = 0; i < 200; i++)); do
      link_exists "wbhost$i" && echo "link delete wbhost$i"
    done >"$WORK/unclutter.ip"
    ip -batch "$WORK/unclutter.ip"
  fi
  if [ "$docker_rules_added" = 1 ]; then
    table_exists ip filter && nft delete table ip filter
    table_exists ip nat && nft delete table ip nat
    link_exists "$docker_bridge" && ip link delete "$docker_bridge"
  fi
  [ "$inet_wharf_before" = 1 ] || ! table_exists inet wharf || nft delete table inet wharf
  rm -rf "$host_work"
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "host mode: could not remove all it added; left on the host:" >&2
    echo "$left" | sed 's/^/  /' >&2
    [ "$status" != 0 ] || status=1
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- what the host must not already use ----------------------------------------

if [ -n "$(ip -4 route show root 198.18.0.0/15)$(ip -4 -o addr show to 198.18.0.0/15)" ]; then
  echo "the host already has addresses or routes in 198.18.0.0/15, where the host mode puts its" >&2
  echo "unrelated interfaces: it would change their traffic, so it stops (see benches/host.sh)" >&2
  exit 1
fi
if link_exists wbhost0 || link_exists "$docker_bridge"; then
  echo "interfaces wbhost*/$docker_bridge exist: another host-mode run is going on, or one was killed" >&2
  echo "with SIGKILL; remove them (ip link delete NAME) when no run is going on" >&2
  exit 1
fi
if table_exists inet wharf_bench_host; then
  echo "nft table inet wharf_bench_host exists: another host-mode run is going on, or one was killed" >&2
  echo "with SIGKILL; remove it (nft delete table inet wharf_bench_host) when no run is going on" >&2
  exit 1
fi
if [ "$wharf0_before" = 1 ]; then
  echo "interface wharf0 exists: another wharf's default bridge is on the host, and the row" >&2
  echo "'container run --rm busybox true' needs it; run the host mode where no other wharf runs" >&2
  exit 1
fi

# ---- the clutter -----------------------------------------------------------------

progress "host mode: adding 200 interfaces, addresses, routes and nft rules"
mkdir -p "$host_work"
clutter_added=1
{
  for ((i = 0; i < 200; i++)); do
    echo "link add wbhost$i type bridge"
    echo "link set wbhost$i up"
    echo "address add 198.18.$i.1/32 dev wbhost$i"
    echo "route add 198.19.$i.0/24 dev wbhost$i"
  done
} >"$WORK/clutter.ip"
ip -batch "$WORK/clutter.ip" >/dev/null
{
  echo "table inet wharf_bench_host {"
  echo "  chain filter { type filter hook forward priority 10;"
  for ((i = 0; i < 200; i++)); do
    echo "    ip saddr 198.19.$i.0/24 tcp dport $((10000 + i)) counter accept"
  done
  echo "  }"
  echo "}"
} >"$WORK/clutter.nft"
nft -f "$WORK/clutter.nft"

# ---- a Docker daemon's rules -------------------------------------------------------

# dockerd 20.10's rules for a new daemon with its default bridge (libnetwork:
# the DOCKER chains, DOCKER-USER arranged first in FORWARD, the isolation
# stages, the bridge driver's forward, masquerade and nat rules), for
# wbdocker0 on 198.19.255.0/24 instead of docker0 on 172.17.0.0/16. The
# FORWARD policy stays ACCEPT (dockerd sets DROP).
docker_rules() {
  cat <<EOF
*filter
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o $1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o $1 -j DOCKER
-A FORWARD -i $1 ! -o $1 -j ACCEPT
-A FORWARD -i $1 -o $1 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i $1 ! -o $1 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o $1 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s $2 ! -o $1 -j MASQUERADE
-A DOCKER -i $1 -j RETURN
COMMIT
EOF
}

if table_exists ip filter || table_exists ip nat; then
  if nft list chain ip filter DOCKER >/dev/null 2>&1 || nft list chain ip nat DOCKER >/dev/null 2>&1; then
    docker_note="the host has a Docker daemon's own rules: left as they are, none added"
  else
    docker_note="the host has ip filter/nat tables of its own: left alone, docker's rules not added"
  fi
elif ! command -v iptables-nft-restore >/dev/null; then
  docker_note="iptables-nft-restore is not installed (scripts/install-deps.sh): docker's rules not added"
else
  progress "host mode: adding a Docker daemon's rules (iptables-nft) and bridge $docker_bridge"
  docker_rules_added=1
  ip link add "$docker_bridge" type bridge
  ip address add 198.19.255.1/24 dev "$docker_bridge"
  ip link set "$docker_bridge" up
  docker_rules "$docker_bridge" 198.19.255.0/24 | iptables-nft-restore --noflush
  docker_note="dockerd 20.10's iptables-nft rules added for $docker_bridge (tables ip filter, ip nat)"
fi

# ---- wharf in the host's namespaces ----------------------------------------------------

progress "host mode: the lifecycle rows in the host's namespaces"
ln "$WORK/busybox.tar" "$host_work/busybox.tar" 2>/dev/null || cp "$WORK/busybox.tar" "$host_work/busybox.tar"
WHARF_BENCH_INNER=1 WHARF_BENCH_IN_HOST=1 WHARF_BENCH_LIFECYCLE_ONLY=1 \
  WHARF_BENCH_SAMPLES="$host_samples" WHARF="$WHARF" WORK="$host_work" RUNS="$RUNS" \
  WHARF_CGROUP_PARENT="$cgroup_parent" bash "$SUITE" >/dev/null

# ---- the peer column ------------------------------------------------------------------

source "$(dirname "$0")/peer.sh"
measure_peer

# ---- the table ---------------------------------------------------------------------------

# median FILE NAME: the median of row NAME's samples in FILE, in its unit.
median() {
  awk -F'\t' -v name="$2" '$1 == name {
      n = split($5, v, " ")
      for (i = 1; i <= n; i++) v[i] /= $3
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      printf "%.6f", (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }' "$1" 2>/dev/null
}
shown() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf(x >= 1000 ? "%10.0f" : "%10.2f", x) }' || printf '%10s' -; }

echo
echo "wharf benchmark suite, host mode: $RUNS runs each (medians); $(nproc) CPUs, kernel $(uname -r)"
echo "fresh ns: fresh mount, network and pid namespaces. host ns: the host's namespaces and cgroup tree,"
echo "beside 200 unrelated interfaces, addresses, routes and nft rules; $docker_note."
echo "$peer_note"
header=(benchmark unit "fresh ns" "host ns" target "")
[ -z "$peer_title" ] || header+=("$peer_title" "ratio")
printf "%-44s %-7s %10s %10s   %-10s %-6s" "${header[@]:0:6}"
[ -z "$peer_title" ] || printf " %10s %8s" "${header[@]:6}"
echo
while IFS=$'\t' read -r name unit _ target _; do
  fresh=$(median "$FRESH_SAMPLES" "$name")
  host=$(median "$host_samples" "$name")
  goal=- verdict=""
  if [ "$target" != - ] && [ -n "$host" ]; then
    goal="${target:0:2} ${target:2}"
    verdict=$(awk -v m="$host" -v t="$target" 'BEGIN {
      l = substr(t, 3) + 0
      print ((t ~ /^<=/ && m <= l) || (t ~ /^>=/ && m >= l)) ? "met" : "missed" }')
  fi
  printf "%-44s %-7s %s %s   %-10s %-6s" "$name" "$unit" "$(shown "$fresh")" "$(shown "$host")" "$goal" "$verdict"
  if [ -n "$peer_title" ]; then
    peer=$(median "$peer_samples" "$name")
    ratio=""
    [ -z "$peer" ] || [ -z "$host" ] || ratio=$(awk -v d="$peer" -v w="$host" 'BEGIN { printf "%7.1fx", d / w }')
    printf " %s %8s" "$(shown "$peer")" "${ratio:--}"
  fi
  echo
done <"$FRESH_SAMPLES"
