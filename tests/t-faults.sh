#!/bin/bash
# Faults (issue 8) not covered elsewhere. Already tested: upstream down and
# host key problems, a silent TCP client and login_grace_time, max_auth_tries
# (t-failure.sh); client or upstream session vanishing from an idle session
# (t-session.sh); bounded memory with a stalled reader (t-transfer.sh).
# Here:
#  - the upstream sshd killed in the middle of a large download and of a
#    large upload: the client is told and exits within seconds, nothing of
#    sshroute is left;
#  - an upstream that accepts TCP and never speaks SSH (and one that stops
#    after its banner, one that sends garbage after it, one that answers
#    with HTTP): "unavailable" within sshroute's upstream timeout (10 s),
#    no hang;
#  - clients that stop halfway: after the key exchange, after one failed
#    password, or sending only SSH_MSG_IGNORE: dropped at login_grace_time;
#  - an idle session with keepalives both ways stays up for 10 s;
#  - idle_timeout = 2 ends a session after 2 s (not less, at most 4)
#    without channel data, keepalives or not, with "sshroute: idle timeout"
#    and end="idle timeout" in its record; sessions with data each second,
#    in either direction, are not cut.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

PY=/usr/bin/python3
"$PY" -c 'import paramiko' 2>/dev/null || die "paramiko is not installed (Debian: python3-paramiko)"
PROBE=$SRT_ROOT/tests/helpers/ssh_probe.py
UNAVAILABLE='sshroute: the server for this account is unavailable'

# alice's sshd checks that its client (sshroute) is alive every second.
start_upstream_with alice "${NET}11" 2022 "ClientAliveInterval 1
ClientAliveCountMax 2"
start_upstream bob "${NET}12" 2022
start_upstream carol "${NET}13" 2022
start_upstream quiet "${NET}14" 2022
{
	for up in alice bob carol quiet; do known_hosts_entry "$up"; done
} >"$T/known_hosts"

# Upstreams that accept TCP and do not speak SSH.
start_fake() {
	local name=$1 addr=$2 mode=$3 pid
	"$PY" "$SRT_ROOT/tests/helpers/fake_upstream.py" "$addr" 2022 "$mode" </dev/null >"$T/fake-$name.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_listening "$addr" 2022 "$pid" || die "fake upstream $name on $addr:2022"
}
start_fake silent "${NET}31" silent
start_fake banner "${NET}32" banner
start_fake garbage "${NET}33" garbage
start_fake http "${NET}34" http

make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts

[route srt-alice]
upstream = ${NET}11:2022

[route srt-bob]
upstream = ${NET}12:2022

[route srt-carol]
upstream = ${NET}13:2022

; accepts TCP, never says a word
[route srt-team-red]
upstream = ${NET}31:2022

; sends its banner, then nothing
[route srt-team-blue]
upstream = ${NET}32:2022

; sends its banner, then garbage
[route srt-dave]
upstream = ${NET}33:2022
user = srt-carol

; answers with an HTTP error (lines before a banner are allowed: it
; waits for one)
[route srt-team-green]
upstream = ${NET}34:2022
EOF
cat >"$T/grace.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
login_grace_time = 2

[route srt-alice]
upstream = ${NET}11:2022
EOF
# The quiet upstream sends no keepalives: nothing at all moves when idle.
cat >"$T/idle.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
idle_timeout = 2

[route srt-alice]
upstream = ${NET}14:2022
EOF
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
start_gateway grace "${NET}1" 2223 "$T/grace.ini" fd3
start_gateway idle "${NET}1" 2224 "$T/idle.ini" fd3

# run_timed TAG CMD...: runs CMD; stdout to $T/TAG.out, stderr to
# $T/TAG.err, "EXIT_STATUS MILLISECONDS" to $T/TAG.res.
run_timed() {
	local tag=$1 t0 rc
	shift
	t0=${EPOCHREALTIME/./}
	"$@" >"$T/$tag.out" 2>"$T/$tag.err"
	rc=$?
	echo "$rc $(((${EPOCHREALTIME/./} - t0) / 1000))" >"$T/$tag.res"
}

