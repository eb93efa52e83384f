#!/usr/bin/env bash
# Installs what is needed, builds wharf, and brings up the hello example:
# a busybox web server and a worker, shown working with curl, ps, logs and stats.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --locked
wharf=$PWD/target/release/wharf
install -m 0755 "$wharf" /usr/local/bin/wharf
echo "installed /usr/local/bin/wharf"

tar=$(mktemp --suffix=.tar)
bash scripts/make-busybox-tar.sh "$tar" >/dev/null
wharf image import -c 'CMD ["/bin/sh"]' "$tar" busybox:latest
rm -f "$tar"
wharf image ls

cd examples/hello
set -x
wharf up -d
curl -fsS http://127.0.0.1:18080/
wharf ps
wharf exec web ping -c 1 worker
sleep 2
wharf logs --tail 3 worker
wharf stats --no-stream
{ set +x; } 2>/dev/null
echo
echo "The hello stack is up. Try: cd examples/hello && wharf logs -f    (stop it with: wharf down)"
