#!/bin/bash
# tests/package-check.sh: inside a chroot made by tests/chroot.sh, builds
# the Debian package (make deb), installs it with apt, checks that the
# installed sshroute runs (-V, and -t on the installed route.ini once it
# has keys), then runs the whole test suite against the installed binary
# (SSHROUTE=/usr/sbin/sshroute). It installs into the system, so it runs
# only where tests/chroot.sh says it may (SRT_IN_CHROOT=1).
set -u
cd "$(dirname "$0")/.." || exit 1
[ "${SRT_IN_CHROOT-}" = 1 ] || {
	echo "tests/package-check.sh installs a package: run it through tests/chroot.sh" >&2
	exit 2
}
fail() { echo "not ok - $*"; echo "0 passed, 1 failed"; exit 1; }

# lintian's errors fail the build everywhere; its warnings only where they
# are checked (Debian 12: make deb), since a newer lintian knows newer
# policy.
make deb LINTIAN_FAIL=error >build-deb.log 2>&1 || fail "make deb: $(tail -n 5 build-deb.log)"
deb=$(ls build/deb/sshroute_*_*.deb) || fail "make deb made no .deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$deb" >/dev/null 2>&1 ||
	fail "apt-get install ./$deb"
echo "ok - $deb installs"

/usr/sbin/sshroute -V || fail "sshroute -V from the package"
echo "ok - the package's sshroute -V runs"
[ -e /etc/sshroute/ssh_host_ed25519_key ] ||
	ssh-keygen -q -t ed25519 -N '' -f /etc/sshroute/ssh_host_ed25519_key
touch /etc/sshroute/known_hosts
out=$(/usr/sbin/sshroute -t 2>&1) || fail "sshroute -t on the installed route.ini: $out"
echo "ok - the package's sshroute -t accepts its own route.ini (with a host key)"
[ "$(systemctl is-enabled sshroute.socket 2>/dev/null)" != enabled ] ||
	fail "the package enabled sshroute.socket"
echo "ok - sshroute.socket is not enabled"
left=$(dpkg -L sshroute | while read -r f; do [ -f "$f" ] && zgrep -l '@[A-Z]*DIR@' "$f"; done)
[ -z "$left" ] || fail "the package's files still hold @...DIR@ placeholders: $left"
echo "ok - no file of the package holds an unfilled @...DIR@ placeholder"

make -s all unit-tests >/dev/null
SSHROUTE=/usr/sbin/sshroute exec tests/run
