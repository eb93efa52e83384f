#!/usr/bin/env bash
# Installs what wharf needs to build, run its examples and run its tests on
# Debian 12: the system packages below and the Rust components fmt/clippy.
# With --run, only what building wharf and running its examples needs (what
# scripts/demo.sh asks for); the test tools are left out.
set -euo pipefail
for_tests=1
[ "${1:-}" = --run ] && for_tests=0

packages=(
  busybox-static   # the busybox test and example image is made from it
  debootstrap      # makes the debian:bookworm-slim base image of examples/devstack
  nftables         # the firewall driver (outbound NAT) talks to nft's JSON interface
  curl ca-certificates
)
if [ "$for_tests" = 1 ]; then packages+=(
  util-linux       # unshare: the privileged tests run in fresh namespaces
  docker-registry  # a real registry on 127.0.0.1 for the pull/push tests
  skopeo           # seeds that registry independently of wharf
  qemu-system-x86  # scripts/test-vm.sh boots a cgroup v2 guest for the cgroup tests
  chromium chromium-driver  # the dashboard's browser tests (headless, through chromedriver)
  podman catatonit  # `podman kube play` runs `convert kubernetes` output (a client only; catatonit is its pods' pause process)
  containernetworking-plugins  # podman 4.3's bridge network (CNI bridge, portmap) for the examples under `podman kube play`
  docker-compose python3-docker  # Compose 1.29 and docker-py drive `wharf system service` (clients only, no daemon)
  iptables         # `benches/suite.sh --host` adds a Docker daemon's rules with iptables-nft, as dockerd does
); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$for_tests" = 0 ]; then
  exit 0
fi
# podman's package enables its API socket, its service and its timers: the
# tests use podman as a client only, so none of them may run on the host.
podman_units=(podman.socket podman.service podman-restart.service podman-auto-update.service
  podman-auto-update.timer)
if command -v systemctl >/dev/null 2>&1 && [ -e /lib/systemd/system/podman.socket ]; then
  systemctl disable "${podman_units[@]}" >/dev/null 2>&1
  if [ -d /run/systemd/system ]; then
    systemctl stop "${podman_units[@]}"
  fi
fi
# Prometheus and promtool check and scrape `wharf dashboard`'s /metrics.
# The package is only unpacked, not installed: installing it would start a
# system service.
prometheus_dir=/var/cache/wharf-dev/prometheus
if [ ! -x "$prometheus_dir/prometheus" ] || [ ! -x "$prometheus_dir/promtool" ]; then
  echo "unpacking: prometheus into $prometheus_dir"
  unpack=$(mktemp -d)
  (cd "$unpack" && apt-get download prometheus >/dev/null && dpkg -x prometheus_*.deb root)
  mkdir -p "$prometheus_dir"
  cp "$unpack/root/usr/bin/prometheus" "$unpack/root/usr/bin/promtool" "$prometheus_dir/"
  rm -rf "$unpack"
fi
# The docker CLI drives `wharf system service` in the Engine API tests. Only
# its client is kept: the package's daemon is never installed or started.
docker_cli_dir=/var/cache/wharf-dev/docker-cli
if [ ! -x "$docker_cli_dir/docker" ]; then
  echo "unpacking: the docker CLI into $docker_cli_dir"
  unpack=$(mktemp -d)
  (cd "$unpack" && apt-get download docker.io >/dev/null && dpkg -x docker.io_*.deb root)
  mkdir -p "$docker_cli_dir"
  cp "$unpack/root/usr/bin/docker" "$docker_cli_dir/"
  rm -rf "$unpack"
fi
# docker compose v2 drives `wharf system service` in the Engine API tests.
# Debian 12 has no package of it; Debian 13's is fetched from the mirror this
# host's apt sources already use (with private package lists, so the host's
# apt state is left alone) and only unpacked, as the docker CLI's plugin.
compose_v2_dir=/var/cache/wharf-dev/docker-compose-v2
if [ ! -x "$compose_v2_dir/cli-plugins/docker-compose" ]; then
  . "$(dirname "$0")/host-apt-uri.sh"
  mirror=$(host_apt_uri '(^|[[:space:]])(bookworm|stable)([[:space:]]|$)' | sed -n 1p)
  if [ -z "$mirror" ]; then
    echo "no Debian mirror in this host's apt sources: docker compose v2 is not fetched" >&2
  else
    echo "unpacking: docker compose v2 (Debian 13) into $compose_v2_dir"
    unpack=$(mktemp -d)
    chmod 755 "$unpack"
    mkdir -p "$unpack/lists/partial" "$unpack/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
      >"$unpack/sources.list"
    apt_private=(-o "Dir::Etc::SourceList=$unpack/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$unpack/lists" -o "Dir::Cache=$unpack/cache" -o Debug::NoLocking=1
      -o APT::Sandbox::User=root)
    (cd "$unpack" && apt-get "${apt_private[@]}" update -qq >/dev/null &&
      apt-get "${apt_private[@]}" download docker-compose >/dev/null &&
      dpkg -x docker-compose_*.deb root)
    mkdir -p "$compose_v2_dir/cli-plugins"
    cp "$unpack/root/usr/libexec/docker/cli-plugins/docker-compose" "$compose_v2_dir/cli-plugins/"
    rm -rf "$unpack"
  fi
fi
# The manifests of `wharf convert kubernetes` are checked against Kubernetes'
# schemas by this Python package (it ships them).
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "installing: kubernetes-validate"
  pip install --quiet kubernetes-validate
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
