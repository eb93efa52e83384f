#!/usr/bin/env bash
# The benchmark suite: one table of wall times, throughputs and memory, each
# with its median, min and max over RUNS runs (default 5), and the target
# where the project has one.
#
# Needs: root (namespaces, mounts, cgroups, bridges); the Rust toolchain (it
# builds `cargo build --release --locked` itself and measures that binary);
# the packages of scripts/install-deps.sh: busybox-static (the image, made by
# scripts/make-busybox-tar.sh), util-linux (unshare), iproute2 and nftables
# (the unrelated interfaces, routes and rules of the busy-host rows),
# docker-registry, skopeo and curl; the Engine API rows use the docker CLI
# it unpacks (client only); the host mode's docker rules, iptables-nft-restore.
#
# WHARF_TIMINGS=1 makes wharf print how long each lifecycle phase took (see
# DESIGN.md, "Where the time goes"); run a command by hand with it to profile.
#
# Everything runs inside fresh mount, network and pid namespaces (unshare) with
# a temporary WHARF_ROOT and a cgroup parent of its own, all removed at the
# end, so nothing is left on the host. Only 127.0.0.1 is contacted.
#
# Usage: bash benches/suite.sh            RUNS=10 bash benches/suite.sh
#
# WHARF_BENCH_BINARY=PATH measures that wharf binary instead of building one;
# WHARF_BENCH_LIFECYCLE_ONLY=1 keeps to run --rm and up -d/down of 3 and 50
# services (what scripts/test-vm.sh measures inside its cgroup v2 guest:
#   WHARF_BENCH_BINARY=target/release/wharf WHARF_BENCH_LIFECYCLE_ONLY=1 \
#     scripts/test-vm.sh -- bash benches/suite.sh).
#
# Host mode (`bash benches/suite.sh --host`, or WHARF_BENCH_HOST=1): the
# lifecycle rows measured twice, in fresh namespaces as above and then in the
# host's own network namespace and cgroup tree beside 200 unrelated
# interfaces, routes and nft rules and a Docker daemon's iptables-nft rules,
# printed side by side, with a peer column when a Docker daemon answers. It
# changes the host while it runs (and undoes it all at the end, also on a
# failure or Ctrl-C): see benches/host.sh.
set -euo pipefail
export LC_ALL=C
RUNS=${RUNS:-5}
for arg in "$@"; do
  case $arg in
    --host) WHARF_BENCH_HOST=1 ;;
    *) echo "unknown argument $arg: the only one is --host (see the top of benches/suite.sh)" >&2; exit 2 ;;
  esac
done

