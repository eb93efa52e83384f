# The host mode's peer column (sourced by benches/host.sh): when a Docker
# daemon answers `docker info` (through DOCKER_HOST or the default socket; the
# scripts never start one), the lifecycle scenarios run with docker and docker
# compose on the same projects, with busybox imported from the suite's tar
# under a name of its own. It measures whatever daemon answers: a dockerd, or
# another engine's Docker API such as `wharf system service`.
#
# Sets peer_title (empty: no column), peer_note (the header line),
# docker_cli, peer_projects and peer_image_added, which host.sh's cleanup
# reads to bring the projects down and remove the image.

peer_title=""
compose_plugins=/var/cache/wharf-dev/docker-compose-v2/cli-plugins

# peer_timed ARRAY CMD...: like the suite's `timed`, for docker's commands.
peer_timed() {
  local -n peer_times=$1
  shift
  local start=${EPOCHREALTIME/./}
  # A subshell: a trap that runs while a function given here is running
  # would otherwise inherit its redirections.
  if ! ("$@") >/dev/null 2>"$WORK/peer.err" </dev/null; then
    echo "failed: $*" >&2
    cat "$WORK/peer.err" >&2
    exit 1
  fi
  local end=${EPOCHREALTIME/./}
  peer_times+=($((end - start)))
}

# peer_row NAME ARRAY: the samples of a row, in the suite's samples format.
peer_row() {
  local -n peer_values=$2
  printf '%s\tms\t1000\t-\t%s\n' "$1" "${peer_values[*]}" >>"$peer_samples"
}

measure_peer() {
  local cli server dir n
  if command -v docker >/dev/null; then
    cli=$(command -v docker)
  elif [ -x /var/cache/wharf-dev/docker-cli/docker ]; then
    cli=/var/cache/wharf-dev/docker-cli/docker
  else
    peer_note="peer: no docker CLI on this machine, so no peer column"
    return 0
  fi
  if ! timeout 20 "$cli" info >/dev/null 2>&1; then
    peer_note="peer: no Docker daemon answered at ${DOCKER_HOST:-the default socket}, so no peer column"
    return 0
  fi
  docker_cli=("$cli")
  if ! "$cli" compose version >/dev/null 2>&1 && [ -x "$compose_plugins/docker-compose" ]; then
    export DOCKER_CONFIG=$WORK/docker-config
    mkdir -p "$DOCKER_CONFIG"
    ln -s "$compose_plugins" "$DOCKER_CONFIG/cli-plugins"
  fi
  if ! "$cli" compose version >/dev/null 2>&1; then
    peer_note="peer: docker answers but has no compose plugin, so no peer column"
    docker_cli=()
    return 0
  fi
  server=$("$cli" version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)
  peer_note="peer: docker and docker compose $("$cli" compose version --short 2>/dev/null) against whatever daemon answers at ${DOCKER_HOST:-the default socket} (server $server); ratio = peer / host ns"
  peer_title=docker

  progress "peer: importing busybox into the daemon as $peer_image"
  if ! "$cli" image inspect "$peer_image" >/dev/null 2>&1; then
    peer_image_added=1
    "$cli" image import -c 'CMD ["/bin/sh"]' "$WORK/busybox.tar" "$peer_image" >/dev/null
  fi
  for dir in oneoff idle3 idle50; do
    mkdir -p "$WORK/peer/$dir"
    sed "s#image: busybox:latest#image: $peer_image#" "$host_work/$dir/compose.yaml" >"$WORK/peer/$dir/compose.yaml"
    peer_projects+=("$peer_prefix$dir")
  done
  peer_compose() {
    local project=$1
    shift
    "$cli" compose -p "$peer_prefix$project" -f "$WORK/peer/$project/compose.yaml" "$@"
  }

  progress "peer: docker compose run --rm app true ($RUNS runs)"
  local run_rm=() container_run=()
  peer_timed run_rm peer_compose oneoff run --rm -l "$peer_label" app true
  run_rm=()
  for ((r = 0; r < RUNS; r++)); do
    peer_timed run_rm peer_compose oneoff run --rm -l "$peer_label" app true
  done
  peer_row "run --rm SERVICE true" run_rm
  progress "peer: docker run --rm busybox true ($RUNS runs)"
  peer_timed container_run "$cli" run --rm -l "$peer_label" "$peer_image" true
  container_run=()
  for ((r = 0; r < RUNS; r++)); do
    peer_timed container_run "$cli" run --rm -l "$peer_label" "$peer_image" true
  done
  peer_row "container run --rm busybox true" container_run
  for n in 3 50; do
    progress "peer: docker compose up -d / down of $n services ($RUNS runs)"
    local up=() down=()
    for ((r = 0; r < RUNS; r++)); do
      peer_timed up peer_compose "idle$n" up -d
      peer_timed down peer_compose "idle$n" down
    done
    peer_row "up -d, $n services" up
    peer_row "down, $n services" down
  done
}
