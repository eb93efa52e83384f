#!/usr/bin/env bash
# Builds the images of examples/devstack (db, cache, web) with wharf, on the
# host's network (their Dockerfiles install Debian packages with apt-get), and
# saves them into one docker-archive that the end-to-end test loads inside its
# own namespaces. Prints the archive's path.
#
# Usage: make-devstack-images.sh [WHARF_BINARY]   (default: wharf on PATH)
#
# The archive is cached in WHARF_DEV_CACHE (default /var/cache/wharf-dev) under a
# name that hashes the example's build contexts, the base image and this script,
# so it is made again only when one of them changes.
#
# The base gets docker's default PATH in its config, as debian's published image
# carries it and docker's builder adds it to an image without one: every runtime
# then finds the images' programs (podman adds no PATH of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
wharf=${1:-wharf}
if ! wharf=$(command -v "$wharf"); then
  echo "make-devstack-images: no wharf binary at $wharf" >&2
  exit 1
fi
wharf=$(realpath "$wharf")
cache=${WHARF_DEV_CACHE:-/var/cache/wharf-dev}
base=$(bash scripts/make-debian-base.sh)

key=$( { sha256sum "$base" scripts/make-devstack-images.sh | cut -d' ' -f1
         cd examples/devstack && find db cache web -type f -print0 | sort -z | xargs -0 sha256sum; } \
       | sha256sum | cut -c1-16)
out=$cache/devstack-images-$key.tar
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

root=$(mktemp -d "$cache/devstack-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
export WHARF_ROOT=$root
echo "make-devstack-images: building the devstack images (apt-get downloads packages)" >&2
"$wharf" image import -c 'CMD ["bash"]' \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$base" debian:bookworm-slim >/dev/null
(cd examples/devstack && "$wharf" build >&2)
rm -f "$cache"/devstack-images-*.tar
"$wharf" image save -o "$out.part" devstack-db devstack-cache devstack-web
mv "$out.part" "$out"
echo "$out"
