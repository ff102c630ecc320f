#!/bin/bash
# tests/nspawn.sh SUITE: the shipped units under a real systemd. Boots the
# Debian SUITE chroot that tests/chroot.sh made (build/chroot/SUITE, where
# tests/package-check.sh built the package with `make deb`) with
# systemd-nspawn, systemd as the container's PID 1, and runs
# tests/systemd-units.sh inside it. Prints that script's "ok"/"not ok"
# lines and a closing "N passed, N failed, N skipped" line, as tests/run
# does. Needs root.
#
# These machines run cgroup v1 and no systemd as PID 1: systemd 257 and
# later refuse cgroup v1, so the container gets a cgroup v2 hierarchy of
# its own (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1). It also gets a network
# namespace of its own (--private-network): its loopback is its own, so
# the units can listen on any port without meeting the host's services or
# another run. The container is powered off when the run ends, pass or
# fail; should it not stop in time, its PID 1 is killed, and with it every
# process inside.
set -u

SUITE=${1:?usage: tests/nspawn.sh SUITE}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BASE=${CHROOT_DIR:-$SRC/build/chroot}
ROOT=$BASE/$SUITE
WORK=${CHROOT_WORK:-src}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
LOG=$BASE/nspawn-$SUITE.log

say() { printf '# nspawn %s: %s\n' "$SUITE" "$*"; }
# fail MESSAGE: the run could not even start its tests.
fail() {
	echo "not ok - systemd in a $SUITE container: $*"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
# skip MESSAGE: this machine cannot boot the container; nothing was tested.
skip() {
	echo "ok - systemd in a $SUITE container # SKIP $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

[ "$(id -u)" = 0 ] || fail "needs root"
case $SUITE in *[!a-z0-9-]* | '') fail "not a suite name: $SUITE" ;; esac
[ -x "$ROOT/lib/systemd/systemd" ] || [ -x "$ROOT/usr/lib/systemd/systemd" ] ||
	fail "$ROOT has no systemd: run tests/chroot.sh $SUITE first"
ls "$ROOT/$WORK"/build/deb/sshroute_*.deb >/dev/null 2>&1 ||
	fail "no package in $ROOT/$WORK/build/deb: run tests/chroot.sh $SUITE first (make deb)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (make deps installs systemd-container)"
command -v nsenter >/dev/null || fail "nsenter is missing (util-linux)"

# The tests as they are now, over the copy that tests/chroot.sh made.
cp "$SRC"/tests/*.sh "$SRC"/tests/askpass "$ROOT/$WORK/tests/" || fail "cannot copy the tests"
cp "$SRC"/README.md "$ROOT/$WORK/" || fail "cannot copy README.md"
cp -r "$SRC"/man "$ROOT/$WORK/" || fail "cannot copy man/"

NSPAWN_PID=
INIT_PID=

# container_init: the container's PID 1, the systemd process that
# systemd-nspawn started; empty while there is none. (Its /proc/PID/root
# says "/": nspawn pivots into the chroot.)
container_init() {
	pgrep -P "$NSPAWN_PID" -x systemd | head -n 1
}

inside() {
	timeout -k 5 "${INSIDE_TIMEOUT:-60}" nsenter -t "$INIT_PID" -a \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root TERM=dumb "$@"
}

# stop_container: poweroff from inside, then by force after 30 s.
stop_container() {
	local i
	[ -n "$NSPAWN_PID" ] || return 0
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		[ -n "$INIT_PID" ] && INSIDE_TIMEOUT=10 inside systemctl poweroff >/dev/null 2>&1
		for i in $(seq 1 300); do
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$NSPAWN_PID" 2>/dev/null; then
			say "the container did not power off in 30 s: killing it"
			[ -n "$INIT_PID" ] && kill -KILL "$INIT_PID" 2>/dev/null
			kill -TERM "$NSPAWN_PID" 2>/dev/null
			sleep 2
			kill -KILL "$NSPAWN_PID" 2>/dev/null
		fi
	fi
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=
}
trap stop_container EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pgrep -f "systemd-nspawn .*-D $ROOT " >/dev/null && fail "a container already runs from $ROOT"
say "booting $ROOT (log: $LOG)"
started=$SECONDS
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q --register=no --keep-unit \
	--private-network --console=read-only -D "$ROOT" -b </dev/null >"$LOG" 2>&1 &
NSPAWN_PID=$!

# Booted: PID 1 is there and systemd says it is running (or degraded: a
# unit of the test dependencies may fail without a network).
state=
while [ $((SECONDS - started)) -lt "$BOOT_TIMEOUT" ]; do
	kill -0 "$NSPAWN_PID" 2>/dev/null || break
	[ -n "$INIT_PID" ] || INIT_PID=$(container_init)
	if [ -n "$INIT_PID" ]; then
		state=$(INSIDE_TIMEOUT=10 inside systemctl is-system-running 2>/dev/null)
		case $state in running | degraded) break ;; esac
	fi
	sleep 0.5
done
if ! kill -0 "$NSPAWN_PID" 2>/dev/null; then
	wait "$NSPAWN_PID"
	rc=$?
	NSPAWN_PID=
	why=$(grep -v '^$' "$LOG" | tail -n 3 | tr '\n' ' ')
	# A kernel or sandbox that cannot give a container what systemd needs
	# is this machine's limit, not a failure of sshroute's units.
	case $why in
	*"Failed to"*"cgroup"* | *"Operation not permitted"* | *"not supported"*)
		skip "the container cannot boot here (systemd-nspawn exit $rc: $why)" ;;
	esac
	fail "systemd-nspawn ended (exit $rc) before the container booted: $why"
fi
case $state in
running | degraded) ;;
*) fail "not booted after $BOOT_TIMEOUT s (state '${state:-none}'; see $LOG)" ;;
esac
failed_units=$(INSIDE_TIMEOUT=10 inside systemctl --failed --no-legend --plain 2>/dev/null |
	awk '{print $1}' | tr '\n' ' ')
say "booted in $((SECONDS - started)) s, $(inside systemctl --version | head -n 1); state $state${failed_units:+ (failed: $failed_units)}"

out=$(mktemp /tmp/srt-nspawn.XXXXXX) || exit 1
tests_started=$SECONDS
INSIDE_TIMEOUT=$TEST_TIMEOUT inside sh -c "cd /$WORK && exec tests/systemd-units.sh" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
say "tests ran in $((SECONDS - tests_started)) s"
stop_container
say "powered off; $((SECONDS - started)) s in all"

n_ok=$(grep -c '^ok - ' "$out")
n_skip=$(grep -c '^ok - .*# SKIP' "$out")
n_not_ok=$(grep -c '^not ok - ' "$out")
rm -f "$out"
if [ "$rc" != 0 ] && [ "$n_not_ok" = 0 ]; then
	echo "not ok - tests/systemd-units.sh in $SUITE: exited with status $rc"
	n_not_ok=1
elif [ "$n_ok" = 0 ] && [ "$n_not_ok" = 0 ]; then
	echo "not ok - tests/systemd-units.sh in $SUITE: printed no result"
	n_not_ok=1
fi
echo "$((n_ok - n_skip)) passed, $n_not_ok failed, $n_skip skipped"
[ "$n_not_ok" = 0 ]
