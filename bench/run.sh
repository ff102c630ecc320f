#!/bin/bash
# bench/run.sh (make bench): sshroute against direct SSH and an OpenSSH
# bastion, on this machine, over loopback, with public keys only.
#
#   direct    ssh -> sshd (the upstream)
#   bastion   ssh -> sshd -i under systemd-socket-activate --inetd (the jump
#             host), the client using ProxyCommand "ssh -W %h:%p"
#   sshroute  ssh -> sshroute under systemd-socket-activate -> the upstream;
#             the client key is in the route's authorized_keys, sshroute logs
#             in upstream with its own identity
#
# The variants take turns in every round (the order rotates), so that
# machine noise hits them alike. Reported as medians over the rounds:
# upload and download throughput (cat through the session), setup time
# (ssh ... true), the whole machine's CPU seconds per GiB moved (from
# /proc/stat; also those of the benchmark's own processes, from the cgroup
# of setup.sh), connections per second with CONC clients at once, and
# sshroute's peak RSS per connection (VmHWM, sampled), also with a stalled
# reader on a large download; then SEQ sequential logins through sshroute
# that must leave no process and no file behind.
#
# Variables: ROUNDS (3), SIZE_MIB (512), SETUP_N (logins per variant and
# round, 10), CONC (50), SEQ (500), STALL (seconds, 5), OUT (the results
# file; default bench/results-DATE.txt); CIPHER and KEX as in setup.sh,
# which sets the three variants up. Needs root.

. "$(dirname "$0")/setup.sh"

ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-512}
SETUP_N=${SETUP_N:-10}
CONC=${CONC:-50}
SEQ=${SEQ:-500}
STALL=${STALL:-5}
[ "$STALL" -ge 2 ] || STALL=2
OUT=${OUT:-$SRT_ROOT/bench/results-$(date +%Y%m%d-%H%M%S).txt}
RAW=$T/raw

# ---------------------------------------------------------------- probes

# cpu_ticks: sets TICKS to the whole machine's busy time so far (in
# USER_HZ units: user, nice, system, irq, softirq, steal).
HZ=$(getconf CLK_TCK)
cpu_ticks() {
	local _c u n s _i _w q sq st _rest
	read -r _c u n s _i _w q sq st _rest </proc/stat
	TICKS=$((u + n + s + q + sq + st))
}

# usec: sets USEC to the time of day in microseconds.
usec() { USEC=${EPOCHREALTIME/./}; }

# The sampler: every 0.1 s, for each sshroute process of gateway $1
# (sshroute or baseline; a grandchild of its systemd-socket-activate, under
# time), "PID VmHWM_kB CPU_ticks RssAnon_kB" (VmHWM counts the shared
# libraries' pages too; RssAnon is the process's own memory, its highest
# sample is reported as well). It forks nothing (a read with a timeout on
# a FIFO is its sleep), so that it costs sshroute's CPU figures next to
# nothing.
mkfifo "$T/tick"
sampler_start() {
	local gw=${GW_PID[$1]}
	SAMPLES=$T/samples.$2
	(
		exec 9<>"$T/tick"
		while :; do
			timers=() kids=()
			read -r -a timers <"/proc/$gw/task/$gw/children" 2>/dev/null
			for t in "${timers[@]}"; do
				more=()
				read -r -a more <"/proc/$t/task/$t/children" 2>/dev/null
				kids+=("${more[@]}")
			done
			for pid in "${kids[@]}"; do
				hwm='' anon=''
				while read -r key val _; do
					case $key in
					VmHWM:) hwm=$val ;;
					RssAnon:) anon=$val; break ;;
					esac
				done <"/proc/$pid/status" 2>/dev/null
				st=()
				read -r -a st <"/proc/$pid/stat" 2>/dev/null
				[ -n "$hwm" ] && [ "${#st[@]}" -gt 15 ] &&
					echo "$pid $hwm $((st[13] + st[14])) ${anon:-0}"
			done
			read -r -t 0.1 -u 9 _
		done
	) >"$SAMPLES" 2>/dev/null &
	SAMPLER=$!
	track_pid "$SAMPLER"
}
sampler_stop() {
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
}
# peak_kib FILE: the highest VmHWM sampled. anon_kib FILE: the highest
# RssAnon sampled.
peak_kib() { awk '$2 > m { m = $2 } END { print m + 0 }' "$1"; }
anon_kib() { awk '$4 > m { m = $4 } END { print m + 0 }' "$1"; }

