#!/bin/bash
# Session recording, max_session_time and forwarding switches (issue 16).
# A tmux-driven interactive session on a route with "record = yes" is
# recorded as asciicast v2 and played back with asciinema; a command's
# input is recorded with record_input; an unrecordable session is refused
# (a missing record_dir, a full disk); record_max_size stops a recording
# and not the session; max_session_time cuts a `sleep 30`; -L, -W, -R and
# -A are refused where forbidden and allowed where not; SIGTERM, SIGHUP and
# SIGINT stop a session cleanly, its recording closed.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net
for tool in asciinema script tmux ssh-agent; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done

start_upstream alice "${NET}11" 2022
known_hosts_entry alice >"$T/known_hosts"
make_gateway_key
REC=$T/rec
mkdir -p "$REC"
chmod 750 "$REC"

# gateway_ini FILE RECORD_DIR [SERVER LINES]: the routes of this test.
gateway_ini() {
	cat >"$1" <<-INI
		[server]
		host_key = $GW_KEY
		known_hosts = $T/known_hosts
		record_dir = $2
		${3-}

		[route srt-alice]
		upstream = ${NET}11:2022
		record = yes

		[route srt-bob]
		upstream = ${NET}11:2022
		record = yes
		record_input = yes

		[route srt-carol]
		upstream = ${NET}11:2022
		max_session_time = 2
		record = yes

		[route srt-team-red]
		upstream = ${NET}11:2022
		allow_tcp_forwarding = no
		allow_agent_forwarding = no
		x11_forwarding = no

		[route srt-team-blue]
		upstream = ${NET}11:2022
		allow_tcp_forwarding = local
	INI
}
gateway_ini "$T/route.ini" "$REC"
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
# no record_dir: recorded sessions are refused
gateway_ini "$T/missing.ini" "$T/no-such-dir"
start_gateway missing "${NET}2" 2222 "$T/missing.ini" fd3
# small recordings
mkdir -p "$T/rec-small"
gateway_ini "$T/small.ini" "$T/rec-small" "record_max_size = 8192"
start_gateway small "${NET}3" 2222 "$T/small.ini" fd3
# start_tmpfs_gateway NAME ADDR SIZE [SERVER LINES]: a gateway whose
# record_dir, $T/rec-NAME, is a tmpfs of SIZE in its own mount namespace.
start_tmpfs_gateway() {
	local name=$1 addr=$2 size=$3 pid
	gateway_ini "$T/$name.ini" "$T/rec-$name" "${4-}"
	mkdir -p "$T/rec-$name"
	unshare --mount --propagation private sh -c 'mount -t tmpfs -o size="$1" tmpfs "$0" && shift && exec "$@"' \
		"$T/rec-$name" "$size" systemd-socket-activate -l "$addr:2222" -a "$SSHROUTE" -e -v \
		-f "$T/$name.ini" </dev/null >>"$T/gw-$name.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_listening "$addr" 2222 "$pid" || die "gateway $name: $(tail -n 3 "$T/gw-$name.log")"
	GW_ADDR[$name]=$addr GW_PORT[$name]=2222 GW_PID[$name]=$pid GW_LOG[$name]=$T/gw-$name.log
	echo "[$addr]:2222 $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"
}
# a full disk: a 64 KiB tmpfs, no free-space floor
start_tmpfs_gateway full "${NET}4" 64k "record_keep_free = 0"
# a free-space floor: 512 KiB of a 1 MiB tmpfs stay free
start_tmpfs_gateway floor "${NET}5" 1m "record_keep_free = 512K"

# cast_check FILE PYTHON_EXPRESSION: true when the expression holds for the
# recording (header: the header's JSON; events: the list of events).
cast_check() {
	/usr/bin/python3 "$SRT_ROOT/tests/helpers/cast_check.py" "$1" "$2"
}

