#!/bin/bash
# Static checks, quick enough for every run (about 20 s): the man pages
# with mandoc, the C sources with cppcheck and clang-tidy (make lint-man,
# make lint-c; the Makefile says which checks are off and why). Each must
# be silent. They are also part of make check-long.
cd "$(dirname "$0")/.." || exit 1

# lint_case NAME TARGET: one result line for one make target.
lint_case() {
	local out
	if out=$(make -s "$2" 2>&1); then
		echo "ok - $1"
	else
		echo "not ok - $1: $(printf '%s' "$out" | grep -v '^clang-tidy [a-z]*\.c$' | head -n 6 | tr '\n' ' ' | cut -c1-400)"
	fi
}

lint_case "mandoc -Tlint: the man pages are clean" lint-man
lint_case "cppcheck and clang-tidy: the C sources are clean" lint-c