# The relay's processes of VARIANT, whose CPU time time(1) writes to
# $T/cpu.NAME when each ends: sshroute's process, or the bastion's sshd -i
# and the client's ssh -W.
relay_files() {
	case $1 in
	bastion) echo "$T/cpu.bastion $T/cpu.proxy" ;;
	sshroute | baseline) echo "$T/cpu.$1" ;;
	esac
}
# relay_cpu VARIANT: the CPU seconds of the relay's processes since their
# files were emptied, once each has ended (they end just after the client;
# at most 10 s is waited for).
relay_cpu() {
	local f deadline=$((SECONDS + 10))
	for f in $(relay_files "$1"); do
		while ! grep -qE '^[0-9.]+ [0-9.]+$' "$f" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
	done
	# shellcheck disable=SC2046
	awk '/^[0-9.]+ [0-9.]+$/ { s += $1 + $2; n++ } END { printf "%.3f %d\n", s, n }' $(relay_files "$1")
}

# record ROUND VARIANT METRIC VALUE
record() { echo "$1 $2 $3 $4" >>"$RAW"; }

# ---------------------------------------------------------------- measurements

# transfer ROUND VARIANT up|down: SIZE_MIB through cat, timed, with the
# machine's CPU time.
transfer() {
	local r=$1 v=$2 dir=$3 rc t0 c0 n0 secs cpu gib f relay
	for f in $(relay_files "$v"); do : >"$f"; done
	[ "${GW_PID[$v]-}" ] && sampler_start "$v" "$r-$dir"
	cg_usage; n0=$CG_NS; cpu_ticks; c0=$TICKS; usec; t0=$USEC
	if [ "$dir" = up ]; then
		head -c "${SIZE_MIB}M" /dev/zero | on "$v" 'cat >/dev/null'
		rc=${PIPESTATUS[1]}
	else
		on "$v" "head -c ${SIZE_MIB}M /dev/zero" </dev/null >/dev/null
		rc=$?
	fi
	usec; cpu_ticks; cg_usage
	secs=$(awk -v a="$t0" -v b="$USEC" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
	gib=$(awk -v m="$SIZE_MIB" 'BEGIN { print m / 1024 }')
	cpu=$(awk -v t=$((TICKS - c0)) -v hz="$HZ" -v g="$gib" 'BEGIN { printf "%.3f", t / hz / g }')
	if [ "$rc" != 0 ]; then
		say "  round $r $v $dir: ssh exited with $rc"
		record "$r" "$v" "${dir}_failed" 1
	else
		record "$r" "$v" "${dir}_mibs" "$(awk -v m="$SIZE_MIB" -v s="$secs" 'BEGIN { printf "%.1f", m / s }')"
		record "$r" "$v" "${dir}_cpu" "$cpu"
		[ -n "$CG" ] && record "$r" "$v" "${dir}_own_cpu" \
			"$(awk -v n=$((CG_NS - n0)) -v g="$gib" 'BEGIN { printf "%.3f", n / 1e9 / g }')"
	fi
	if [ "$v" != direct ]; then
		relay=$(relay_cpu "$v")
		if [ "${relay#* }" = "$(relay_files "$v" | wc -w)" ]; then
			record "$r" "$v" "${dir}_relay_cpu" "$(awk -v s="${relay% *}" -v g="$gib" 'BEGIN { printf "%.3f", s / g }')"
		else
			say "  round $r $v $dir: the relay's CPU time did not come"
		fi
	fi
	if [ "${GW_PID[$v]-}" ]; then
		sampler_stop
		record "$r" "$v" rss_kib "$(peak_kib "$SAMPLES")"
		record "$r" "$v" anon_kib "$(anon_kib "$SAMPLES")"
	fi
	say "  round $r $v $dir: ${secs}s, machine CPU ${cpu}s/GiB"
}

# setup_times ROUND VARIANT: SETUP_N logins running "true", each timed.
setup_times() {
	local r=$1 v=$2 t0 fails=0
	for _ in $(seq "$SETUP_N"); do
		usec; t0=$USEC
		if on "$v" true </dev/null; then
			usec
			record "$r" "$v" setup_ms "$(((USEC - t0) / 1000))"
		else
			fails=$((fails + 1))
		fi
	done
	record "$r" "$v" setup_failed "$fails"
}

# concurrent ROUND VARIANT: CONC clients at once, each running "true".
concurrent() {
	local r=$1 v=$2 t0 pid ok=0
	local -a pids=()
	usec; t0=$USEC
	for _ in $(seq "$CONC"); do
		on "$v" true </dev/null >/dev/null 2>>"$T/concurrent.err" &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		if wait "$pid"; then
			ok=$((ok + 1))
		else
			echo "round $r $v: a concurrent login exited with status $?" >>"$T/concurrent.err"
		fi
	done
	usec
	record "$r" "$v" conc_ok "$ok"
	record "$r" "$v" conc_cps "$(awk -v n="$ok" -v a="$t0" -v b="$USEC" 'BEGIN { printf "%.1f", n / ((b - a) / 1e6) }')"
	say "  round $r $v: $ok/$CONC concurrent logins"
}

# ---------------------------------------------------------------- run

: >"$RAW"
say "sshroute bench: $ROUNDS rounds, $SIZE_MIB MiB, $SETUP_N setups and $CONC concurrent logins per variant and round"

# Every variant works, moves every byte, and which ciphers it negotiates.
declare -A CIPHERS KEXES
for v in "${VARIANTS[@]}"; do
	n=$(head -c 16M /dev/zero | on "$v" 'wc -c')
	[ "$n" = 16777216 ] || die "$v: upload of 16 MiB arrived as '$n' bytes"
	n=$(on "$v" 'head -c 16M /dev/zero' </dev/null | wc -c)
	[ "$n" = 16777216 ] || die "$v: download of 16 MiB arrived as '$n' bytes"
	on "$v" -v true </dev/null >/dev/null 2>"$T/verbose" || die "$v: ssh -v true failed"
	CIPHERS[$v]=$(sed -n 's/.*kex: server->client cipher: \([^ ]*\).*/\1/p' "$T/verbose" | paste -sd/)
	KEXES[$v]=$(sed -n 's/.*kex: algorithm: \([^ ]*\).*/\1/p' "$T/verbose" | paste -sd/)
done

# The machine's load before we start (other work skews the CPU figures).
cpu_ticks; c0=$TICKS; sleep 2; cpu_ticks
BACKGROUND=$(awk -v t=$((TICKS - c0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz / 2 }')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

usec; BENCH_T0=$USEC
for r in $(seq "$ROUNDS"); do
	shift_by=$(((r - 1) % ${#VARIANTS[@]}))
	order=("${VARIANTS[@]:$shift_by}" "${VARIANTS[@]:0:$shift_by}")
	say "round $r of $ROUNDS: ${order[*]}"
	for v in "${order[@]}"; do
		transfer "$r" "$v" up
		transfer "$r" "$v" down
	done
	for v in "${order[@]}"; do setup_times "$r" "$v"; done
	for v in "${order[@]}"; do concurrent "$r" "$v"; done
done

# A stalled reader: the download's reader sleeps STALL seconds while
# sshroute holds what the windows let in. Bounded means that sshroute's
# memory stops growing: sampled 1 s into the stall, at its end, and at the
# end of the download.
say "stalled reader: $SIZE_MIB MiB download, reader asleep for ${STALL}s"
sampler_start sshroute stall
on sshroute "head -c ${SIZE_MIB}M /dev/zero" </dev/null | {
	sleep 1
	peak_kib "$SAMPLES" >"$T/stall1_kib"
	sleep "$((STALL - 1))"
	peak_kib "$SAMPLES" >"$T/stall_kib"
	anon_kib "$SAMPLES" >"$T/stall_anon_kib"
	cat >/dev/null
}
rc=${PIPESTATUS[0]}
sampler_stop
record 0 sshroute stall1_kib "$(cat "$T/stall1_kib")"
record 0 sshroute stall_kib "$(cat "$T/stall_kib")"
record 0 sshroute stall_anon_kib "$(cat "$T/stall_anon_kib")"
record 0 sshroute stall_end_kib "$(peak_kib "$SAMPLES")"
record 0 sshroute stall_end_anon_kib "$(anon_kib "$SAMPLES")"
record 0 sshroute stall_rc "$rc"

# SEQ sequential logins: afterwards no sshroute process, no zombie, no
# upstream session, no extra fd in the listener, no new file in the
# gateway's private /tmp, /var/tmp, /dev/shm and /run (setup.sh; mount
# itself made /run/mount there before), none new in /root/.ssh, no core
# file.
say "$SEQ sequential logins through sshroute"
wait_no_children sshroute 10
fds0=$(find "/proc/$GWPID/fd" -mindepth 1 | wc -l)
touch "$T/marker"
ok=0
usec; t0=$USEC
for _ in $(seq "$SEQ"); do
	on sshroute true </dev/null 2>>"$T/seq.err" && ok=$((ok + 1))
done
usec
record 0 sshroute seq_ok "$ok"
record 0 sshroute seq_lps "$(awk -v n="$SEQ" -v a="$t0" -v b="$USEC" 'BEGIN { printf "%.1f", n / ((b - a) / 1e6) }')"
wait_no_children sshroute 10
left=$(gateway_children sshroute | wc -l)
zombies=$(ps -o stat= --ppid "$GWPID" | grep -c '^Z')
deadline=$((SECONDS + 10))
while [ -n "$(pgrep -P "${UP_PID[up]}")" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
upleft=$(pgrep -P "${UP_PID[up]}" | wc -l)
fds1=$(find "/proc/$GWPID/fd" -mindepth 1 | wc -l)
{
	nsenter -t "$GWPID" -m -r find /tmp /var/tmp /dev/shm /run -mindepth 1 \
		-newer "$T/marker" ! -path "$T" ! -path "$T/*" ||
		echo "cannot look into the private /tmp of the gateway (nsenter failed)"
	find /root/.ssh -xdev -newer "$T/marker" 2>/dev/null
	find "$SRT_ROOT" "$T" -maxdepth 1 -name 'core*' -newer "$T/marker"
} >"$T/newfiles" 2>/dev/null
record 0 sshroute seq_procs_left "$((left + zombies + upleft))"
record 0 sshroute seq_fds_delta "$((fds1 - fds0))"
record 0 sshroute seq_files_left "$(wc -l <"$T/newfiles")"
usec
record 0 all bench_secs $(((USEC - BENCH_T0) / 1000000))

# ---------------------------------------------------------------- report

OPENSSH=$(ssh -V 2>&1 | awk '{ sub(/,$/, "", $1); print $1 }')
LIBSSH=$(dpkg-query -W -f='${Version}' libssh-4 2>/dev/null)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo "sshroute benchmark, $(date '+%Y-%m-%d %H:%M %Z'), $(git -C "$SRT_ROOT" describe --always --dirty 2>/dev/null)"
	echo "machine: $(nproc) cores, $CPU_MODEL, Linux $(uname -r); $OPENSSH, libssh $LIBSSH"
	echo "rounds $ROUNDS, $SIZE_MIB MiB per transfer, $SETUP_N setups and $CONC concurrent logins per variant and round"
	echo "other load before the run: $BACKGROUND cores busy over 2 s, load average $LOAD0"
	echo "client cipher: direct ${CIPHERS[direct]}, bastion ${CIPHERS[bastion]}, sshroute ${CIPHERS[sshroute]} (sshroute->upstream: sshroute's choice)"
	echo "client kex: direct ${KEXES[direct]}, bastion ${KEXES[bastion]}, sshroute ${KEXES[sshroute]}"
	[ -n "$BASE" ] && echo "baseline: $BASE ($BASE_DESC), built from git, on its own gateway"
	echo
	awk -v rounds="$ROUNDS" -v conc="$CONC" -v seq="$SEQ" -v stall="$STALL" -v base="$BASE" -f "$SRT_ROOT/bench/report.awk" "$RAW"
	echo
	echo "raw figures (round variant metric value):"
	cat "$RAW"
	if [ -s "$T/newfiles" ]; then
		echo
		echo "files created during the sequential logins:"
		cat "$T/newfiles"
	fi
	if [ -s "$T/concurrent.err" ] || [ -s "$T/seq.err" ]; then
		echo
		echo "client errors (first lines):"
		cat "$T/concurrent.err" "$T/seq.err" 2>/dev/null | sort | uniq -c | sort -rn | head -n 10
	fi
	if grep -q 'error:' "${GW_LOG[sshroute]}"; then
		echo
		echo "sshroute's errors (log_level = error; the last lines):"
		grep 'error:' "${GW_LOG[sshroute]}" | tail -n 10
	fi
} >"$OUT"
sed -n '1,/^raw figures/p' "$OUT" | sed '$d'
echo "figures written to $OUT"