# newest_cast DIR USER: the newest recording of USER in DIR.
newest_cast() {
	find "$1" -name "*-$2-*.cast" -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-
}

# record_field GW NAME: a field of the gateway's last session record.
record_field() {
	grep 'session end' "${GW_LOG[$1]}" | tail -n 1 | sed -n "s/.* $2=\\(\"[^\"]*\"\\|[^ ]*\\).*/\\1/p" |
		tr -d '"'
}

# ---------------------------------------------------------------- an interactive session, recorded

tmux_ssh gw srt-alice

# typed ID: types a command that prints "MARK-ID-$RUN_ID" computed by the
# shell (so the echo of the typed line never matches), until it shows.
typed() {
	local deadline=$((SECONDS + 15)) next=0
	while [ "$SECONDS" -lt "$deadline" ]; do
		if [ "$SECONDS" -ge "$next" ]; then
			tm send-keys -t srt "echo MARK-\$((40+2))-$1-$RUN_ID" Enter
			next=$((SECONDS + 2))
		fi
		tm capture-pane -p -t srt | grep -q "MARK-42-$1-$RUN_ID" && return 0
		sleep 0.2
	done
	return 1
}
typed first || not_ok "tmux: the remote shell answers" "$(tm capture-pane -p -t srt | tail -n 5)"
tm resize-window -t srt -x 120 -y 40
typed second || not_ok "tmux: the remote shell answers after a resize" "$(tm capture-pane -p -t srt | tail -n 5)"
tm send-keys -t srt 'exit 3' Enter
deadline=$((SECONDS + 10))
until [ -s "$T/pty.status" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
expect_eq "recorded shell: the exit status reaches the client" 3 "$(cat "$T/pty.status" 2>/dev/null)"
tm kill-server

wait_no_children gw 10
cast=$(newest_cast "$REC" srt-alice)
if [ -n "$cast" ]; then ok "recorded shell: one file in record_dir"; else not_ok "recorded shell: one file in record_dir" "$(ls -la "$REC")"; fi
expect_match "recording: named YYYYMMDDTHHMMSSZ-USER-PID-CHANNEL.cast" \
	'^[0-9]{8}T[0-9]{6}Z-srt-alice-[0-9]+-1\.cast$' "$(basename "$cast")"
expect_eq "recording: mode 0640" 640 "$(stat -c %a "$cast" 2>/dev/null)"
cast_check "$cast" 'header["version"] == 2 and header["width"] == 100 and header["height"] == 30' &&
	ok "recording: asciicast v2 header with the pty's size" ||
	not_ok "recording: asciicast v2 header with the pty's size" "$(head -n 1 "$cast")"
cast_check "$cast" 'header["env"]["TERM"] == "screen" and "srt-alice" in header["title"] and "shell" in header["title"]' &&
	ok "recording: TERM, and the title names the user and the command" ||
	not_ok "recording: TERM, and the title names the user and the command" "$(head -n 1 "$cast")"
cast_check "$cast" '"MARK-42-first-" in text("o") and "MARK-42-second-" in text("o")' &&
	ok "recording: the typed commands' output" || not_ok "recording: the typed commands' output" "$(tail -n 3 "$cast")"
cast_check "$cast" '"120x40" in [e[2] for e in events if e[1] == "r"]' &&
	ok "recording: the window change" || not_ok "recording: the window change" "$(grep '"r"' "$cast")"
cast_check "$cast" 'not [e for e in events if e[1] == "i"]' &&
	ok "recording: no input events without record_input" || not_ok "recording: no input events without record_input" "$(grep '"i"' "$cast" | head -n 2)"
cast_check "$cast" 'all(events[k][0] <= events[k + 1][0] for k in range(len(events) - 1))' &&
	ok "recording: event times in order" || not_ok "recording: event times in order" ""
played=$(TERM=xterm timeout 20 script -qec "asciinema cat $cast" /dev/null 2>&1)
expect_contains "playback: asciinema cat shows the command's output" "$played" "MARK-42-first-$RUN_ID"
expect_contains "playback: and the exit" "$played" "exit 3"
expect_eq "session record: lists the recording" "$(basename "$cast")" "$(grep 'user=srt-alice' "${GW_LOG[gw]}" |
	grep 'session end' | tail -n 1 | sed -n 's/.* recordings=\([^ ]*\).*/\1/p')"

