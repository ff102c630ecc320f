#!/bin/bash
# tests/fuzz-long.sh NAME=RUNS...: runs each libFuzzer target tests/fuzz_NAME
# (built with clang: make check-long builds them) for RUNS inputs, starting
# from its seed corpus tests/corpus/NAME. New inputs go into a scratch
# corpus, build-fuzz/NAME, emptied first, so that every run starts from the
# seeds in the repository and never changes them. A crash, a leak, a
# sanitizer report or a broken promise stops the target; libFuzzer saves
# the input as build-fuzz/crash-* (or leak-*, timeout-*), to replay with
# tests/fuzz_NAME FILE, or tests/fuzz_NAME_standalone FILE (gcc).
# Prints one "ok - " or "not ok - " line per target; exit 0 iff all passed.
#
# FUZZ_FLAGS adds libFuzzer options, e.g. FUZZ_FLAGS=-seed=1 for a fixed
# random seed (the default is a new one each run).

set -u
cd "$(dirname "$0")/.." || exit 1

failed=0
mkdir -p build-fuzz || exit 1
for arg in "$@"; do
	name=${arg%%=*}
	runs=${arg#*=}
	bin=tests/fuzz_$name
	work=build-fuzz/$name
	log=build-fuzz/$name.log
	if [ ! -x "$bin" ]; then
		echo "not ok - libFuzzer $name: $bin is not built"
		failed=$((failed + 1))
		continue
	fi
	rm -rf "$work"
	mkdir -p "$work"
	start=$SECONDS
	# shellcheck disable=SC2086
	"$bin" -runs="$runs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=build-fuzz/ ${FUZZ_FLAGS-} "$work" "tests/corpus/$name" >"$log" 2>&1
	rc=$?
	secs=$((SECONDS - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
	if [ "$rc" = 0 ] && [ "${execs:-0}" -ge "$runs" ]; then
		echo "ok - libFuzzer $name: $execs inputs in $secs s ($cov, $(find "$work" -type f | wc -l) new corpus files)"
	else
		echo "not ok - libFuzzer $name: exit $rc after ${execs:-?} of $runs inputs ($secs s); log $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_|artifact_prefix|Test unit written)|runtime error' "$log" |
			head -n 12 | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
[ "$failed" = 0 ]
