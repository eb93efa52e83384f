#!/usr/bin/env bash
# Runs a command as root inside a Debian 12 guest that boots with the unified cgroup
# v2 hierarchy only (cgroup_no_v1=all), and exits with its status. Without a
# command it runs the cgroup test lane (scripts/vm/lane.sh): the privileged and
# end-to-end tests that touch cgroups, built here on the host.
#
#   scripts/test-vm.sh                 # the lane
#   scripts/test-vm.sh -- CMD [ARG..]  # any command, e.g. benches/suite.sh
#
# The guest is Debian's linux-image-amd64 kernel with a busybox initramfs; it mounts
# this host's root file system read-only over 9p (a tmpfs overlay on top takes the
# writes), so every host tool and the test binaries in target/ are there without
# copying. Kernel, modules and initramfs are cached under $WHARF_VM_CACHE (default
# /var/cache/wharf-dev/vm), keyed by the kernel package's version. KVM is tried for
# a few seconds (a first line from the guest's init); without it the guest runs
# under TCG.
#
# Exit status: the command's; 77 when this host cannot run the guest (what is
# missing is said), so scripts/test.sh reports the lane as skipped; 2 for a
# usage error or a build that fails; 124 and 125 when the guest ran too long
# or stopped without a status.
#
# Environment: WHARF_VM_MEMORY (4G), WHARF_VM_CPUS (2), WHARF_VM_TIMEOUT (seconds
# for the whole run, 2400), WHARF_VM_ACCEL (kvm|tcg, to skip the probe),
# WHARF_VM_APPEND (more kernel parameters, e.g. cgroup_disable=pids).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${WHARF_VM_CACHE:-/var/cache/wharf-dev/vm}
memory=${WHARF_VM_MEMORY:-4G}
cpus=${WHARF_VM_CPUS:-2}
timeout_s=${WHARF_VM_TIMEOUT:-2400}
kvm_deadline_s=10

say() { echo "test-vm: $*" >&2; }
die() {
    say "$*"
    exit 2
}
# What this host lacks to boot the guest: not a test failure.
cannot() {
    say "cannot run the guest here: $*"
    exit 77
}