# ---------------------------------------------------------------- a command with record_input

out=$(printf 'INPUT-LINE-%s\n' "$RUN_ID" | gw_ssh gw srt-bob 'cat; echo done >&2' 2>"$T/err")
expect_eq "record_input: the command runs" "INPUT-LINE-$RUN_ID" "$out"
wait_no_children gw 10
cast=$(newest_cast "$REC" srt-bob)
cast_check "$cast" 'header["width"] == 80 and header["height"] == 24 and "env" not in header' &&
	ok "recording without a pty: 80x24, no TERM" || not_ok "recording without a pty: 80x24, no TERM" "$(head -n 1 "$cast")"
cast_check "$cast" '"INPUT-LINE-" in text("i") and "INPUT-LINE-" in text("o") and "done" in text("o")' &&
	ok "record_input: input and output (stderr too) are recorded" ||
	not_ok "record_input: input and output (stderr too) are recorded" "$(cat "$cast")"
cast_check "$cast" '"cat; echo done" in header["title"]' &&
	ok "recording: the title names the command" || not_ok "recording: the title names the command" "$(head -n 1 "$cast")"
printf 'ls\n' >"$T/sftp.batch"
gw_sftp gw srt-alice "$T/sftp.batch" >/dev/null 2>&1
wait_no_children gw 10
expect_eq "sftp on a recorded route: the session record notes it, unrecorded" \
	"subsystem sftp (not recorded)" "$(record_field gw recordings)"

# An upstream that floods: 32 MiB of output as fast as it can, recorded.
# Every byte arrives, and memory stays bounded (the recording's buffer is
# written out at 64 KiB, the relay's carry is bounded by the window).
out=$(gw_ssh gw srt-alice 'head -c 25165824 /dev/zero | base64 -w 0' </dev/null 2>/dev/null | wc -c)
expect_eq "a flooding upstream, recorded: every byte arrives" 33554432 "$out"
wait_no_children gw 10
kib=$(record_field gw peak_memory_kib)
if memory_check_applies "a flooding upstream, recorded: memory stays bounded"; then
	if [ -n "$kib" ] && [ "$kib" -le 20480 ]; then
		ok "a flooding upstream, recorded: memory stays bounded ($kib KiB peak)"
	else
		not_ok "a flooding upstream, recorded: memory stays bounded" "peak ${kib:-?} KiB (limit 20 MiB)"
	fi
fi
cast=$(newest_cast "$REC" srt-alice)
cast_check "$cast" 'len(text("o")) == 33554432' &&
	ok "a flooding upstream: the recording holds every byte" ||
	not_ok "a flooding upstream: the recording holds every byte" "$(stat -c %s "$cast")"

# ---------------------------------------------------------------- fail closed

# refused_unrecorded GW CASE: a recorded session through GW does not
# start; the client gets the message and a failing exit status.
refused_unrecorded() {
	local out rc
	out=$(LOGLEVEL=INFO gw_ssh "$1" srt-alice "echo ran-$RUN_ID" 2>"$T/err")
	rc=$?
	if [ "$rc" != 0 ] && [ -z "$out" ] && grep -qF "sshroute: session recording is unavailable" "$T/err"; then
		ok "$2"
	else
		not_ok "$2" "rc $rc, out '$out', err '$(cat "$T/err")'"
	fi
}

refused_unrecorded missing "missing record_dir: the session is refused, with a clear message"
check_log_line "missing record_dir: the log says why" "${GW_LOG[missing]}" "cannot be recorded" \
	"$T/no-such-dir" "No such file or directory"

