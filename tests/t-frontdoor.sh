#!/bin/bash
# The front door (issue 12): what keeps one connection from hurting the
# gateway, whatever the peer does.
#  - flow control: a client that ignores the channel window (paramiko,
#    tests/hostile_peer.py) is disconnected as a protocol violation, and
#    sshroute's peak memory stays under 32 MiB; so is an upstream that
#    does the same (tests/hostile_upstream.py);
#  - sshd's limits: max_sessions, and the fixed caps on channels and -R
#    listeners; over a limit the request is refused and the connection
#    goes on.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

PY=/usr/bin/python3
"$PY" -c 'import paramiko' 2>/dev/null || die "paramiko is not installed (Debian: python3-paramiko)"
HOSTILE=$SRT_ROOT/tests/hostile_peer.py

start_upstream alice "${NET}11" 2022
# a TCP service behind the upstream for tunnels: accepts and holds
"$PY" "$SRT_ROOT/tests/fake_upstream.py" "${NET}21" 2030 silent >/dev/null 2>&1 &
track_pid $!
wait_listening "${NET}21" 2030 $! || die "fake_upstream.py on ${NET}21:2030"
# an upstream that ignores the window sshroute advertises
ssh-keygen -q -t ed25519 -N '' -f "$T/flood_key" || die "ssh-keygen"
"$PY" "$SRT_ROOT/tests/hostile_upstream.py" "${NET}12" 2022 "$T/flood_key" flood >"$T/flood.log" 2>&1 &
track_pid $!
wait_listening "${NET}12" 2022 $! || die "hostile_upstream.py on ${NET}12:2022"
{
	known_hosts_entry alice
	echo "[${NET}12]:2022 $(cut -d' ' -f1-2 "$T/flood_key.pub")"
} >"$T/known_hosts"
make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
max_sessions = 3

[route srt-alice]
upstream = ${NET}11:2022

[route srt-flood]
upstream = ${NET}12:2022
EOF
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
LOG=${GW_LOG[gw]}

# hostile ARGS...: runs tests/hostile_peer.py against the gateway as srt-alice.
hostile() {
	timeout -k 5 90 "$PY" "$HOSTILE" "${NET}1" 2222 srt-alice "${PASSWORD[srt-alice]}" "$@" 2>&1
}

# last_record: the newest session record in the gateway's log.
last_record() {
	grep 'session end' "$LOG" | tail -n 1
}

# record_field NAME: a field of the newest session record.
record_field() {
	last_record | grep -o " $1=[^ ]*" | cut -d= -f2 | tr -d '"'
}

# wait_records N: bounded wait until the log holds N session records.
wait_records() {
	local deadline=$((SECONDS + 20))
	while [ "$(grep -c 'session end' "$LOG")" -lt "$1" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

records=0

# ---------------------------------------------------------------- flow control

out=$(hostile flood 200)
records=$((records + 1))
wait_records $records || note "no session record after the flood"
sent=$(printf '%s\n' "$out" | sed -n 's/^sent //p')
expect_match "window flood: the connection ends" "^ended: " "$(printf '%s\n' "$out" | grep '^ended:')"
if [ -n "$sent" ] && [ "$sent" -lt $((200 * 1024 * 1024)) ]; then
	ok "window flood: cut off after $sent of $((200 * 1024 * 1024)) bytes"
else
	not_ok "window flood: cut off" "the client sent ${sent:-nothing}: $out"
fi
expect_match "window flood: logged as a protocol violation" \
	"channel [0-9]+: the client sent more data than the window allowed" "$(cat "$LOG")"
expect_eq "window flood: session record says protocol violation" "protocol violation" \
	"$(last_record | grep -o 'end="[^"]*"' | cut -d'"' -f2)"
expect_eq "window flood: exit 5" 5 "$(record_field exit)"
peak=$(record_field peak_memory_kib)
if memory_check_applies "window flood: peak memory under 32 MiB"; then
	if [ -n "$peak" ] && [ "$peak" -gt 0 ] && [ "$peak" -lt 32768 ]; then
		ok "window flood: peak memory under 32 MiB ($peak KiB)"
	else
		not_ok "window flood: peak memory under 32 MiB" "peak_memory_kib=${peak:-none}"
	fi
fi

# The same from the upstream's side, toward a client that reads nothing
# for a while (so that sshroute's window to the upstream closes).
out=$(timeout -k 5 90 "$PY" "$HOSTILE" "${NET}1" 2222 srt-flood any stall 3 flood 2>&1)
records=$((records + 1))
wait_records $records || note "no session record after the upstream's flood"
expect_match "upstream flood: the client's connection ends" "^ended: " "$out"
expect_match "upstream flood: logged as a protocol violation" \
	"channel [0-9]+: the upstream sent more data than the window allowed" "$(cat "$LOG")"
expect_eq "upstream flood: session record says protocol violation" "protocol violation" \
	"$(last_record | grep -o 'end="[^"]*"' | cut -d'"' -f2)"
expect_eq "upstream flood: exit 6" 6 "$(record_field exit)"
peak=$(record_field peak_memory_kib)
if memory_check_applies "upstream flood: peak memory under 32 MiB"; then
	if [ -n "$peak" ] && [ "$peak" -gt 0 ] && [ "$peak" -lt 32768 ]; then
		ok "upstream flood: peak memory under 32 MiB ($peak KiB)"
	else
		not_ok "upstream flood: peak memory under 32 MiB" "peak_memory_kib=${peak:-none}"
	fi
fi

# A well-behaved upload of the same size still works: the check is on the
# window, not on volume.
head -c 32M /dev/urandom >"$T/up.bin"
chmod 644 "$T/up.bin"
out=$(gw_ssh gw srt-alice 'sha256sum' <"$T/up.bin" 2>&1)
records=$((records + 1))
expect_eq "32 MiB upload within the window" "$(sha256sum <"$T/up.bin")" "$out"

# ---------------------------------------------------------------- limits

# max_sessions = 3: the fourth session channel is refused as sshd refuses
# it, and the connection goes on (one closed, a new one runs a command).
out=$(hostile sessions 5)
records=$((records + 1))
expect_match "max_sessions: 3 of 5 sessions open" "^opened 3 refused 2$" "$out"
expect_match "max_sessions: the connection goes on" "^echo: alive$" "$out"
expect_match "max_sessions: the refusal is logged" "refused a session channel: 3 sessions are open" \
	"$(cat "$LOG")"

# Channels of any kind: at most 64 at once.
out=$(hostile channels 70 "${NET}21" 2030)
records=$((records + 1))
expect_match "channel cap: 64 of 70 tunnels open" "^opened 64 refused 6$" "$out"
expect_match "channel cap: the connection goes on" "^echo: alive$" "$out"

# -R listeners: at most 16.
out=$(hostile listeners 18)
records=$((records + 1))
expect_match "listener cap: 16 of 18 ports forwarded" "^bound 16 refused 2$" "$out"
expect_match "listener cap: the connection goes on" "^echo: alive$" "$out"

wait_records $records || note "fewer session records than connections"
check_no_leftovers "no sshroute process left" gw
finish