# result TAG: sets RC and MS from $T/TAG.res, OUT and ERR from the outputs.
result() {
	RC=- MS=-
	[ -s "$T/$1.res" ] && read -r RC MS <"$T/$1.res"
	OUT=$(cat "$T/$1.out" 2>/dev/null)
	ERR=$(cat "$T/$1.err" 2>/dev/null)
}

# record GW FIXED_STRING...: the last session record of gateway GW holding
# every string (waits up to 10 s for it).
record() {
	local gw=$1
	shift
	log_line 10 "${GW_LOG[$gw]}" "session end" "$@"
}

# pid_of_record RECORD: the PID in "sshroute[PID]: ..."
pid_of_record() {
	printf '%s' "$1" | sed -n 's/^sshroute\[\([0-9]*\)\].*/\1/p'
}

# child_code GW PID: "code N" as systemd-socket-activate reported PID's end
# (it reports a signal number as a code too: a clean end also needs the
# session record, which a crash never writes).
child_code() {
	local deadline=$((SECONDS + 10)) line
	until line=$(grep -E "^Child $2 died with " "${GW_LOG[$1]}") || [ "$SECONDS" -ge "$deadline" ]; do
		sleep 0.2
	done
	printf '%s' "$line" | sed -n 's/.* died with //p'
}

# ---------------------------------------------------------------- in parallel

# An idle 10 s session with keepalives both ways: ssh asks every second
# (and gives up after 2 unanswered), alice's sshd asks sshroute every second.
LOGLEVEL=DEBUG3 run_timed keepalive gw_ssh gw srt-alice -o ServerAliveInterval=1 \
	-o ServerAliveCountMax=2 'sleep 10; echo still-here' </dev/null &
KA_JOB=$!

# Upstreams that do not speak SSH, all four at once.
declare -A UNAV_USER=([silent]=srt-team-red [banner]=srt-team-blue [garbage]=srt-dave [http]=srt-team-green)
declare -A UNAV_LIMIT=([silent]=14000 [banner]=14000 [garbage]=4000 [http]=14000)
UNAV_JOBS=()
for kind in silent banner garbage http; do
	user=${UNAV_USER[$kind]}
	LOGLEVEL=INFO PW=${PASSWORD[srt-carol]} run_timed "unav-$kind" gw_ssh gw "$user" hostname </dev/null &
	UNAV_JOBS+=($!)
done

# Clients that stop halfway through, at once, on the grace gateway.
STALL_JOBS=()
for mode in kex fail ignore; do
	run_timed "stall-$mode" timeout -k 2 20 "$PY" "$PROBE" stall "${GW_ADDR[grace]}" "${GW_PORT[grace]}" "$mode" 10 </dev/null &
	STALL_JOBS+=($!)
done

# idle_probe TAG CMD...: runs CMD, whose first output line marks the start
# of idleness; IDLE_MS in $T/TAG.idle is from that line to CMD's exit.
idle_probe() {
	local tag=$1 s e
	shift
	"$@" 2>"$T/$tag.err" | {
		read -r line
		s=${EPOCHREALTIME/./}
		echo "$line" >"$T/$tag.out"
		cat >>"$T/$tag.out"
		e=${EPOCHREALTIME/./}
		echo $(((e - s) / 1000)) >"$T/$tag.idle"
	}
	echo "${PIPESTATUS[0]}" >"$T/$tag.rc"
}

# idle_timeout = 2: an idle session; one with keepalives (not channel
# data: cut as well); output each second; input each second.
IDLE_JOBS=()
LOGLEVEL=INFO idle_probe idle-sleep gw_ssh idle srt-alice 'echo idle-from-now; sleep 30; echo not-cut' </dev/null &
IDLE_JOBS+=($!)
LOGLEVEL=INFO idle_probe idle-keepalive gw_ssh idle srt-alice -o ServerAliveInterval=1 \
	'echo idle-from-now; sleep 30; echo not-cut' </dev/null &