out=$(LOGLEVEL=INFO gw_ssh full srt-alice 'head -c 300000 /dev/zero | base64' 2>"$T/err" | wc -c)
if grep -qF "sshroute: session recording is unavailable" "$T/err"; then
	ok "full disk: the session ends, with a clear message"
else
	not_ok "full disk: the session ends, with a clear message" "got $out bytes, err '$(cat "$T/err")'"
fi
check_log_line "full disk: the log says why" "$T/gw-full.log" "session recording failed" "No space left"

# record_keep_free: a session that brings the file system below the floor
# ends, its recording closed; the next one is refused.
out=$(LOGLEVEL=INFO gw_ssh floor srt-alice 'echo floor-start; head -c 600000 /dev/zero | base64' \
	2>"$T/err" | wc -c)
if grep -qF "sshroute: session recording is unavailable" "$T/err" && [ "$out" -lt 810000 ]; then
	ok "record_keep_free: a session that goes below it ends, with a clear message"
else
	not_ok "record_keep_free: a session that goes below it ends" "got $out bytes, err '$(cat "$T/err")'"
fi
check_log_line "record_keep_free: the log says why" "${GW_LOG[floor]}" "session recording failed" \
	"below record_keep_free (524288 bytes)"
wait_no_children floor 10
# the tmpfs is in the gateway's mount namespace
floor_cast=$(nsenter -t "${GW_PID[floor]}" -m -r sh -c "ls $T/rec-floor/*srt-alice*.cast" 2>/dev/null | head -n 1)
if [ -n "$floor_cast" ] && nsenter -t "${GW_PID[floor]}" -m -r cat "$floor_cast" >"$T/floor.cast" &&
	cast_check "$T/floor.cast" "'floor-start' in text('o')"; then
	ok "record_keep_free: the recording is closed whole, with the start of the output"
else
	not_ok "record_keep_free: the recording is closed whole" "${floor_cast:-no file}: $(tail -c 200 "$T/floor.cast" 2>&1)"
fi
refused_unrecorded floor "record_keep_free: below it, a new recorded session is refused, with a clear message"
check_log_line "record_keep_free: the refusal's log line says why" "${GW_LOG[floor]}" \
	"cannot be recorded" "below record_keep_free"

out=$(gw_ssh small srt-alice 'head -c 100000 /dev/zero | base64 -w 0' 2>"$T/err" | wc -c)
expect_eq "record_max_size: the session goes on past it, every byte delivered" 133336 "$out"
wait_no_children small 10
cast=$(newest_cast "$T/rec-small" srt-alice)
size=$(stat -c %s "$cast" 2>/dev/null || echo missing)
if [ "$size" != missing ] && [ "$size" -le 8192 ] && [ "$size" -gt 7000 ]; then
	ok "record_max_size: the file fills up to it, and stays within it ($size bytes)"
else
	not_ok "record_max_size: the file fills up to it, and stays within it" "size $size"
fi
cast_check "$cast" 'events[-1][1] == "m" and "record_max_size" in events[-1][2]' &&
	ok "record_max_size: a marker event ends the recording" || not_ok "record_max_size: a marker event ends the recording" "$(tail -c 300 "$cast")"
check_log_line "record_max_size: logged" "${GW_LOG[small]}" "reached record_max_size"

# ---------------------------------------------------------------- max_session_time

start=$SECONDS
out=$(LOGLEVEL=INFO gw_ssh gw srt-carol 'sleep 30; echo not-cut' 2>"$T/err")
took=$((SECONDS - start))
if [ "$took" -lt 10 ] && [ -z "$out" ] && grep -qF "sshroute: session time limit reached" "$T/err"; then
	ok "max_session_time = 2: sleep 30 is cut, with the message (after $took s)"
