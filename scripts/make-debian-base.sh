#!/usr/bin/env bash
# Makes the `debian:bookworm-slim` base image of the examples and tests on this
# machine, with debootstrap (variant minbase), as a root file system tarball that
# `wharf image import` takes. Prints the tarball's path.
#
# The tarball is cached (WHARF_DEV_CACHE, default /var/cache/wharf-dev), so only the
# first run bootstraps; delete the file to make it again. DEBIAN_MIRROR chooses the
# mirror; by default it is the one this host's own apt sources use for Debian (or
# debootstrap's own default when they name none), and the security archive is the
# host's too when its sources list one.
#
# Like Docker's debian:bookworm-slim it leaves out documentation and man pages,
# keeps no package lists or downloaded packages, has apt sources for bookworm,
# bookworm-updates and bookworm-security, and refuses to start services during
# package installation (policy-rc.d). /etc/resolv.conf, /etc/hosts and
# /etc/hostname are left to the container engine.
set -euo pipefail

cache=${WHARF_DEV_CACHE:-/var/cache/wharf-dev}
# host_apt_uri: the mirror this host's apt sources use.
. "$(dirname "$0")/host-apt-uri.sh"
mirror=${DEBIAN_MIRROR:-$(host_apt_uri '(^|[[:space:]])(bookworm|stable)([[:space:]]|$)' | sed -n 1p)}
security_mirror=${DEBIAN_SECURITY_MIRROR:-$(host_apt_uri '(bookworm|stable)-security' | sed -n 1p)}
out=$cache/debian-bookworm-slim.tar
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "make-debian-base: debootstrap is missing (run scripts/install-deps.sh)" >&2
  exit 1
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/bootstrap.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

echo "make-debian-base: bootstrapping Debian 12 (bookworm, minbase) from ${mirror:-the default mirror of debootstrap}" >&2
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
# Excludes apply from the first package unpacked, so they are in place before
# debootstrap starts.
cat > "$root/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
# Keep images small: no documentation, manuals or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
if ! debootstrap --variant=minbase bookworm "$root" ${mirror:+"$mirror"} > "$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  echo "make-debian-base: debootstrap failed (full log above; check the mirror, or set DEBIAN_MIRROR)" >&2
  exit 1
fi
# The image's sources name the mirror debootstrap really used.
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" { print $2; exit }' "$root/etc/apt/sources.list")
fi
security_mirror=${security_mirror:-${mirror%/debian}/debian-security}

rm -f "$root/etc/apt/sources.list" "$root/etc/resolv.conf" "$root/etc/hostname" "$root/etc/hosts"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
cat > "$root/etc/apt/apt.conf.d/docker-like-clean" <<'CFG'
// Images keep neither downloaded packages nor translations.
APT::Keep-Downloaded-Packages "false";
Acquire::Languages "none";
CFG
printf '#!/bin/sh\n# No services are started while packages install in an image build.\nexit 101\n' \
  > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/usr/share/doc/*/changelog*
tar --numeric-owner --xattrs -C "$root" -cf "$work/base.tar" .
mv "$work/base.tar" "$out"
echo "$out"
