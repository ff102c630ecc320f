#!/bin/sh
# tests/tree-copy.sh DEST: copies the source tree, as it is in the working
# tree, to DEST: what git tracks, and new files that git does not ignore
# (not objects, not build/); outside a git checkout, everything but those.
# For tests/chroot.sh and make deb, which build
# in a copy so that their objects never mix with the host's.
set -eu
dest=${1:?usage: tests/tree-copy.sh DEST}
cd "$(dirname "$0")/.."
mkdir -p "$dest"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# a copy made by this script (tests/chroot.sh's /src): all of it
	tar --exclude=./build --exclude='*.o' -cf - . | tar -C "$dest" -xf -
	exit 0
fi
# shellcheck disable=SC2016
git ls-files -z --cached --others --exclude-standard |
	xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
	tar --null -T - -cf - | tar -C "$dest" -xf -