else
	not_ok "max_session_time = 2: sleep 30 is cut, with the message" "after $took s, out '$out', err '$(cat "$T/err")'"
fi
wait_no_children gw 10
expect_eq "max_session_time: the session record says why" "session time limit" "$(record_field gw end)"
# The recording holds everything the client received, up to the cut: the
# ending writes out what waited in its buffer (up to a second's output).
# (It may hold a little more than ssh printed: OpenSSH's client exits at
# the disconnect without writing out the channel data it has buffered.)
wait_no_children gw 10
gw_ssh gw srt-carol 'while :; do echo "tick-$(date +%s%N)"; sleep 0.01; done' \
	</dev/null >"$T/ticks.out" 2>/dev/null
wait_no_children gw 10
cast=$(newest_cast "$REC" srt-carol)
got=$(wc -c <"$T/ticks.out")
if [ "$got" -gt 0 ] && [ -n "$cast" ] &&
	cast_check "$cast" "text('o').startswith(open('$T/ticks.out', encoding='utf-8').read())"; then
	ok "max_session_time: the recording holds all $got bytes the client received"
else
	not_ok "max_session_time: the recording holds all the client received" \
		"client $got bytes, ending $(tail -c 60 "$T/ticks.out" | tr '\n' ' '); recording ending $(tail -c 160 "$cast" 2>&1)"
fi
# to the millisecond, not in whole seconds: never before the limit, and
# within a poll's reach after it
line=$(log_line 5 "${GW_LOG[gw]}" "(max_session_time = 2)") || line=
held=$(printf '%s' "$line" | sed -n 's/.*logged in for \([0-9.]*\) seconds.*/\1/p')
if [ -n "$held" ] && awk -v t="$held" 'BEGIN { exit !(t >= 2.0 && t < 2.2) }'; then
	ok "max_session_time = 2: the session ends 2.000 to 2.2 s after login ($held s)"
else
	not_ok "max_session_time = 2: the session ends 2.000 to 2.2 s after login" "'$line'"
fi

# ---------------------------------------------------------------- forwarding switches

banner=$(timeout 5 bash -c "exec 3<>/dev/tcp/${NET}11/2022; head -n 1 <&3" | tr -d '\r')

# w_banner USER: the first line through ssh -W to the upstream's sshd.
w_banner() {
	sleep 1 | LOGLEVEL=INFO gw_ssh gw "$1" -W "${NET}11:2022" 2>"$T/W.err" | head -n 1 | tr -d '\r'
}
expect_eq "-W allowed by default" "$banner" "$(w_banner srt-alice)"
expect_eq "-W allowed with allow_tcp_forwarding = local" "$banner" "$(w_banner srt-team-blue)"
out=$(w_banner srt-team-red)
if [ -z "$out" ] && grep -q "administratively prohibited" "$T/W.err"; then
	ok "-W refused with allow_tcp_forwarding = no (administratively prohibited)"
else
	not_ok "-W refused with allow_tcp_forwarding = no" "out '$out', err '$(cat "$T/W.err")'"
fi

# l_banner USER PORT: the first line through ssh -L PORT to the upstream's sshd.
l_banner() {
	local pid out
	gw_ssh gw "$1" -N -L "127.0.0.1:$2:${NET}11:2022" </dev/null 2>"$T/L.err" &
	pid=$!
	track_pid "$pid"
	if wait_listening 127.0.0.1 "$2" "$pid"; then
		out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2; head -n 1 <&3" 2>/dev/null | tr -d '\r')
	fi
	kill_tree "$pid"
	echo "${out-}"
}
lport=$(free_port 127.0.0.1 $((30000 + RANDOM % 20000))) || die "no free port"
expect_eq "-L allowed by default" "$banner" "$(l_banner srt-alice "$lport")"
expect_eq "-L refused with allow_tcp_forwarding = no" "" "$(l_banner srt-team-red "$lport")"
check_log_line "-L refused: logged at verbose" "${GW_LOG[gw]}" "refused a direct-tcpip channel" \
	"allow_tcp_forwarding" 'user="srt-team-red"'

