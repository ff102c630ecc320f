#!/bin/bash
# bench/profile.sh: where the CPU goes while SIZE_MIB (512) moves through
# each variant of bench/setup.sh (run it as root; perf must be installed,
# Debian: linux-perf). Per variant and direction, two runs of the transfer
# under `perf record -a`: one sampling the software clock (999 Hz; no
# hardware counters needed), one counting system calls. Prints, per
# program, CPU seconds and system calls per MiB; for sshroute also the
# share of each library and the hottest functions.
# Variables: SIZE_MIB, PROFILE_VARIANTS ("direct bastion sshroute"), OUT
# (default bench/profile-DATE.txt); CIPHER and KEX as in setup.sh.

. "$(dirname "$0")/setup.sh"
command -v perf >/dev/null || die "perf is not installed (Debian: linux-perf)"

SIZE_MIB=${SIZE_MIB:-512}
OUT=${OUT:-$SRT_ROOT/bench/profile-$(date +%Y%m%d-%H%M%S).txt}
PROFILE_VARIANTS=${PROFILE_VARIANTS:-direct bastion sshroute}
FREQ=999

# transfer VARIANT up|down
transfer() {
	if [ "$2" = up ]; then
		head -c "${SIZE_MIB}M" /dev/zero | on "$1" 'cat >/dev/null'
	else
		on "$1" "head -c ${SIZE_MIB}M /dev/zero" </dev/null >/dev/null
	fi
}

# recorded DATA EVENT VARIANT DIR: the transfer under perf record -a; the
# clock is sampled at FREQ, a tracepoint counted at every hit.
# With the cgroup of setup.sh, DATA.pids collects the benchmark's PIDs
# meanwhile, so that the report leaves out whatever else runs.
recorded() {
	local pp lp rate=(-F "$FREQ")
	[ "$2" = cpu-clock ] || rate=(-c 1)
	perf record -q -a -e "$2" "${rate[@]}" -o "$1" 2>/dev/null &
	pp=$!
	: >"$1.pids"
	if [ -n "$CG" ]; then
		while :; do cat "$CG/cgroup.procs"; sleep 0.05; done >>"$1.pids" 2>/dev/null &
		lp=$!
	fi
	sleep 0.5
	transfer "$3" "$4" || say "$3 $4: ssh failed"
	[ -n "$CG" ] && kill "$lp" && wait "$lp" 2>/dev/null
	kill -INT "$pp"
	wait "$pp"
}

# report DATA KEYS: perf report on DATA sorted by pid and KEYS (e.g. dso),
# as lines "samples comm key...", only for the benchmark's PIDs (all PIDs
# without the cgroup). perf report's own --pid filter drops them all here.
report() {
	perf report -q -n -i "$1" --stdio --sort "pid${2:+,$2}" 2>/dev/null |
		awk -v list="$(sort -u "$1.pids" | paste -sd,)" '
			BEGIN { n = split(list, p, ","); for (i = 1; i <= n; i++) ours[p[i]] = 1 }
			$1 ~ /%$/ {
				pid = $3; sub(/:.*/, "", pid)
				comm = $3; sub(/^[0-9]+:/, "", comm)
				if (n && !(pid in ours)) next
				out = $2 " " comm
				for (i = 4; i <= NF; i++) out = out " " $i
				print out
			}'
}

# by_comm DATA: "samples comm" for each program.
by_comm() {
	report "$1" | awk '{ n[$2] += $1 } END { for (c in n) print n[c], c }'
}

{
	echo "sshroute profile, $(date '+%Y-%m-%d %H:%M %Z'), $SIZE_MIB MiB per transfer"
	echo "perf record -a: -e cpu-clock -F $FREQ (CPU s), -e raw_syscalls:sys_enter (system calls)"
	[ -n "$CG" ] && echo "only the benchmark's own processes (cgroup $CG)"
	for v in $PROFILE_VARIANTS; do
		for dir in up down; do
			cpu=$T/perf-$v-$dir.cpu
			sys=$T/perf-$v-$dir.sys
			recorded "$cpu" cpu-clock "$v" "$dir"
			recorded "$sys" raw_syscalls:sys_enter "$v" "$dir"
			echo
			echo "== $v $dir"
			printf '  %-18s %8s %14s\n' program "CPU s" "syscalls/MiB"
			join -1 2 -2 2 -a 1 <(by_comm "$cpu" | sort -k2,2) <(by_comm "$sys" | sort -k2,2) |
				awk -v hz="$FREQ" -v mib="$SIZE_MIB" '
					$1 != "swapper" && $1 != "perf" && $2 >= hz / 100 {
						printf "  %-18s %8.2f %14.0f\n", $1, $2 / hz, ($3 + 0) / mib }' |
				sort -k2,2 -rn
			if [ "$v" = sshroute ]; then
				echo "  sshroute, by library (share of its CPU):"
				report "$cpu" dso |
					awk '$2 == "sshroute" { n[$3] += $1; t += $1 }
						END { for (d in n) printf "    %5.1f%%  %s\n", 100 * n[d] / t, d }' |
					sort -rn | head -n 6
				echo "  sshroute, hottest functions (share of its CPU):"
				report "$cpu" dso,sym |
					awk '$2 == "sshroute" { s = $0; sub(/^[0-9]+ sshroute /, "", s); n[s] += $1; t += $1 }
						END { for (s in n) printf "    %5.1f%%  %s\n", 100 * n[s] / t, s }' |
					sort -rn | head -n 10
			fi
		done
	done
} | tee "$OUT"
echo "profile written to $OUT"
