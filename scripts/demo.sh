#!/usr/bin/env bash
# Sets this machine up and brings up examples/devstack: installs the system
# packages, builds wharf and installs it as /usr/local/bin/wharf (with the
# containers' monitor, wharf-monitor, beside it; and as
# /usr/local/bin/docker when there is no docker; its manual pages in
# /usr/local/share/man/man1; with systemd, the wharf-boot.service unit that
# starts containers with a restart policy after a reboot), makes the
# debian:bookworm-slim base image with debootstrap (cached after the first run),
# builds the stack's images (MariaDB, Redis and a Python web app; apt-get
# downloads their packages), starts it, and shows it working.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/install-deps.sh --run
cargo build --release --locked
install -m 0755 "${CARGO_TARGET_DIR:-target}/release/wharf" /usr/local/bin/wharf
# Each container's monitor runs this small program found beside wharf.
install -m 0755 "${CARGO_TARGET_DIR:-target}/release/wharf-monitor" /usr/local/bin/wharf-monitor
echo "installed /usr/local/bin/wharf and /usr/local/bin/wharf-monitor"
# Invoked as `docker`, wharf takes docker's commands (as podman-docker does).
if ! command -v docker >/dev/null 2>&1; then
  ln -sf /usr/local/bin/wharf /usr/local/bin/docker
  echo "installed /usr/local/bin/docker (wharf with docker's commands)"
fi
mkdir -p /usr/local/share/man/man1
wharf man /usr/local/share/man/man1
echo "installed its manual pages in /usr/local/share/man/man1 (man wharf, man wharf-up, ...)"
# With no daemon, a boot unit starts the containers whose restart policy says
# they run after a reboot (`wharf system boot`).
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  install -m 0644 contrib/systemd/wharf-boot.service /etc/systemd/system/wharf-boot.service
  systemctl daemon-reload
  systemctl enable wharf-boot.service
  echo "installed and enabled wharf-boot.service (starts containers with --restart always|unless-stopped at boot)"
else
  echo "systemd is not running: after a reboot, run 'wharf system boot' to start containers with a restart policy"
fi

if ! wharf image inspect debian:bookworm-slim >/dev/null 2>&1; then
  base=$(bash scripts/make-debian-base.sh)
  wharf image import -c 'CMD ["bash"]' "$base" debian:bookworm-slim
fi

cd examples/devstack
set -x
wharf up -d --build --wait
curl -fsS http://127.0.0.1:8080/
curl -fsS http://127.0.0.1:8080/
wharf ps
wharf stats --no-stream
{ set +x; } 2>/dev/null
echo
echo "The devstack is up (took $((SECONDS - start)) s). Try: cd examples/devstack && wharf logs -f"
echo "Stop it with: wharf down    (add -v to delete the database volume too)"