# r_forward USER: ssh -R with port 0; true when the upstream listens.
r_forward() {
	gw_ssh gw "$1" -o ExitOnForwardFailure=yes -R "${NET}11:0:127.0.0.1:9" true </dev/null 2>"$T/R.err"
}
if r_forward srt-alice; then ok "-R allowed by default"; else not_ok "-R allowed by default" "$(cat "$T/R.err")"; fi
if ! r_forward srt-team-blue && grep -q "remote port forwarding failed" "$T/R.err"; then
	ok "-R refused with allow_tcp_forwarding = local"
else
	not_ok "-R refused with allow_tcp_forwarding = local" "$(cat "$T/R.err")"
fi
if ! r_forward srt-team-red; then ok "-R refused with allow_tcp_forwarding = no"; else not_ok "-R refused with allow_tcp_forwarding = no" ""; fi

AGENT_SOCK=$T/agent.sock
ssh-agent -D -a "$AGENT_SOCK" </dev/null >/dev/null 2>"$T/agent.err" &
agent_pid=$!
track_pid "$agent_pid"
for _ in $(seq 50); do [ -S "$AGENT_SOCK" ] && break; sleep 0.1; done
# shellcheck disable=SC2016
out=$(SSH_AUTH_SOCK=$AGENT_SOCK gw_ssh gw srt-alice -A 'echo "${SSH_AUTH_SOCK:-none}"' </dev/null 2>/dev/null)
if [ -n "$out" ] && [ "$out" != none ]; then ok "-A allowed by default"; else not_ok "-A allowed by default" "'$out'"; fi
# shellcheck disable=SC2016
out=$(SSH_AUTH_SOCK=$AGENT_SOCK gw_ssh gw srt-team-red -A 'echo "${SSH_AUTH_SOCK:-none}"' </dev/null 2>/dev/null)
expect_eq "-A refused with allow_agent_forwarding = no: no agent upstream, the session goes on" none "$out"
kill_tree "$agent_pid"

# ---------------------------------------------------------------- a refused request

# A running shell's recording stays whatever the client asks next: a
# second exec on the same channel is refused upstream and changes nothing.
wait_no_children gw 10
out=$(SRT_PASSWORD=${PASSWORD[srt-alice]} timeout -k 5 "$CLIENT_TIMEOUT" \
	"$SRT_ROOT/tests/helpers/second_request.py" "${NET}1" 2222 srt-alice "$T/client_known_hosts" \
	twice 2>"$T/second.err")
