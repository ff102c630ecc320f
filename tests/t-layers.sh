#!/bin/bash
# The layers of ARCHITECTURE.md: its numbered list is the order of the
# source files, top to bottom. A file may include its own header and the
# headers of files below it, never one above it; no two files include
# each other; every .c and .h of the top level is in the list. x.h belongs
# to x.c (a header without a .c, such as algorithms.h, is in the list
# itself).
cd "$(dirname "$0")/.." || exit 1

declare -A rank
n=0
while read -r file; do
	n=$((n + 1))
	rank[$file]=$n
done < <(sed -n 's/^[0-9][0-9]*\. \([a-z0-9_]*\.[ch]\):.*/\1/p' ARCHITECTURE.md)

if [ "$n" -lt 10 ]; then
	echo "not ok - ARCHITECTURE.md lists the source files in order: found only $n"
	exit 1
fi
echo "ok - ARCHITECTURE.md lists $n source files in order"

# owner FILE: the listed file that FILE (x.c or x.h) belongs to.
owner() {
	local base=${1%.[ch]}
	if [ -n "${rank[$base.c]-}" ]; then
		echo "$base.c"
	else
		echo "$1"
	fi
}

unlisted=""
for f in *.c *.h; do
	[ -n "${rank[$(owner "$f")]-}" ] || unlisted="$unlisted $f"
done
if [ -z "$unlisted" ]; then
	echo "ok - every source file has its place in ARCHITECTURE.md"
else
	echo "not ok - source files missing from ARCHITECTURE.md:$unlisted"
fi

upward=""
declare -A includes
for f in *.c *.h; do
	me=$(owner "$f")
	for h in $(sed -n 's/^#include "\([a-z0-9_]*\.h\)".*/\1/p' "$f"); do
		them=$(owner "$h")
		[ "$them" = "$me" ] && continue
		includes[$me>$them]=1
		if [ -n "${rank[$me]-}" ] && [ -n "${rank[$them]-}" ] && [ "${rank[$them]}" -le "${rank[$me]}" ]; then
			upward="$upward $f:$h"
		fi
	done
done
if [ -z "$upward" ]; then
	echo "ok - no file includes the header of a file above it"
else
	echo "not ok - headers of files above them included by:$upward"
fi

mutual=""
for edge in "${!includes[@]}"; do
	a=${edge%>*} b=${edge#*>}
	[ -n "${includes[$b>$a]-}" ] && [[ "$a" < "$b" ]] && mutual="$mutual $a<>$b"
done
if [ -z "$mutual" ]; then
	echo "ok - no two files include each other"
else
	echo "not ok - files that include each other:$mutual"
fi
