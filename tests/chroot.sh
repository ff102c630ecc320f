#!/bin/bash
# tests/chroot.sh SUITE [COMMAND...]: runs COMMAND (default:
# tests/package-check.sh, which builds and installs the Debian package and
# runs the whole test suite against it) from a copy of the source tree in
# a minimal Debian SUITE (trixie, sid...) chroot, with that release's
# libssh and OpenSSH, after `make deps` there.
#
# The chroot is made once with debootstrap from Debian's default archive
# and cached in build/chroot/SUITE (CHROOT_DIR overrides build/chroot);
# each run refreshes its packages with `make deps`. The source tree (what
# git tracks, as it is in the working tree) is copied into /src inside,
# so that the chroot's objects never mix with the host's. Everything runs
# in a mount namespace of its own: /proc, /sys and /dev are bound in, /run
# and /tmp are fresh tmpfs, and the chroot's root is a mount point, so
# that the tests' own `unshare --propagation` works there. Needs root.
set -eu

SUITE=${1:?usage: tests/chroot.sh SUITE [COMMAND...]}
shift
[ $# -gt 0 ] || set -- tests/package-check.sh
SRC=$(cd "$(dirname "$0")/.." && pwd)
BASE=${CHROOT_DIR:-$SRC/build/chroot}
ROOT=$BASE/$SUITE
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WORK=${CHROOT_WORK:-src}   # the copy's directory in the chroot: two runs need two

say() { printf 'chroot %s: %s\n' "$SUITE" "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
command -v debootstrap >/dev/null || die "debootstrap is missing (make deps installs it)"
case $SUITE in *[!a-z0-9-]* | '') die "not a suite name: $SUITE" ;; esac

# make_chroot: debootstrap into a scratch directory, then move it in place,
# so that an interrupted run never leaves a half-made chroot in the cache.
make_chroot() {
	local tmp=$ROOT.new
	rm -rf "$tmp"
	mkdir -p "$BASE"
	say "debootstrap --variant=minbase from $MIRROR (once; cached in $ROOT)"
	debootstrap --variant=minbase --include=make,ca-certificates "$SUITE" "$tmp" "$MIRROR" \
		>"$BASE/debootstrap-$SUITE.log" 2>&1 ||
		die "debootstrap failed: $(tail -n 5 "$BASE/debootstrap-$SUITE.log")"
	mv "$tmp" "$ROOT"
}

[ -x "$ROOT/usr/bin/make" ] || make_chroot
# The archive's Release files for unstable may have expired (a mirror that
# is not refreshed often): apt is told not to mind.
echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99sshroute-check"

# The source, as it is in the working tree.
case $WORK in *[!a-z0-9]* | '') die "CHROOT_WORK: letters and digits only" ;; esac
rm -rf "${ROOT:?}/$WORK"
"$SRC/tests/tree-copy.sh" "$ROOT/$WORK"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

# The run, in its own mount namespace: nothing it mounts outlives it.
# shellcheck disable=SC2016
exec unshare --mount --propagation private sh -c '
	root=$1 work=$2; shift 2
	mount --bind "$root" "$root" &&
	mount -t proc proc "$root/proc" &&
	mount --rbind /sys "$root/sys" &&
	mount --rbind /dev "$root/dev" &&
	mount -t tmpfs -o mode=755 run "$root/run" &&
	mount -t tmpfs -o mode=1777 tmp "$root/tmp" || exit 1
	exec chroot "$root" /bin/sh -c "
		cd /$work && export LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin SRT_IN_CHROOT=1 &&
		make deps >/dev/null && make clean >/dev/null && exec \"\$@\"" sh "$@"
' sh "$ROOT" "$WORK" "$@"