expect_match "a second exec on a running shell: the shell goes on" 'second-twice' "$out"
cast=$(grep -l "first-twice" "$REC"/*srt-alice*.cast 2>/dev/null | tail -n 1)
if [ -n "$cast" ] && "$SRT_ROOT/tests/helpers/cast_check.py" "$cast" \
	"'first-twice' in text('o') and 'second-twice' in text('o')" 2>/dev/null; then
	ok "... and its recording is kept, whole, with what came after"
else
	not_ok "... and its recording is kept, whole" "${cast:-no recording}; $(cat "$T/second.err")"
fi
wait_no_children gw 10
expect_eq "... and the session record names that recording" "$(basename "${cast:-none}")" \
	"$(basename "$(record_field gw recordings)")"

# ---------------------------------------------------------------- a protocol violation

# A command's output reached the client; then the client breaks the window
# on another channel and is cut off: the recording still holds the output.
wait_no_children gw 10
out=$(timeout -k 5 90 /usr/bin/python3 "$SRT_ROOT/tests/helpers/hostile_peer.py" "${NET}1" 2222 \
	srt-alice "${PASSWORD[srt-alice]}" violate "echo violated-$RUN_ID; sleep 30" 2>&1)
expect_match "a client that breaks the window after a command: cut off" "^ended: " "$out"
wait_no_children gw 10
cast=$(grep -l "violated-$RUN_ID" "$REC"/*srt-alice*.cast 2>/dev/null | head -n 1)
if [ -n "$cast" ] && cast_check "$cast" "'violated-$RUN_ID' in text('o')"; then
	ok "... and the recording holds the output the client received"
else
	not_ok "... and the recording holds the output the client received" \
		"$out; $(ls "$REC" | tail -n 3 | tr '\n' ' ')"
fi
expect_eq "... and the session record says why" "protocol violation" "$(record_field gw end)"

# ---------------------------------------------------------------- a clean stop

# stop_session SIGNAL: a recorded session prints a line then waits; its
# sshroute gets SIGNAL, as from systemctl stop or a shutdown. Sets
# STOP_MS (signal to exit), STOP_ERR (what the client printed) and
# STOP_CAST (the recording).
stop_session() {
	local client relay i start
	STOP_MS= STOP_ERR= STOP_CAST=
	wait_no_children gw 10
	LOGLEVEL=INFO gw_ssh gw srt-alice "echo before-$1; sleep 20; echo after-$1" \
		</dev/null >"$T/stop.out" 2>"$T/stop.err" &
	client=$!
	track_pid "$client"
	for i in $(seq 100); do grep -q "before-$1" "$T/stop.out" && break; sleep 0.1; done
	relay=$(gateway_children gw | head -n 1)
	[ -n "$relay" ] || return 1
	start=$(date +%s%N)
	kill "-$1" "$relay"
	wait_gone 10 "$relay"
	STOP_MS=$((($(date +%s%N) - start) / 1000000))
	wait "$client"
	STOP_ERR=$(cat "$T/stop.err")
	STOP_CAST=$(grep -l "before-$1" "$REC"/*srt-alice*.cast 2>/dev/null | tail -n 1)
}

for sig in TERM HUP INT; do
	num=$(kill -l "$sig")
	if ! stop_session "$sig"; then
		not_ok "SIG$sig: a clean stop" "no session to stop: $(cat "$T/stop.err")"
		continue
	fi
	note "SIG$sig to exit: $STOP_MS ms"
	if [ "$STOP_MS" -le 1000 ]; then
		ok "SIG$sig: sshroute exits within 1 s ($STOP_MS ms)"
	else
		not_ok "SIG$sig: sshroute exits within 1 s" "$STOP_MS ms"
	fi
	expect_contains "SIG$sig: the client is told" "$STOP_ERR" "sshroute: the gateway is shutting down"
	expect_eq "SIG$sig: the session went no further" "before-$sig" "$(cat "$T/stop.out")"
	line=$(log_line 5 "${GW_LOG[gw]}" "session end" "end=\"signal $num\"") || line=
	expect_match "SIG$sig: the session record says end=\"signal $num\"" ' exit=0 ' "$line"
	if [ -n "$STOP_CAST" ] && tail -n 1 "$STOP_CAST" | jq -e . >/dev/null 2>&1 &&
		grep -q "before-$sig" "$STOP_CAST"; then
		ok "SIG$sig: the recording is closed, with the output the client received"
	else
		not_ok "SIG$sig: the recording is closed, with the output" \
			"${STOP_CAST:-no file}: $(tail -c 300 "$STOP_CAST" 2>&1)"
	fi
done

# Before authentication: a client that sent nothing, and SIGTERM.
exec 5<>"/dev/tcp/${NET}1/2222"
for i in $(seq 50); do [ -n "$(gateway_children gw)" ] && break; sleep 0.1; done
relay=$(gateway_children gw | head -n 1)
log_line 5 "${GW_LOG[gw]}" "sshroute[$relay]: info: connection from" >/dev/null
kill -TERM "$relay" 2>/dev/null
if wait_gone 2 "$relay" && log_line 5 "${GW_LOG[gw]}" "session end" 'end="signal 15"' "exit=0" |
	grep -q "user= "; then
	ok "SIGTERM before authentication: ends at once, with its session record"
else
	not_ok "SIGTERM before authentication: ends at once, with its session record" \
		"$(tail -n 3 "${GW_LOG[gw]}")"
fi
exec 5>&-

# ---------------------------------------------------------------- retention

# contrib/tmpfiles.d/sshroute.conf, its paths moved here: systemd-tmpfiles
# --clean removes a recording last written 100 days ago, keeps the others.
mkdir -p "$T/aged/private" "$T/aged/plain"
for d in private plain; do
	echo '{"version": 2}' >"$T/aged/$d/old.cast"
	echo '{"version": 2}' >"$T/aged/$d/new.cast"
	touch -m -d '100 days ago' "$T/aged/$d/old.cast"
done
sed -e "s|/var/log/private/sshroute/sessions|$T/aged/private|" \
	-e "s|/var/log/sshroute/sessions|$T/aged/plain|" \
	"$SRT_ROOT/contrib/tmpfiles.d/sshroute.conf" >"$T/tmpfiles.conf"
out=$(systemd-tmpfiles --clean "$T/tmpfiles.conf" 2>&1)
left=$(ls "$T/aged/private" "$T/aged/plain" | grep cast | tr '\n' ' ')
expect_eq "tmpfiles.d example: systemd-tmpfiles --clean removes the 100-day-old recordings" \
	"new.cast new.cast |" "$left|$out"

# ---------------------------------------------------------------- -T and -t

out=$("$SSHROUTE" -f "$T/route.ini" -T srt-bob 2>&1)
expect_contains "-T: the recording" "$out" "record: yes (record_input: yes; in $REC, at most 104857600 bytes each, keeping 268435456 bytes free)"
expect_contains "-T: record_keep_free" "$("$SSHROUTE" -f "$T/floor.ini" -T srt-alice 2>&1)" \
	"keeping 524288 bytes free"
out=$("$SSHROUTE" -f "$T/route.ini" -T srt-team-red 2>&1)
expect_contains "-T: the forwarding switches" "$out" $'allow_tcp_forwarding: no\nallow_agent_forwarding: no\nx11_forwarding: no'
expect_contains "-T: max_session_time" "$("$SSHROUTE" -f "$T/route.ini" -T srt-carol 2>&1)" "max_session_time: 2 s"
expect_contains "-T: allow_tcp_forwarding = local" "$("$SSHROUTE" -f "$T/route.ini" -T srt-team-blue 2>&1)" \
	"allow_tcp_forwarding: local"
sed -e 's/^allow_tcp_forwarding = local/allow_tcp_forwarding = sometimes/' -e 's/^record_input = yes/record_input = maybe/' \
	-e 's|^record_dir = .*|record_dir = relative/dir|' "$T/route.ini" >"$T/bad.ini"
out=$("$SSHROUTE" -f "$T/bad.ini" -t 2>&1)
expect_contains "-t: a bad allow_tcp_forwarding" "$out" 'bad allow_tcp_forwarding "sometimes" (yes, no, local or remote)'
expect_contains "-t: a bad record_input" "$out" 'bad record_input "maybe" (yes or no)'
expect_contains "-t: a relative record_dir" "$out" 'record_dir "relative/dir" is not an absolute path'
sed 's/^record_keep_free = .*/record_keep_free = 12X/' "$T/floor.ini" >"$T/bad-floor.ini"
expect_contains "-t: a bad record_keep_free" "$("$SSHROUTE" -f "$T/bad-floor.ini" -t 2>&1)" \
	'record_keep_free "12X" is not a size (bytes, or with K, M, G or T)'

check_no_passwords "no password in the logs or the recordings" "${GW_LOG[gw]}" "$REC"/*.cast
check_no_leftovers "no sshroute process left" gw missing small full floor
finish
