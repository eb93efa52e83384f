#!/usr/bin/env bash
# Builds the image of examples/registry (`registry:2`, Debian's docker-registry
# package on debian:bookworm-slim) with wharf, in the host's network namespace (its
# Dockerfile installs the package with apt-get), and saves it into a
# docker-archive that the end-to-end test loads inside its own namespaces.
# Prints the archive's path.
#
# Usage: make-registry-image.sh [WHARF_BINARY]   (default: wharf on PATH)
#
# The archive is cached in WHARF_DEV_CACHE (default /var/cache/wharf-dev) under a
# name that hashes the build context and the base image, so it is made again
# only when one of them changes.
set -euo pipefail
cd "$(dirname "$0")/.."
wharf=${1:-wharf}
if ! wharf=$(command -v "$wharf"); then
  echo "make-registry-image: no wharf binary at $wharf" >&2
  exit 1
fi
wharf=$(realpath "$wharf")
cache=${WHARF_DEV_CACHE:-/var/cache/wharf-dev}
mkdir -p "$cache"
base=$(bash scripts/make-debian-base.sh)

key=$( { sha256sum "$base" | cut -d' ' -f1
         cd examples/registry && find . -type f ! -name README.md -print0 | sort -z | xargs -0 sha256sum; } \
       | sha256sum | cut -c1-16)
out=$cache/registry-image-$key.tar
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

root=$(mktemp -d "$cache/registry-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
export WHARF_ROOT=$root
echo "make-registry-image: building registry:2 (apt-get downloads docker-registry)" >&2
"$wharf" image import -c 'CMD ["bash"]' "$base" debian:bookworm-slim >/dev/null
"$wharf" image build --network host -t registry:2 examples/registry >&2
rm -f "$cache"/registry-image-*.tar
"$wharf" image save -o "$out.part" registry:2
mv "$out.part" "$out"
echo "$out"