if [ "${WHARF_BENCH_INNER:-}" != 1 ]; then
  repo=$(cd "$(dirname "$0")/.." && pwd)
  if [ "$(id -u)" != 0 ]; then
    echo "benches/suite.sh needs root (it creates namespaces, mounts, cgroups and bridges): run it with sudo" >&2
    exit 1
  fi
  if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then
    echo "RUNS=$RUNS is not a positive number of runs" >&2
    exit 1
  fi
  tools=(unshare nsenter ip nft curl skopeo busybox)
  [ -n "${WHARF_BENCH_BINARY:-}" ] || tools+=(cargo)
  for tool in "${tools[@]}"; do
    if ! command -v "$tool" >/dev/null; then
      echo "$tool is not installed: run scripts/install-deps.sh" >&2
      exit 1
    fi
  done
  if ! [ -x /usr/bin/docker-registry ]; then
    echo "/usr/bin/docker-registry is not installed: run scripts/install-deps.sh" >&2
    exit 1
  fi
  if [ -n "${WHARF_BENCH_BINARY:-}" ]; then
    wharf=$(realpath "$WHARF_BENCH_BINARY")
    [ -x "$wharf" ] || { echo "WHARF_BENCH_BINARY=$WHARF_BENCH_BINARY is not an executable" >&2; exit 1; }
  fi
  cd "$repo"
  if [ -z "${WHARF_BENCH_BINARY:-}" ]; then
    echo "building: cargo build --release --locked" >&2
    cargo build --release --locked >&2
    target=${CARGO_TARGET_DIR:-$repo/target}
    case $target in /*) ;; *) target=$repo/$target ;; esac
    wharf=$target/release/wharf
  fi
  work=$(mktemp -d)
  cgroup_parent="wharf-bench-$$-$(date +%s%N)"
  cleanup() {
    # The pid namespace took every container with it; empty the cgroups left.
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
  bash scripts/make-busybox-tar.sh "$work/busybox.tar" >/dev/null
  if [ "${WHARF_BENCH_HOST:-}" != 1 ]; then
    WHARF_BENCH_INNER=1 WHARF="$wharf" WORK="$work" RUNS="$RUNS" \
      WHARF_CGROUP_PARENT="$cgroup_parent" \
      unshare --mount --net --pid --fork --mount-proc --propagation private -- bash "$0"
    exit 0
  fi
  # Host mode: the fresh-namespace column first (its table is not printed),
  # then benches/host.sh. On Ctrl-C (or a signal to the process group) this
  # shell waits for host.sh to undo what it added before its own cleanup
  # removes the work directory.
  trap : INT TERM HUP
  progress() { echo "== $*" >&2; }
  progress "fresh namespaces: the lifecycle rows"
  WHARF_BENCH_INNER=1 WHARF="$wharf" WORK="$work" RUNS="$RUNS" \
    WHARF_CGROUP_PARENT="$cgroup_parent" WHARF_BENCH_LIFECYCLE_ONLY=1 \
    WHARF_BENCH_SAMPLES="$work/fresh.samples" \
    unshare --mount --net --pid --fork --mount-proc --propagation private -- bash "$0" >/dev/null
  WHARF="$wharf" WORK="$work" RUNS="$RUNS" SUITE="$repo/benches/suite.sh" \
    FRESH_SAMPLES="$work/fresh.samples" bash "$repo/benches/host.sh"
  exit 0
fi

# ---- inside the namespaces --------------------------------------------------

export WHARF_ROOT=$WORK/root
errors=$WORK/last-command.err
rows=()

# The namespace's own loopback, for the published ports and the registry.
busybox ip link set lo up

progress() { echo "== $*" >&2; }

# Run a command whose output is not wanted; on failure show its errors and stop.
quiet() {
  if ! "$@" >/dev/null 2>"$errors" </dev/null; then
    echo "failed: $*" >&2
    cat "$errors" >&2
    exit 1
  fi
}

# timed ARRAY CMD...: run CMD quietly and append its wall time (µs) to ARRAY.
timed() {
  local -n samples=$1
  shift
  local start=${EPOCHREALTIME/./}
  quiet "$@"
  local end=${EPOCHREALTIME/./}
  samples+=($((end - start)))
}

# row NAME UNIT DIVISOR TARGET ARRAY: one table row from the samples in ARRAY,
# each divided by DIVISOR (1000 turns µs into ms); TARGET is "<=N", ">=N" or "".
row() {
  local name=$1 unit=$2 divisor=$3 target=$4
  local -n samples=$5
  rows+=("$(printf '%s\n' "${samples[@]}" | sort -g | awk -v name="$name" -v unit="$unit" \
    -v div="$divisor" -v target="$target" '
    function shown(x) { return sprintf(x >= 1000 ? "%10.0f" : "%10.2f", x) }
    { v[NR] = $1 / div }
    END {
      n = NR
      median = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      verdict = ""
      goal = "-"
      limit = substr(target, 3) + 0
      if (target ~ /^<=/) { goal = "<= " limit; verdict = (median <= limit) ? "met" : "missed" }
      if (target ~ /^>=/) { goal = ">= " limit; verdict = (median >= limit) ? "met" : "missed" }
      printf "%-44s %-7s %s %s %s   %-10s %s\n", name, unit, shown(median), shown(v[1]), shown(v[n]), goal, verdict
    }')")
  # The host mode's two columns are made from these lines.
  if [ -n "${WHARF_BENCH_SAMPLES:-}" ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$unit" "$divisor" "${target:--}" "${samples[*]}" >>"$WHARF_BENCH_SAMPLES"
  fi
}

# A compose file with N idle busybox services that stop at once on SIGTERM.
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

# Sum of VmRSS and of Pss (KiB) of the running monitors, and their number
# (in the host mode, which sees other monitors too, those of its state root).
monitor_memory() {
  local rss=0 pss=0 count=0 pid cmdline value
  for pid in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' 2>/dev/null <"$pid/cmdline") || continue
    [[ $cmdline == *" __monitor "* ]] || continue
    [[ ${WHARF_BENCH_IN_HOST:-} != 1 || $cmdline == *" --root $WHARF_ROOT "* ]] || continue
    value=$(awk '/^VmRSS:/ { print $2 }' "$pid/status" 2>/dev/null) || continue
    rss=$((rss + ${value:-0}))
    value=$(awk '/^Pss:/ { print $2 }' "$pid/smaps_rollup" 2>/dev/null) || continue
    pss=$((pss + ${value:-0}))
    count=$((count + 1))
  done
  echo "$rss $pss $count"
}

# Poll URL until it answers, for at most 30 s.
wait_for_url() {
  local deadline=$((SECONDS + 30))
  until curl -sf -o /dev/null "$1"; do
    if ((SECONDS >= deadline)); then
      echo "$1 did not answer within 30 s" >&2
      exit 1
    fi
    sleep 0.05
  done
}

progress "importing busybox"
quiet "$WHARF" image import -c 'CMD ["/bin/sh"]' "$WORK/busybox.tar" busybox:latest

# One container start first: it compiles and caches the seccomp program, a
# one-time cost that would otherwise land in the first measured run.
mkdir -p "$WORK/oneoff"
cat >"$WORK/oneoff/compose.yaml" <<'EOF'
services:
  app:
    image: busybox:latest
    command: ["true"]
EOF
cd "$WORK/oneoff"
quiet "$WHARF" run --rm app true

progress "run --rm app true ($RUNS runs)"
run_rm=()
for ((r = 0; r < RUNS; r++)); do
  timed run_rm "$WHARF" run --rm app true
done
row "run --rm SERVICE true" ms 1000 "<=25" run_rm

# docker's single-container commands: a one-off run (its first run makes the
# default bridge, a one-time cost), then listing and inspecting among 50
# running containers.
cd "$WORK"
quiet "$WHARF" container run --rm busybox true
progress "container run --rm busybox true ($RUNS runs)"
container_run=()
for ((r = 0; r < RUNS; r++)); do
  timed container_run "$WHARF" container run --rm busybox true
done
row "container run --rm busybox true" ms 1000 "<=25" container_run
if [ "${WHARF_BENCH_LIFECYCLE_ONLY:-}" != 1 ]; then
  progress "container ls and inspect, 50 running ($RUNS runs)"
  names=()
  for ((i = 0; i < 50; i++)); do
    names+=("c$i")
    quiet "$WHARF" container run -d --name "c$i" busybox sleep 3600
  done
  container_ls=() container_inspect=()
  for ((r = 0; r < RUNS; r++)); do
    timed container_ls "$WHARF" container ls
    timed container_inspect "$WHARF" container inspect c25
  done
  row "container ls, 50 running" ms 1000 "<=15" container_ls
  row "container inspect, 50 running" ms 1000 "<=10" container_inspect
  quiet "$WHARF" container rm -f "${names[@]}"
fi

sizes=(3 50 100)
[ "${WHARF_BENCH_LIFECYCLE_ONLY:-}" != 1 ] || sizes=(3 50)
for n in "${sizes[@]}"; do
  progress "up -d / down of $n services ($RUNS runs)"
  mkdir -p "$WORK/idle$n"
  idle_services "$n" >"$WORK/idle$n/compose.yaml"
  cd "$WORK/idle$n"
  up=() down=() noop=() ps=() rss=() pss=() exec=()
  for ((r = 0; r < RUNS; r++)); do
    timed up "$WHARF" up -d
    if [ "$n" = 3 ]; then
      timed exec "$WHARF" exec -T s0 true
    fi
    if [ "$n" = 50 ]; then
      timed noop "$WHARF" up -d
      read -r rss_sum pss_sum monitors < <(monitor_memory)
      if [ "$monitors" != 50 ]; then
        echo "expected 50 monitors, found $monitors" >&2
        exit 1
      fi
      rss+=("$(awk -v s="$rss_sum" -v c="$monitors" 'BEGIN { print s / c / 1024 }')")
      pss+=("$(awk -v s="$pss_sum" -v c="$monitors" 'BEGIN { print s / c / 1024 }')")
    fi
    if [ "$n" = 100 ]; then
      timed ps "$WHARF" ps
    fi
    timed down "$WHARF" down
  done
  case $n in
    3) up_target="<=60" down_target="<=60" ;;
    50) up_target="<=1000" down_target="<=500" ;;
    *) up_target="" down_target="" ;;
  esac
  row "up -d, $n services" ms 1000 "$up_target" up
  if [ "$n" = 3 ]; then
    row "exec -T SERVICE true" ms 1000 "" exec
  fi
  if [ "$n" = 50 ]; then
    row "up -d with 50 running (nothing to do)" ms 1000 "" noop
    row "monitor RSS per container (50 running)" MiB 1 "<=1" rss
    row "monitor PSS per container (50 running)" MiB 1 "" pss
  fi
  if [ "$n" = 100 ]; then
    row "ps, 100 containers" ms 1000 "" ps
  fi
  row "down, $n services" ms 1000 "$down_target" down
done

# The same 3 services beside 200 unrelated interfaces (each with an address
# and a route) and 200 firewall rules, as on a busy host: what wharf does must
# not grow with what else the host has. (The host mode has its own, in
# addresses no host uses, and leaves these rows out.)
if [ "${WHARF_BENCH_IN_HOST:-}" != 1 ]; then
progress "up -d / down of 3 services beside 200 interfaces, routes and nft rules ($RUNS runs)"
clutter=$WORK/clutter
{
  for ((i = 0; i < 200; i++)); do
    echo "link add wbclutter$i type bridge"
    echo "link set wbclutter$i up"
    echo "address add 10.201.$i.1/32 dev wbclutter$i"
    echo "route add 10.202.$i.0/24 dev wbclutter$i"
  done
} >"$clutter.ip"
quiet ip -batch "$clutter.ip"
{
  echo "table inet wharf_bench_clutter {"
  echo "  chain filter { type filter hook forward priority 10;"
  for ((i = 0; i < 200; i++)); do
    echo "    ip saddr 10.202.$i.0/24 tcp dport $((10000 + i)) counter accept"
  done
  echo "  }"
  echo "}"
} >"$clutter.nft"
quiet nft -f "$clutter.nft"
cd "$WORK/idle3"
up=() down=()
for ((r = 0; r < RUNS; r++)); do
  timed up "$WHARF" up -d
  timed down "$WHARF" down
done
row "up -d, 3 services, 200 links/routes/rules" ms 1000 "<=60" up
row "down, 3 services, 200 links/routes/rules" ms 1000 "<=60" down
quiet nft delete table inet wharf_bench_clutter
for ((i = 0; i < 200; i++)); do echo "link delete wbclutter$i"; done >"$clutter.ip"
quiet ip -batch "$clutter.ip"
fi

if [ "${WHARF_BENCH_LIFECYCLE_ONLY:-}" != 1 ]; then
# A start-first update: `up -d` returns once the new container is healthy
# (its check passes on its first run, 100 ms after the start), has the name
# and the old one is gone.
progress "start-first update of one service ($RUNS runs)"
mkdir -p "$WORK/update"
cd "$WORK/update"
cat >compose.yaml <<'EOF'
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo $$VERSION > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
    environment:
      VERSION: ${VERSION:-0}
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 100ms
      start_interval: 100ms
      start_period: 10s
    deploy:
      update_config:
        order: start-first
EOF
quiet env VERSION=0 "$WHARF" up -d --wait
update=()
for ((r = 1; r <= RUNS; r++)); do
  timed update env VERSION=$r "$WHARF" up -d
done
quiet "$WHARF" down -t 0
row "start-first update, up -d to new serving" ms 1000 "" update

# The same with a published port, under load: a curl loop on the host's
# loopback (through the proxy) sends requests back to back while
# `up -d --no-downtime` hands the port to the new container. The time runs
# from the start of `up` until the port answers with the new version; the
# failed requests of each update are counted (docker compose's stop-first
# fails every request between the old container's stop and the new one's
# start).
progress "start-first update of a published port under load ($RUNS runs)"
mkdir -p "$WORK/handover"
cd "$WORK/handover"
cat >compose.yaml <<'EOF'
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo $$VERSION > /tmp/index.html && { httpd -f -p 8080 -h /tmp & } ; trap 'sleep 0.5; exit 0' TERM; while :; do sleep 1 & wait; done"]
    environment:
      VERSION: ${VERSION:-0}
    ports: ["18085:8080"]
    stop_grace_period: 3s
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 100ms
      start_interval: 100ms
      start_period: 10s
EOF
quiet env VERSION=0 "$WHARF" up -d --wait
wait_for_url http://127.0.0.1:18085/
handover=() handover_failed=()
for ((r = 1; r <= RUNS; r++)); do
  rm -f stop
  (
    while [ ! -e stop ]; do
      curl -sf -m 5 -o /dev/null http://127.0.0.1:18085/ && echo ok || echo failed
    done >load.log
  ) &
  loader=$!
  start=${EPOCHREALTIME/./}
  quiet env VERSION=$r "$WHARF" up -d --no-downtime
  deadline=$((SECONDS + 30))
  until [ "$(curl -s -m 5 http://127.0.0.1:18085/)" = "$r" ]; do
    ((SECONDS < deadline)) || { echo "version $r did not answer within 30 s" >&2; exit 1; }
    sleep 0.01
  done
  end=${EPOCHREALTIME/./}
  handover+=($((end - start)))
  touch stop
  wait "$loader"
  handover_failed+=("$(grep -c '^failed$' load.log || true)")
done
quiet "$WHARF" down -t 0
row "start-first, published port: up to new serving" ms 1000 "" handover
row "failed requests during it (loopback)" count 1 "<=0" handover_failed

progress "build: cold and unchanged ($RUNS runs)"
mkdir -p "$WORK/build"
cd "$WORK/build"
cat >compose.yaml <<'EOF'
services:
  app:
    build: .
    image: bench-build:latest
    command: ["cat", "/app/copy.txt"]
EOF
cat >Dockerfile <<'EOF'
FROM busybox:latest
COPY app.txt /app/app.txt
RUN cp /app/app.txt /app/copy.txt && echo built >> /app/copy.txt
EOF
echo "hello from the build context" >app.txt
cold=() rebuild=()
for ((r = 0; r < RUNS; r++)); do
  timed cold "$WHARF" build --no-cache app
done
for ((r = 0; r < RUNS; r++)); do
  timed rebuild "$WHARF" build app
done
row "build, cold (FROM busybox, COPY, RUN)" ms 1000 "" cold
row "build, nothing changed (all cached)" ms 1000 "<=50" rebuild

progress "pull from a loopback registry ($RUNS runs)"
mkdir -p "$WORK/layers" "$WORK/registry"
cat >"$WORK/layers/Dockerfile" <<'EOF'
FROM busybox:latest
RUN head -c 8000000 /dev/urandom > /layer1.bin
RUN head -c 8000000 /dev/urandom > /layer2.bin
RUN head -c 8000000 /dev/urandom > /layer3.bin
EOF
quiet "$WHARF" image build -t bench/layers:1 "$WORK/layers"
quiet "$WHARF" image save -o "$WORK/layers.tar" bench/layers:1
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry/storage
http:
  addr: 127.0.0.1:5000
EOF
/usr/bin/docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
registry=$!
wait_for_url http://127.0.0.1:5000/v2/
quiet skopeo copy --quiet --dest-tls-verify=false \
  "docker-archive:$WORK/layers.tar" docker://127.0.0.1:5000/bench/layers:1
image_bytes=$(du -sb "$WORK/registry/storage/docker/registry/v2/blobs" | cut -f1)
pull=() pull_rate=()
for ((r = 0; r < RUNS; r++)); do
  WHARF_ROOT=$WORK/pull$r timed pull "$WHARF" image pull 127.0.0.1:5000/bench/layers:1
  pull_rate+=("$(awk -v b="$image_bytes" -v us="${pull[-1]}" 'BEGIN { print b / us }')")
  rm -rf "$WORK/pull$r"
done
kill "$registry"
wait "$registry" 2>/dev/null || true
mib=$(awk -v b="$image_bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
row "image pull, 4 layers, $mib MiB (loopback)" ms 1000 "" pull
row "image pull throughput" MB/s 1 "" pull_rate

progress "logs throughput ($RUNS runs)"
lines=200000
mkdir -p "$WORK/logs"
cd "$WORK/logs"
cat >compose.yaml <<EOF
services:
  talker:
    image: busybox:latest
    command: ["seq", "1", "$lines"]
EOF
quiet "$WHARF" up -d
quiet "$WHARF" wait talker
logged=$("$WHARF" logs --no-log-prefix talker | wc -l)
if [ "$logged" != "$lines" ]; then
  echo "logs returned $logged lines, expected $lines" >&2
  exit 1
fi
logs=() logs_rate=()
for ((r = 0; r < RUNS; r++)); do
  timed logs "$WHARF" logs --no-color talker
  logs_rate+=("$(awk -v n="$lines" -v us="${logs[-1]}" 'BEGIN { print n / us * 1e6 }')")
done
quiet "$WHARF" down
row "logs, $lines lines" ms 1000 "" logs
row "logs throughput" lines/s 1 "" logs_rate

progress "published port throughput ($RUNS runs)"
mkdir -p "$WORK/web/www"
cd "$WORK/web"
head -c 268435456 /dev/zero >www/big.bin
cat >compose.yaml <<'EOF'
services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: ["./www:/www:ro"]
    ports: ["18080:8080"]
EOF
quiet "$WHARF" up -d
wait_for_url http://127.0.0.1:18080/big.bin
address=$("$WHARF" exec -T web ip -4 -o addr show eth0 | awk '{ split($4, a, "/"); print a[1] }')
# A second host: its own network namespace behind a veth pair on a /30
# (iproute2's ip: busybox's does not name a veth peer). Its requests to
# 10.250.0.1 take the DNAT path, loopback ones the proxy.
unshare --net sleep 600 &
client=$!
until [ "$(readlink /proc/$client/ns/net)" != "$(readlink /proc/self/ns/net)" ]; do sleep 0.01; done
in_client() { nsenter --net="/proc/$client/ns/net" "$@"; }
quiet ip link add wbench0 type veth peer name wbench1 netns "$client"
quiet ip addr add 10.250.0.1/30 dev wbench0
quiet ip link set wbench0 up
quiet in_client ip addr add 10.250.0.2/30 dev wbench1
quiet in_client ip link set wbench1 up
quiet in_client ip route add default via 10.250.0.1
published=() dnat=() direct=()
for ((r = 0; r < RUNS; r++)); do
  published+=("$(curl -s -o /dev/null -w '%{speed_download}' http://127.0.0.1:18080/big.bin)")
  dnat+=("$(in_client curl -s -o /dev/null -w '%{speed_download}' http://10.250.0.1:18080/big.bin)")
  direct+=("$(curl -s -o /dev/null -w '%{speed_download}' "http://$address:8080/big.bin")")
done
kill "$client"
wait "$client" 2>/dev/null || true
quiet "$WHARF" down
row "published port, 256 MiB over HTTP (proxy)" MB/s 1000000 "" published
row "the same from another host (DNAT)" MB/s 1000000 "" dnat
row "the same, straight to the container" MB/s 1000000 "" direct

progress "network connect ($RUNS runs)"
mkdir -p "$WORK/connect"
cd "$WORK/connect"
cat >compose.yaml <<'EOF'
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
    networks: [back]
networks:
  back: {}
EOF
quiet "$WHARF" up -d
connect=() disconnect=()
for ((r = 0; r < RUNS; r++)); do
  timed connect "$WHARF" network connect connect_back connect-app-1
  timed disconnect "$WHARF" network disconnect connect_back connect-app-1
done
quiet "$WHARF" down
row "network connect of a running container" ms 1000 "" connect
row "network disconnect" ms 1000 "" disconnect

# The Engine API through the real docker CLI (client only, unpacked by
# scripts/install-deps.sh): a one-off run, a listing of 50 running
# containers, and the service's memory while idle between requests.
docker_cli=/var/cache/wharf-dev/docker-cli/docker
if [ -x "$docker_cli" ]; then
  progress "Engine API: docker run --rm busybox true ($RUNS runs)"
  mkdir -p "$WORK/api"
  api_socket=$WORK/api/docker.sock
  "$WHARF" system service --timeout 0 "unix://$api_socket" >/dev/null 2>"$WORK/api/service.err" &
  api_pid=$!
  deadline=$((SECONDS + 30))
  until curl -sf --unix-socket "$api_socket" http://docker/_ping >/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "wharf system service did not answer within 30 s" >&2
      cat "$WORK/api/service.err" >&2
      exit 1
    fi
    sleep 0.05
  done
  export DOCKER_HOST=unix://$api_socket DOCKER_CONFIG=$WORK/api/docker-config
  quiet "$docker_cli" run --rm busybox true
  api_run=() api_rss=()
  for ((r = 0; r < RUNS; r++)); do
    timed api_run "$docker_cli" run --rm busybox true
    api_rss+=("$(awk '/^VmRSS:/ { print $2 }' "/proc/$api_pid/status")")
  done
  row "docker run --rm busybox true (Engine API)" ms 1000 "<=40" api_run
  row "Engine API service RSS, idle" MiB 1024 "<=10" api_rss
  progress "Engine API: docker ps with 50 running ($RUNS runs)"
  for ((i = 0; i < 50; i++)); do
    quiet "$docker_cli" run -d busybox sleep 3600
  done
  api_ps=()
  for ((r = 0; r < RUNS; r++)); do
    timed api_ps "$docker_cli" ps
  done
  row "docker ps, 50 running (Engine API)" ms 1000 "<=20" api_ps
  "$docker_cli" ps -aq | xargs "$docker_cli" rm -f >/dev/null
  kill "$api_pid"
  wait "$api_pid" || true
  unset DOCKER_HOST DOCKER_CONFIG
else
  progress "skipped: the Engine API rows need the docker CLI at $docker_cli (scripts/install-deps.sh)"
fi
fi

echo
echo "wharf benchmark suite: $RUNS runs each; $(nproc) CPUs, kernel $(uname -r)"
printf "%-44s %-7s %10s %10s %10s   %-10s %s\n" benchmark unit median min max target ""
for line in "${rows[@]}"; do
  echo "$line"
done