IDLE_JOBS+=($!)
run_timed idle-output gw_ssh idle srt-alice 'for i in 1 2 3 4 5 6; do echo $i; sleep 1; done' </dev/null &
IDLE_JOBS+=($!)
for i in 1 2 3 4 5 6; do echo "$i"; sleep 1; done |
	run_timed idle-input gw_ssh idle srt-alice 'wc -l' &
IDLE_JOBS+=($!)

# ---------------------------------------------------------------- upstream not speaking SSH

wait "${UNAV_JOBS[@]}"
for kind in silent banner garbage http; do
	user=${UNAV_USER[$kind]}
	result "unav-$kind"
	name="upstream that $(case $kind in silent) echo "accepts TCP and never speaks SSH" ;; banner) echo "stops after its banner" ;; garbage) echo "sends garbage after its banner" ;; http) echo "answers with HTTP" ;; esac)"
	if [ "$RC" = 255 ] && [ -z "$OUT" ] && printf '%s' "$ERR" | grep -qF "$UNAVAILABLE" && [ "$MS" -le "${UNAV_LIMIT[$kind]}" ]; then
		ok "$name: client told unavailable after $MS ms"
	else
		not_ok "$name: client told unavailable within $((${UNAV_LIMIT[$kind]} / 1000)) s" \
			"exit $RC after $MS ms, stdout '$OUT', stderr '$ERR'"
	fi
	if rec=$(record gw "user=$user "); then
		pid=$(pid_of_record "$rec")
		code=$(child_code gw "$pid")
		if printf '%s' "$rec" | grep -q ' exit=6 \[client .*\]$' && [ "$code" = "code 6" ]; then
			ok "$name: sshroute exits 6 ($(printf '%s' "$rec" | grep -o 'end="[^"]*"'))"
		else
			not_ok "$name: sshroute exits 6" "systemd-socket-activate: '$code', record '$rec'"
		fi
	else
		not_ok "$name: sshroute exits 6" "no session record for $user"
	fi
	if grep -q '^accepted' "$T/fake-$kind.log"; then
		ok "$name: sshroute did reach it"
	else
		not_ok "$name: sshroute did reach it" "the fake upstream saw no connection"
	fi
done
left=$(ss -tnH state established 2>/dev/null | awk -v a="${NET}3" 'index($4, a) == 1 || index($3, a) == 1')
expect_eq "no connection to the fake upstreams is left open" "" "$left"

# ---------------------------------------------------------------- stalled clients

wait "${STALL_JOBS[@]}"
for mode in kex fail ignore; do
	result "stall-$mode"
	name="client stops $(case $mode in kex) echo "after the key exchange" ;; fail) echo "after one failed password" ;; ignore) echo "and sends only SSH_MSG_IGNORE" ;; esac)"
	port=$(printf '%s' "$ERR" | sed -n 's/^PORT //p')
	secs=$(printf '%s' "$OUT" | sed -n 's/.* elapsed=\([0-9.]*\).*/\1/p')
	if printf '%s' "$OUT" | grep -q '^end=closed ' && [ "${secs%.*}" -ge 1 ] && [ "${secs%.*}" -lt 4 ]; then
		ok "$name: dropped by login_grace_time = 2 after $secs s"
	else
		not_ok "$name: dropped by login_grace_time = 2 (after 1.x to 3.x s)" "exit $RC, '$OUT', stderr '$(printf '%s' "$ERR" | tail -n 2)'"
	fi
	if [ -n "$port" ] && rec=$(record grace "client_port=$port "); then
		code=$(child_code grace "$(pid_of_record "$rec")")
		if printf '%s' "$rec" | grep -q 'end="login grace time exceeded" exit=5 \[client .*\]$' && [ "$code" = "code 5" ]; then
			ok "$name: record end=\"login grace time exceeded\", exit 5"
		else
			not_ok "$name: record end=\"login grace time exceeded\", exit 5" "systemd-socket-activate: '$code', record '$rec'"
		fi
	else
		not_ok "$name: record end=\"login grace time exceeded\", exit 5" "no record for client port '$port'"
	fi
done

# ---------------------------------------------------------------- idle_timeout

wait "${IDLE_JOBS[@]}"
# The last channel data is the line idle-from-now: from then on the session
# is idle, and must last 2 s (sshroute looks every second: at most 3 s).
RC=$(cat "$T/idle-sleep.rc" 2>/dev/null) IDLE_MS=$(cat "$T/idle-sleep.idle" 2>/dev/null)
OUT=$(cat "$T/idle-sleep.out" 2>/dev/null) ERR=$(cat "$T/idle-sleep.err" 2>/dev/null)
if [ "$RC" = 255 ] && [ "$OUT" = idle-from-now ] && printf '%s' "$ERR" | grep -qF 'sshroute: idle timeout'; then
	ok "idle_timeout = 2: an idle session ends with 'sshroute: idle timeout'"
else
	not_ok "idle_timeout = 2: an idle session ends with 'sshroute: idle timeout'" \
		"exit $RC, stdout '$OUT', stderr '$ERR'"
fi
if [ -n "$IDLE_MS" ] && [ "$IDLE_MS" -ge 1900 ] && [ "$IDLE_MS" -le 4000 ]; then
	ok "idle_timeout = 2: it ends after $IDLE_MS ms without data (2 to 4 s)"
else
	not_ok "idle_timeout = 2: it ends after 2 to 4 s without data" "after ${IDLE_MS:-?} ms"
fi
n_idle=$(grep -F "session end" "${GW_LOG[idle]}" | grep -cF 'end="idle timeout"')
rec=$(grep -F "session end" "${GW_LOG[idle]}" | grep -F 'end="idle timeout"' | tail -n 1)
if [ "$n_idle" = 2 ] && printf '%s' "$rec" | grep -q ' user=srt-alice .* exit=0 \[client .*\]$'; then
	ok "idle_timeout = 2: the two idle sessions' records say end=\"idle timeout\""
else
	not_ok "idle_timeout = 2: the two idle sessions' records say end=\"idle timeout\"" \
		"$n_idle such record(s); records: $(grep -F 'session end' "${GW_LOG[idle]}" | grep -o 'end="[^"]*" exit=[0-9]*' | tr '\n' ' ')"
fi
# Keepalives (ServerAliveInterval=1) are no channel data: the session is
# still idle, and cut after 2 s too.
RC=$(cat "$T/idle-keepalive.rc" 2>/dev/null) IDLE_MS=$(cat "$T/idle-keepalive.idle" 2>/dev/null)
OUT=$(cat "$T/idle-keepalive.out" 2>/dev/null) ERR=$(cat "$T/idle-keepalive.err" 2>/dev/null)
if [ "$RC" = 255 ] && [ "$OUT" = idle-from-now ] && printf '%s' "$ERR" | grep -qF 'sshroute: idle timeout' &&
	[ -n "$IDLE_MS" ] && [ "$IDLE_MS" -ge 1900 ] && [ "$IDLE_MS" -le 4000 ]; then
	ok "idle_timeout = 2: keepalives are not activity: an idle session with ServerAliveInterval=1 ends after $IDLE_MS ms without data"
else
	not_ok "idle_timeout = 2: keepalives are not activity: an idle session with ServerAliveInterval=1 ends after 2 to 4 s without data" \
		"exit $RC after ${IDLE_MS:-?} ms without data, stdout '$OUT', stderr '$ERR'"
fi
result idle-output
if [ "$RC" = 0 ] && [ "$(printf '%s' "$OUT" | tr '\n' ' ')" = "1 2 3 4 5 6" ]; then
	ok "idle_timeout = 2: a session printing every second is not cut ($MS ms)"
else
	not_ok "idle_timeout = 2: a session printing every second is not cut" "exit $RC after $MS ms, stdout '$OUT', stderr '$ERR'"
fi
result idle-input
if [ "$RC" = 0 ] && [ "$OUT" = 6 ] && ! printf '%s' "$ERR" | grep -qF 'idle timeout'; then
	ok "idle_timeout = 2: a session reading a line every second is not cut ($MS ms)"
else
	not_ok "idle_timeout = 2: a session reading a line every second is not cut" "exit $RC after $MS ms, stdout '$OUT', stderr '$(tail -n 5 "$T/idle-input.err")'"
fi

# ---------------------------------------------------------------- keepalives

wait "$KA_JOB"
result keepalive
n_ka=$(grep -c 'send packet: type 80' "$T/keepalive.err")
n_reply=$(grep -Ec 'receive packet: type 8[12]' "$T/keepalive.err")
if [ "$RC" = 0 ] && [ "$(printf '%s' "$OUT" | tr -d '\r')" = still-here ] && [ "$MS" -ge 10000 ]; then
	ok "idle 10 s session with keepalives stays up (ssh sent $n_ka keepalives, got $n_reply replies)"
else
	not_ok "idle 10 s session with keepalives stays up" \
		"exit $RC after $MS ms, stdout '$OUT', stderr '$(grep -v '^debug' "$T/keepalive.err" | tail -n 3)'"
fi
if [ "$n_ka" -ge 5 ] && [ "$n_reply" -ge "$((n_ka - 2))" ]; then
	ok "keepalives: sshroute answers the client's keepalive requests ($n_reply of $n_ka)"
else
	not_ok "keepalives: sshroute answers the client's keepalive requests" "$n_ka sent, $n_reply answered"
fi
if grep -qi 'timeout' "${UP_DIR[alice]}/sshd.log"; then
	not_ok "keepalives: alice's sshd (ClientAliveInterval 1) never timed sshroute out" \
		"$(grep -i timeout "${UP_DIR[alice]}/sshd.log" | tail -n 1)"
else
	ok "keepalives: alice's sshd (ClientAliveInterval 1) never timed sshroute out"
fi

# ---------------------------------------------------------------- upstream killed mid-transfer

# io_bytes PID: bytes the process has read and written so far with read(2)
# and write(2) (ssh reads its stdin and writes its stdout so; recv(2) and
# send(2), which libssh uses, are not counted).
io_bytes() {
	local n
	n=$(awk '/^(rchar|wchar):/ { n += $2 } END { printf "%.0f", n }' "/proc/$1/io" 2>/dev/null)
	echo "${n:-0}"
}

# ssh_of PID: the ssh process below PID.
ssh_of() {
	local p
	for p in $(descendants "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = ssh ] && { echo "$p"; return; }
	done
}

# restart_upstream NAME: a new sshd for upstream NAME, same address, key
# and configuration (after it was killed).
restart_upstream() {
	local name=$1 dir=${UP_DIR[$1]} pid
	unshare --uts sh -c "hostname host-$name && exec $SSHD -D -e -f $dir/sshd_config" \
		</dev/null >>"$dir/sshd.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_listening "${UP_ADDR[$name]}" "${UP_PORT[$name]}" "$pid" || die "restarting upstream $name"
	UP_PID[$name]=$pid
}

# kill_mid_transfer UPSTREAM USER DIRECTION: a large transfer through gw
# (DIRECTION down: remote head to the client; up: client to remote cat)
# runs until the ssh client has moved 64 MiB; then UPSTREAM's sshd
# processes (the listener and the connection's) are killed with SIGKILL.
# Sets KILL_PROBLEMS to what went wrong ("" when nothing) and KILL_TOLD to
# how the client was told.
kill_mid_transfer() {
	local up=$1 user=$2 dir=$3 client relay ssh moved deadline sshds rc rec code
	KILL_PROBLEMS="" KILL_TOLD=""
	wait_no_children gw 10
	: >"$T/kill.err"
	if [ "$dir" = down ]; then
		LOGLEVEL=INFO gw_ssh gw "$user" 'exec head -c 100G /dev/zero' </dev/null 2>"$T/kill.err" \
			> >(wc -c >/dev/null) &
	else
		LOGLEVEL=INFO gw_ssh gw "$user" 'exec cat >/dev/null' < <(head -c 100G /dev/zero) \
			>/dev/null 2>"$T/kill.err" &
	fi
	client=$!
	track_pid "$client"
	deadline=$((SECONDS + 20))
	ssh="" moved=0
	until [ "$moved" -ge 67108864 ] || [ "$SECONDS" -ge "$deadline" ]; do
		sleep 0.2
		[ -n "$ssh" ] || ssh=$(ssh_of "$client")
		[ -n "$ssh" ] && moved=$(io_bytes "$ssh")
	done
	relay=$(gateway_children gw | head -n 1)
	if [ "$moved" -lt 67108864 ] || [ -z "$relay" ]; then
		KILL_PROBLEMS="the transfer did not get going (ssh moved $moved bytes in 20 s; sshroute '$relay')"
		kill_tree "$client"
		return
	fi
	# OpenSSH 9.8 and later serve each connection from sshd-session (and
	# authenticate in sshd-auth, from 10.0); before, from sshd itself
	sshds=$(for p in $(descendants "${UP_PID[$up]}"); do
		case $(cat "/proc/$p/comm" 2>/dev/null) in
		sshd | sshd-session | sshd-auth) echo "$p" ;;
		esac
	done)
	# shellcheck disable=SC2086
	kill -KILL "${UP_PID[$up]}" $sshds
	wait "${UP_PID[$up]}" 2>/dev/null
	# shellcheck disable=SC2046
	wait_gone 5 "$client" $(descendants "$client") || KILL_PROBLEMS="$KILL_PROBLEMS; the client still runs after 5 s"
	wait "$client" 2>/dev/null
	rc=$?
	wait_gone 5 "$relay" || KILL_PROBLEMS="$KILL_PROBLEMS; sshroute still runs after 5 s"
	KILL_TOLD=$(grep -F 'sshroute' "$T/kill.err" | tail -n 1 | sed 's/.*: 2: //' | tr -d '\r')
	if [ "$rc" != 255 ] || [ -z "$KILL_TOLD" ]; then
		KILL_PROBLEMS="$KILL_PROBLEMS; the client was not told: ssh exit $rc, stderr '$(tr '\n' ' ' <"$T/kill.err")'"
	fi
	rec=$(record gw "user=$user " "client_port=" | tail -n 1)
	code=$(child_code gw "$relay")
	if ! printf '%s' "$rec" | grep -q 'end="upstream closed" exit=6 \[client .*\]$' || [ "$code" != "code 6" ]; then
		KILL_PROBLEMS="$KILL_PROBLEMS; sshroute $code, record: $(printf '%s' "$rec" | grep -o 'bytes_to_client=.*')"
	fi
	KILL_PROBLEMS=${KILL_PROBLEMS#; }
	restart_upstream "$up"
}

# The outcome depends on timing (what sshroute is doing when the upstream
# goes): three attempts each way.
for dir in down up; do
	case $dir in
	down) up=bob user=srt-bob what="upstream killed during a large download" ;;
	up) up=carol user=srt-carol what="upstream killed during a large upload" ;;
	esac
	problems="" told=""
	for attempt in 1 2 3; do
		kill_mid_transfer "$up" "$user" "$dir"
		[ -n "$KILL_PROBLEMS" ] && problems="$problems [attempt $attempt: $KILL_PROBLEMS]"
		[ -n "$KILL_TOLD" ] && told=$KILL_TOLD
	done
	if [ -z "$problems" ]; then
		ok "$what (3 times): the client is told ('$told') and exits, sshroute exits 6 (end=\"upstream closed\"), within 5 s"
	else
		not_ok "$what: the client is told and exits, sshroute exits 6 (end=\"upstream closed\"), within 5 s" "$problems"
	fi
done

check_no_passwords "no password in the logs" "${GW_LOG[gw]}" "${GW_LOG[grace]}" "${GW_LOG[idle]}"
check_no_leftovers "no sshroute process left" gw grace idle

[ "$N_NOT_OK" = 0 ] || { show_log gw 20; show_log grace 10; show_log idle 20; }
finish