if [ "${1:-}" = "--" ]; then
    shift
    [ $# -gt 0 ] || die "usage: $0 [-- COMMAND [ARG...]]"
    command=("$@")
else
    [ $# -eq 0 ] || die "usage: $0 [-- COMMAND [ARG...]]"
    lane=1
fi

# What the host needs, and why.
[ "$(id -u)" = 0 ] || cannot "needs root: the guest's tests run as root and it exports / over 9p"
command -v qemu-system-x86_64 >/dev/null ||
    cannot "needs qemu-system-x86_64 to boot the cgroup v2 guest (Debian: apt-get install qemu-system-x86)"
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx switch_root ||
    cannot "needs /bin/busybox (Debian: busybox-static) for the guest's initramfs"
for tool in apt-get apt-cache dpkg-deb gzip; do
    command -v "$tool" >/dev/null || cannot "needs $tool to fetch and unpack the guest kernel package"
done
available_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
wanted_mib=$(numfmt --from=iec "$memory" 2>/dev/null | awk '{ print int($1 / 1048576) }')
[ -n "$wanted_mib" ] || die "WHARF_VM_MEMORY=$memory is not a size such as 4G"
[ "$available_mib" -gt "$wanted_mib" ] ||
    cannot "needs $memory of free memory for the guest ($available_mib MiB available): free some or set WHARF_VM_MEMORY"
mkdir -p "$cache"
free_kib=$(df -Pk "$cache" | awk 'NR == 2 { print $4 }')

# The guest kernel: Debian's linux-image-amd64 resolves to linux-image-<abi>-amd64.
kernel_package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
kernel_version=
if [ -n "$kernel_package" ]; then
    kernel_version=$(apt-cache policy "$kernel_package" | awk '/Candidate:/ { print $2 }')
fi
if [ -n "$kernel_version" ] && [ "$kernel_version" != "(none)" ]; then
    key="$kernel_package-$kernel_version"
else
    # apt knows no kernel package (no package lists): a cached kernel still does.
    key=$(find "$cache" -mindepth 2 -maxdepth 2 -name ready -printf '%h\n' 2>/dev/null | sort | tail -n1)
    key=${key##*/}
    [ -n "$key" ] || cannot "apt knows no linux-image-amd64 and nothing is cached in $cache: run apt-get update"
fi
dir="$cache/$key"

if [ ! -e "$dir/ready" ]; then
    [ "$free_kib" -gt $((1024 * 1024)) ] ||
        cannot "needs 1 GiB free in $cache for the guest kernel and its modules ($((free_kib / 1024)) MiB free)"
    say "preparing the guest kernel $key in $dir"
    rm -rf "$dir"
    mkdir -p "$dir/download"
    (cd "$dir/download" && apt-get download "$kernel_package=$kernel_version" >/dev/null 2>&1) ||
        cannot "cannot download $kernel_package=$kernel_version (apt-get download): check the package sources and the network"
    dpkg-deb -x "$dir"/download/*.deb "$dir/unpacked"
    kver=$(ls "$dir/unpacked/lib/modules")
    mv "$dir/unpacked/boot/vmlinuz-$kver" "$dir/vmlinuz"
    mv "$dir/unpacked/lib/modules/$kver" "$dir/modules"
    rm -rf "$dir/unpacked" "$dir/download"
    # Debian's postinst runs depmod; busybox's serves here (the host may have no kmod).
    mkdir -p "$dir/depmod/lib/modules"
    ln -s ../../../modules "$dir/depmod/lib/modules/$kver"
    busybox depmod -b "$dir/depmod" "$kver"
    rm -rf "$dir/depmod"
    echo "$kver" >"$dir/kver"
    touch "$dir/ready"
fi
kver=$(cat "$dir/kver")

# The initramfs, made again when its init script changes.
initramfs_image="$dir/initramfs-$(sha256sum "$repo/scripts/vm/initramfs-init" | cut -c1-16).cpio.gz"
if [ ! -e "$initramfs_image" ]; then
    initramfs=$(mktemp -d "$dir/initramfs.XXXXXX")
    mkdir -p "$initramfs"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules/"$kver"}
    cp /bin/busybox "$initramfs/bin/busybox"
    cp "$repo/scripts/vm/initramfs-init" "$initramfs/init"
    chmod 755 "$initramfs/init"
    # The modules that reach the host's root: virtio, 9p and overlayfs.
    wanted='^kernel/(drivers/virtio|net/9p|fs/9p|fs/netfs|fs/fscache|fs/overlayfs)/'
    grep -E "$wanted" "$dir/modules/modules.dep" >"$initramfs/lib/modules/$kver/modules.dep"
    tr ' ' '\n' <"$initramfs/lib/modules/$kver/modules.dep" | tr -d ':' | grep '\.ko' | sort -u |
        while read -r module; do
            mkdir -p "$initramfs/lib/modules/$kver/$(dirname "$module")"
            cp "$dir/modules/$module" "$initramfs/lib/modules/$kver/$module"
        done
    (cd "$initramfs" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$initramfs_image.tmp"
    mv "$initramfs_image.tmp" "$initramfs_image"
    rm -rf "$initramfs"
fi

if [ -n "${lane:-}" ]; then
    # The lane's test binaries, built here; cargo bakes the wharf binary's absolute
    # path into the e2e binary, and the guest sees it through the 9p root.
    say "building the test binaries"
    built=$(cd "$repo" && cargo test --locked -p wharf-runtime --test privileged -p wharf --test e2e \
        --no-run --message-format=json) || die "building the test binaries failed"
    executable() {
        grep -F "\"name\":\"$1\",\"src_path\"" <<<"$built" | grep -o '"executable":"[^"]*"' | cut -d'"' -f4
    }
    runtime_tests=$(executable privileged)
    e2e_tests=$(executable e2e)
    [ -x "$runtime_tests" ] && [ -x "$e2e_tests" ] || die "cargo named no privileged or e2e test binary"
    command=(bash "$repo/scripts/vm/lane.sh" "runtime=$runtime_tests" "e2e=$e2e_tests")
fi

# The run directory is shared read-write with the guest (not under /tmp, /run or
# /var/tmp, which the guest mounts tmpfs over).
mkdir -p "$cache/runs"
run=$(mktemp -d "$cache/runs/run.XXXXXX")
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
    rm -rf "$run"
}
trap cleanup EXIT
cp "$repo/scripts/vm/guest-init.sh" "$run/guest-init.sh"
echo "$dir/modules" >"$run/modules"
pwd >"$run/cwd"
{
    # What the guest's command sees of this environment.
    for name in CARGO_TARGET_DIR RUST_BACKTRACE RUST_TEST_THREADS WHARF_VM_LANE_FILTER RUNS \
        WHARF_BENCH_BINARY WHARF_BENCH_LIFECYCLE_ONLY; do
        if [ -n "${!name:-}" ]; then printf 'export %s=%q\n' "$name" "${!name}"; fi
    done
    printf 'export WHARF_VM_HOST_CWD=%q\n' "$(pwd)"
    printf '%q ' "${command[@]}"
    echo
} >"$run/cmd"

# Boot with one accelerator; returns after the guest powered off, or at once with
# status 3 when the guest said nothing within the deadline (KVM probe), saying
# why in $run/probe.
boot() {
    local accel=$1 deadline=$2
    local -a machine
    if [ "$accel" = kvm ]; then
        machine=(-accel kvm -cpu max)
    else
        machine=(-accel tcg,thread=multi -cpu max)
    fi
    : >"$run/console"
    rm -f "$run/status"
    qemu-system-x86_64 "${machine[@]}" -m "$memory" -smp "$cpus" \
        -nodefaults -no-user-config -display none -monitor none -no-reboot \
        -serial "file:$run/console" \
        -kernel "$dir/vmlinuz" -initrd "$initramfs_image" \
        -append "console=ttyS0 cgroup_no_v1=all quiet loglevel=3 panic=-1 ${WHARF_VM_APPEND:-} wharf.run=$run" \
        -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
        -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
        -fsdev "local,id=wharfrun,path=$run,security_model=none" \
        -device virtio-9p-pci,fsdev=wharfrun,mount_tag=wharfrun \
        </dev/null >"$run/qemu.log" 2>&1 &
    qemu_pid=$!
    # Its end is seen by polling: bash's own notice of a qemu that aborted
    # (as it does under KVM on some hosts) would only be noise.
    disown "$qemu_pid"
    local started=$SECONDS
    if [ "$deadline" -gt 0 ]; then
        until grep -q "wharf-vm: initramfs up" "$run/console"; do
            if ! kill -0 "$qemu_pid" 2>/dev/null; then
                qemu_pid=
                echo "qemu stopped before the guest started ($(tail -n1 "$run/qemu.log"))" >"$run/probe"
                return 3
            fi
            if [ $((SECONDS - started)) -ge "$deadline" ]; then
                kill "$qemu_pid" 2>/dev/null || true
                while kill -0 "$qemu_pid" 2>/dev/null; do sleep 0.1; done
                qemu_pid=
                echo "no sign of life from the guest within ${deadline}s" >"$run/probe"
                return 3
            fi
            sleep 0.2
        done
    fi
    say "guest booting under $accel ($memory, $cpus CPUs, kernel $kver, cgroup_no_v1=all)"
    tail -n +1 -f --pid="$qemu_pid" "$run/console" | sed -u 's/\r$//' &
    local tail_pid=$!
    local rc=0
    while kill -0 "$qemu_pid" 2>/dev/null; do
        if [ $((SECONDS - started)) -ge "$timeout_s" ]; then
            say "the guest ran longer than ${timeout_s}s: stopped"
            kill "$qemu_pid" 2>/dev/null || true
            rc=124
            break
        fi
        sleep 1
    done
    while kill -0 "$qemu_pid" 2>/dev/null; do sleep 0.2; done
    qemu_pid=
    wait "$tail_pid" || true
    return "$rc"
}

started=$SECONDS
accel=${WHARF_VM_ACCEL:-}
rc=0
if [ -z "$accel" ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    boot kvm "$kvm_deadline_s" || rc=$?
    if [ "$rc" = 3 ]; then
        say "KVM: $(cat "$run/probe"): using TCG"
        boot tcg 0 || rc=$?
    fi
else
    boot "${accel:-tcg}" 0 || rc=$?
fi
if [ "$rc" = 124 ]; then
    exit 124
fi
if [ ! -s "$run/status" ]; then
    say "the guest stopped without reporting a status; qemu said:"
    cat "$run/qemu.log" >&2
    exit 125
fi
status=$(cat "$run/status")
say "guest finished with status $status after $((SECONDS - started))s"
exit "$status"
