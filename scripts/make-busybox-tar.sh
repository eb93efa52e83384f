#!/usr/bin/env bash
# Builds a busybox root filesystem tarball from Debian's busybox-static:
# the static binary, one link per applet in /bin, /etc/passwd and /etc/group.
# Usage: scripts/make-busybox-tar.sh [OUT.tar]   (default: busybox.tar)
set -euo pipefail
out=${1:-busybox.tar}
bb=/bin/busybox
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
  echo "busybox-static is not installed: run scripts/install-deps.sh (or apt-get install busybox-static)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,etc,root,tmp,proc,sys,dev,home,var/www,usr/bin,usr/sbin,sbin}
chmod 1777 "$tmp/tmp"
chmod 700 "$tmp/root"
cp "$bb" "$tmp/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$tmp/bin/$applet"
done
cat > "$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$tmp/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
tty:x:5:
www-data:x:33:
nogroup:x:65534:
GROUP
tar --numeric-owner --owner=0 --group=0 -C "$tmp" -cf "$out" .
echo "$out"
