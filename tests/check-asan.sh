#!/bin/bash
# tests/check-asan.sh BINARY [UNIT_TEST...]: the whole test suite
# (tests/run) against BINARY, sshroute built with AddressSanitizer and
# UndefinedBehaviorSanitizer (make check-asan builds build-asan/sshroute),
# after the unit tests so built. Fails when a test fails or when any
# sanitizer report was written.
#
# sshroute's stderr goes to the tests' log files (which they delete), and
# clients never see it, so a report would be lost there: every report is
# written to a file in a directory of its own (log_path), and each file
# found there afterwards is a failure, printed as a "not ok - " line.
# LeakSanitizer is off (detect_leaks=0): sshroute ends through exit() with
# its session, configuration and libssh state still allocated, by design
# (the process ends; freeing first gains nothing), and leaks are
# valgrind's job in make check-valgrind. UBSan reports do not stop the
# process (its default), so one run collects them all.
#
# Environment: SRT_ASAN_KEEP=1 keeps the report directory;
# SRT_ASAN_TESTS="tests/t-a.sh tests/t-b.sh" runs just those scripts
# instead of tests/run (for a quick look; make check-asan runs them all).

set -u
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "tests/check-asan.sh: the test suite must run as root" >&2
	exit 1
fi
bin=${1:?usage: tests/check-asan.sh BINARY [UNIT_TEST...]}
shift
[ -x "$bin" ] || { echo "not ok - $bin is not built (make check-asan builds it)"; exit 1; }

reports=$(mktemp -d /tmp/srt-asan.XXXXXX) || exit 1
# sshroute runs as root in the tests, but a lookup program's child (before
# its exec) or a future test may not: anyone may write a report here.
chmod 1777 "$reports"
cleanup() {
	if [ "${SRT_ASAN_KEEP-0}" = 1 ]; then
		echo "# sanitizer reports kept in $reports"
	else
		rm -rf "$reports"
	fi
}
trap cleanup EXIT

common="log_path=$reports/report:print_stacktrace=1"
export ASAN_OPTIONS="$common:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1${SRT_ASAN_OPTIONS:+:$SRT_ASAN_OPTIONS}"
export UBSAN_OPTIONS="$common:halt_on_error=0"
export SSHROUTE=$PWD/$bin
# Memory limits in the tests are skipped (lib.sh: memory_check_applies).
export SRT_SANITIZER=AddressSanitizer
echo "# sshroute under test: $SSHROUTE"
echo "# ASAN_OPTIONS=$ASAN_OPTIONS"

failed=0
for u in "$@"; do
	echo "# $u"
	if ! "$u"; then
		echo "not ok - $u (sanitizer build) failed"
		failed=$((failed + 1))
	fi
done

if [ -n "${SRT_ASAN_TESTS-}" ]; then
	for t in $SRT_ASAN_TESTS; do
		echo "# $t"
		"$t" || failed=$((failed + 1))
	done
else
	tests/run || failed=$((failed + 1))
fi

# Every file in $reports is one process's report.
n_reports=0
for r in "$reports"/report.*; do
	[ -e "$r" ] || continue
	n_reports=$((n_reports + 1))
	what=$(grep -m 1 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$r" | sed 's/^==[0-9]*== *//')
	echo "not ok - sanitizer report from pid ${r##*.}: ${what:-see below}"
	sed -n '1,60p' "$r" | sed 's/^/# /'
done

if [ "$n_reports" = 0 ] && [ "$failed" = 0 ]; then
	echo "ok - check-asan: the test suite passed against $bin, no sanitizer report"
	exit 0
fi
echo "check-asan: $n_reports sanitizer report(s), $failed failed program(s)"
exit 1
