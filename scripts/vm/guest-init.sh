#!/bin/bash
# Process 1 of the test guest once the host's root is its root (see test-vm.sh):
# mounts the unified cgroup v2 hierarchy and the usual pseudo file systems, runs the
# run's command and reports its exit status on the console and in the run
# directory, then powers the guest off.
run=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
status=125
finish() {
    echo "WHARF-VM-STATUS=$status"
    echo "$status" >"$run/status"
    sync
    busybox poweroff -f
}
trap finish EXIT
set -e
kver=$(uname -r)
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# The run's working directory (the checkout) may lie under a directory the
# guest gets a fresh tmpfs for: it is kept visible at its own path.
cwd=$(cat "$run/cwd")
case "$cwd/" in
/tmp/* | /run/* | /var/tmp/*)
    mkdir -p /mnt/wharf-cwd
    mount --bind "$cwd" /mnt/wharf-cwd
    ;;
esac
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755 tmpfs /var/tmp
if mountpoint -q /mnt/wharf-cwd; then
    mkdir -p "$cwd"
    mount --move /mnt/wharf-cwd "$cwd"
fi
mkdir -p "/usr/lib/modules/$kver"
mount --bind "$(cat "$run/modules")" "/usr/lib/modules/$kver"
# The host has no kmod; busybox's modprobe serves the kernel's module requests
# (bridge, veth, nftables) from the guest's own modules.
ln -sf /bin/busybox /run/modprobe
echo /run/modprobe >/proc/sys/kernel/modprobe
# What udev would add: the /dev/fd links (nft reads `-` as /dev/stdin) and the
# loop driver's control node (a device the tests pass to containers).
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
busybox modprobe loop || echo "wharf-vm: no loop module: /dev/loop-control is missing"
# What the tests' networks need, loaded up front instead of on the kernel's
# first request: bridges, veth pairs and the nftables NAT and forwarding rules.
for module in bridge veth nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet; do
    busybox modprobe "$module" || echo "wharf-vm: cannot load the $module module"
done
busybox ip link set lo up
hostname wharf-vm
set +e
echo "wharf-vm: cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
cd "$cwd"
bash "$run/cmd"
status=$?
