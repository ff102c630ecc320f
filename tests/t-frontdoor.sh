#!/bin/bash
# The front door (issue 12): what keeps one connection from hurting the
# gateway, whatever the peer does.
#  - flow control: a client that ignores the channel window (paramiko,
#    tests/helpers/hostile_peer.py) is disconnected as a protocol violation, and
#    sshroute's peak memory stays under 32 MiB; so is an upstream that
#    does the same (tests/helpers/hostile_upstream.py);
#  - sshd's limits: max_sessions, max_channels, and the fixed cap on -R
#    listeners; over a limit the request is refused and the connection
#    goes on;
#  - the memory budget: 64 sessions sending to commands that read only
#    later, and 64 channels sending to a client that reads only later,
#    keep the process under 48 MiB and every byte arrives; a client that
#    fills one channel after the other is disconnected at the ceiling,
#    under 48 MiB too;
#  - no account enumeration: before a credential, a routed name, a name
#    without a route, one whose upstream is down and a lookup route get the
#    same methods, at the same speed, with no banner, and no upstream or
#    lookup program is asked; a name without a route fails like a wrong
#    credential (one Password: prompt for keyboard-interactive);
#    "unavailable" comes only after a credential; gssapi-with-mic is
#    refused and counted; a wrong password fails after the same time on a
#    PAM route, a route without PAM and without a route;
#  - login_grace_time stops a lookup program that hangs, with everything it
#    started, and the connection still ends with its record;
#  - an upstream's no-more-sessions@openssh.com is not taken for the
#    client's;
#  - nothing lost: an upstream that exits and hangs up 10 ms after its last
#    bytes (asyncssh) still gets all of them, and its exit status, to a
#    client that reads slowly; a client that hangs up right after EOF on an
#    upload still gets every byte to the upstream.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

PY=/usr/bin/python3
"$PY" -c 'import paramiko' 2>/dev/null || die "paramiko is not installed (Debian: python3-paramiko)"
HOSTILE=$SRT_ROOT/tests/helpers/hostile_peer.py

BANNER_TEXT="srt-frontdoor-banner-$RUN_ID"
echo "$BANNER_TEXT" >"$T/banner.txt"
start_upstream_with alice "${NET}11" 2022 "Banner $T/banner.txt"
# a TCP service behind the upstream for tunnels: accepts and holds
"$PY" "$SRT_ROOT/tests/helpers/fake_upstream.py" "${NET}21" 2030 silent >/dev/null 2>&1 &
track_pid $!
wait_listening "${NET}21" 2030 $! || die "fake_upstream.py on ${NET}21:2030"
# an upstream that takes 64 sessions, for the memory budget
start_upstream_with wide "${NET}16" 2022 "MaxSessions 64"
# behind it, for tunnels: a service that sends a file once told to
FWD=("$PY" "$SRT_ROOT/tests/helpers/forward_services.py")
head -c 6M /dev/urandom >"$T/down.bin"
chmod 644 "$T/down.bin"
"${FWD[@]}" serve flood "${NET}22" 2032 "$T/down.bin" "$T/flood-progress" "$T/go-down" \
	</dev/null >>"$T/services.log" 2>&1 &
track_pid $!
wait_listening "${NET}22" 2032 $! || die "forward_services.py flood on ${NET}22:2032"
# an upstream that ignores the window sshroute advertises
ssh-keygen -q -t ed25519 -N '' -f "$T/flood_key" || die "ssh-keygen"
"$PY" "$SRT_ROOT/tests/helpers/hostile_upstream.py" "${NET}12" 2022 "$T/flood_key" flood >"$T/flood.log" 2>&1 &
track_pid $!
wait_listening "${NET}12" 2022 $! || die "hostile_upstream.py on ${NET}12:2022"
# an upstream that sends no-more-sessions itself
"$PY" "$SRT_ROOT/tests/helpers/hostile_upstream.py" "${NET}14" 2022 "$T/flood_key" nomore >"$T/nomore.log" 2>&1 &
track_pid $!
wait_listening "${NET}14" 2022 $! || die "hostile_upstream.py on ${NET}14:2022"
# an upstream that lets anyone in at "none"
"$PY" "$SRT_ROOT/tests/helpers/hostile_upstream.py" "${NET}15" 2022 "$T/flood_key" open >"$T/open.log" 2>&1 &
track_pid $!
wait_listening "${NET}15" 2022 $! || die "hostile_upstream.py on ${NET}15:2022"
# an upstream that hangs up right after its last bytes
ssh-keygen -q -t ed25519 -N '' -f "$T/abrupt_key" || die "ssh-keygen"
"$PY" "$SRT_ROOT/tests/helpers/abrupt_upstream.py" "${NET}13" 2022 "$T/abrupt_key" >"$T/abrupt.log" 2>&1 &
track_pid $!
wait_listening "${NET}13" 2022 $! || die "abrupt_upstream.py on ${NET}13:2022"
{
	known_hosts_entry alice
	known_hosts_entry wide
	echo "[${NET}12]:2022 $(cut -d' ' -f1-2 "$T/flood_key.pub")"
	echo "[${NET}13]:2022 $(cut -d' ' -f1-2 "$T/abrupt_key.pub")"
	echo "[${NET}14]:2022 $(cut -d' ' -f1-2 "$T/flood_key.pub")"
	echo "[${NET}15]:2022 $(cut -d' ' -f1-2 "$T/flood_key.pub")"
} >"$T/known_hosts"
make_gateway_key
ssh-keygen -q -t ed25519 -N '' -f "$T/client_key" || die "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -f "$T/id_gw" || die "ssh-keygen"
cp "$T/client_key.pub" "$T/ak_bob"
chmod 600 "$T/id_gw"
# A lookup program that leaves a mark when it runs; one that hangs.
printf '#!/bin/sh\ntouch "%s"\necho "upstream = %s"\n' "$T/lookup-ran" "${NET}11:2022" >"$T/lookup.sh"
printf '#!/bin/sh\necho $$ >"%s"\nsleep 60 &\necho $! >"%s"\nwait\n' \
	"$T/slow.pid" "$T/slow-child.pid" >"$T/slow-lookup.sh"
chmod 755 "$T/lookup.sh" "$T/slow-lookup.sh"
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
max_sessions = 3

[route srt-alice]
upstream = ${NET}11:2022

[route srt-bob]
upstream = ${NET}11:2022
authorized_keys = $T/ak_bob
identity = $T/id_gw

[route srt-down]
upstream = ${NET}19:2022

[route srt-lk-*]
lookup = $T/lookup.sh

[route srt-slow]
lookup = $T/slow-lookup.sh
lookup_timeout = 60

[route srt-flood]
upstream = ${NET}12:2022

[route srt-abrupt]
upstream = ${NET}13:2022

[route srt-nomore]
upstream = ${NET}14:2022

[route srt-open]
upstream = ${NET}15:2022
authorized_keys = $T/ak_bob
identity = $T/id_gw
EOF
sed 's/^max_sessions = 3$/login_grace_time = 2/' "$T/route.ini" >"$T/grace.ini"
# wide: 64 sessions to the upstream that takes them; narrow: 5 channels
cat >"$T/wide.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
max_sessions = 64

[route srt-alice]
upstream = ${NET}16:2022
EOF
sed 's/^max_sessions = 3$/max_channels = 5/' "$T/route.ini" >"$T/narrow.ini"
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
start_gateway grace "${NET}1" 2223 "$T/grace.ini" fd3
start_gateway wide "${NET}1" 2224 "$T/wide.ini" fd3
start_gateway narrow "${NET}1" 2225 "$T/narrow.ini" fd3
LOG=${GW_LOG[gw]}

# hostile ARGS...: runs tests/helpers/hostile_peer.py against the gateway as srt-alice.
hostile() {
	hostile_at 2222 "$@"
}

# hostile_at PORT ARGS...: the same against the gateway on PORT.
hostile_at() {
	local port=$1
	shift
	timeout -k 5 90 "$PY" "$HOSTILE" "${NET}1" "$port" srt-alice "${PASSWORD[srt-alice]}" "$@" 2>&1
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

# expect_peak_under_32mib NAME: the newest record's peak memory (VmHWM).
expect_peak_under_32mib() {
	local peak
	peak=$(record_field peak_memory_kib)
	memory_check_applies "$1: peak memory under 32 MiB" || return 0
	if [ -n "$peak" ] && [ "$peak" -gt 0 ] && [ "$peak" -lt 32768 ]; then
		ok "$1: peak memory under 32 MiB ($peak KiB)"
	else
		not_ok "$1: peak memory under 32 MiB" "peak_memory_kib=${peak:-none}"
	fi
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
expect_peak_under_32mib "window flood"

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
expect_peak_under_32mib "upstream flood"

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

# max_channels = 5 on the gateway "narrow".
out=$(hostile_at 2225 channels 7 "${NET}21" 2030)
expect_match "max_channels = 5: 5 of 7 tunnels open" "^opened 5 refused 2$" "$out"
expect_match "max_channels = 5: the connection goes on" "^echo: alive$" "$out"
expect_match "max_channels = 5: the refusal is logged" \
	"refused a direct-tcpip channel: 5 channels are open \\(max_channels\\)" "$(cat "${GW_LOG[narrow]}")"

# ---------------------------------------------------------------- the memory budget

# expect_peak_under NAME MIB: the newest session record's peak memory
# (VmHWM), in the log $LOG.
expect_peak_under() {
	local peak
	peak=$(record_field peak_memory_kib)
	memory_check_applies "$1: peak memory under $2 MiB" || return 0
	if [ -n "$peak" ] && [ "$peak" -gt 0 ] && [ "$peak" -lt $(($2 * 1024)) ]; then
		ok "$1: peak memory under $2 MiB ($peak KiB)"
	else
		not_ok "$1: peak memory under $2 MiB" "peak_memory_kib=${peak:-none}"
	fi
}

# On the gateway "wide" (max_sessions = 64), 64 channels whose readers
# are slow: sshroute stops reading the side that sends once its channels
# hold 6 MiB, and every byte still arrives once the readers read.
LOG=${GW_LOG[wide]}
wide_records=0
out=$(hostile_at 2224 upflood 64 4096 "$T/go-up")
wide_records=$((wide_records + 1))
wait_records $wide_records || note "no session record after upflood"
note "$(printf '%s\n' "$out" | grep '^stalled')"
expect_match "64 sessions, 4 MiB into each command before it reads: all arrive" \
	"^answers 64 of 64 right$" "$out"
expect_match "64 sessions sending: the connection goes on" "^echo: alive$" "$out"
expect_peak_under "64 sessions sending" 48
out=$(hostile_at 2224 downflood 64 "${NET}22" 2032 "$T/down.bin" "$T/go-down" 3)
wide_records=$((wide_records + 1))
wait_records $wide_records || note "no session record after downflood"
expect_match "2 sessions and 62 tunnels, 6 MiB each to a client that reads after 3 s: all arrive" \
	"^received 64 of 64 right$" "$out"
expect_peak_under "64 channels receiving" 48
# A client that fills one channel after the other (each command sleeps,
# then reads): libssh keeps each channel's buffer, so the process would
# grow with every channel. Past the ceiling the connection ends.
out=$(hostile_at 2224 oneafteranother 40 6144)
wide_records=$((wide_records + 1))
wait_records $wide_records || note "no session record after oneafteranother"
expect_match "channels filled one after the other: the connection ends at the ceiling" \
	' end="buffers full" ' "$(last_record)"
expect_match "channels filled one after the other: logged" \
	"the connection's channels made libssh and sshroute hold [0-9]+ bytes, over the 31457280 allowed" \
	"$(cat "$LOG")"
note "$(printf '%s\n' "$out" | grep '^filled')"
expect_peak_under "channels filled one after the other" 48
LOG=${GW_LOG[gw]}

# ---------------------------------------------------------------- no account enumeration

contacts_before=$(grep -c 'connected to upstream' "$LOG")
out=$("$PY" "$SRT_ROOT/tests/helpers/probe_names.py" "${NET}1" 2222 none \
	srt-alice srt-bob srt-down srt-lk-one srt-mallory 2>&1)
records=$((records + 25))
note "$out"
methods=$(printf '%s\n' "$out" | grep -o 'methods=[^ ]*' | sort -u)
expect_eq "before a credential: the same methods for every name" \
	"methods=publickey,keyboard-interactive,password" "$methods"
expect_eq "before a credential: no banner for any name" "" \
	"$(printf '%s\n' "$out" | grep 'banner=' | grep -v 'banner=no')"
spread=$(printf '%s\n' "$out" | sed -n 's/.* ms=//p' | sort -n | sed -n '1p;$p' | tr '\n' ' ' |
	awk '{ printf "%d", $2 - $1 }')
if [ -n "$spread" ] && [ "$spread" -le 15 ]; then
	ok "before a credential: the same speed for every name (medians within $spread ms)"
else
	not_ok "before a credential: the same speed for every name" "medians differ by ${spread:-?} ms: $out"
fi
wait_records $records || note "fewer session records than probes"
expect_eq "before a credential: no upstream is contacted" "$contacts_before" \
	"$(grep -c 'connected to upstream' "$LOG")"
if [ -e "$T/lookup-ran" ]; then
	not_ok "before a credential: no lookup program runs" "$T/lookup.sh ran"
else
	ok "before a credential: no lookup program runs"
fi

# A bare keyboard-interactive request is answered with sshroute's own
# Password: prompt, the same at the same speed for every name, without a
# lookup or an upstream (20 requests per name).
contacts_before=$(grep -c 'connected to upstream' "$LOG")
out=$(PROBE_ROUNDS=20 "$PY" "$SRT_ROOT/tests/helpers/probe_names.py" "${NET}1" 2222 kbdint \
	srt-alice srt-bob srt-down srt-lk-one srt-mallory 2>&1)
records=$((records + 100))
note "$out"
expect_eq "bare keyboard-interactive: one Password: prompt, the same for every name" \
	'round=["", "", [["Password: ", false]]]' \
	"$(printf '%s\n' "$out" | grep -o 'round=.* ms' | sed 's/ ms$//' | sort -u)"
spread=$(printf '%s\n' "$out" | sed -n 's/.* ms=//p' | sort -n | sed -n '1p;$p' | tr '\n' ' ' |
	awk '{ printf "%.2f", $2 - $1 }')
if [ -n "$spread" ] && awk -v s="$spread" 'BEGIN { exit !(s < 1) }'; then
	ok "bare keyboard-interactive: the same speed for every name (medians within $spread ms)"
else
	not_ok "bare keyboard-interactive: the same speed for every name" "medians differ by ${spread:-?} ms: $out"
fi
wait_records $records || note "fewer session records than probes"
# each probe answered its round with nothing: a failure, in the line that
# fail2ban's filter matches (t-fail2ban.sh)
expect_eq "bare keyboard-interactive, an empty answer: each is a failure, logged for fail2ban" 100 \
	"$(grep -c 'info: failed keyboard-interactive (1 of [0-9]*) \[client .* user="srt-' "$LOG")"
expect_eq "bare keyboard-interactive: no upstream is contacted" "$contacts_before" \
	"$(grep -c 'connected to upstream' "$LOG")"
if [ -e "$T/lookup-ran" ]; then
	not_ok "bare keyboard-interactive: no lookup program runs" "$T/lookup.sh ran"
else
	ok "bare keyboard-interactive: no lookup program runs"
fi

# A name without a route and keyboard-interactive: one ordinary password
# prompt, then the refusal after the failure delay.
: >"$T/prompts"
t0=$SECONDS
SRT_PROMPT_LOG=$T/prompts SRT_PASSWORD=$WRONG_PASSWORD gw_kbdint_ssh gw srt-mallory \
	</dev/null >/dev/null 2>"$T/err"
rc=$?
records=$((records + 1))
expect_eq "no route, keyboard-interactive: refused" 255 "$rc"
expect_match "no route, keyboard-interactive: a Password: prompt" 'Password: ?$' "$(cat "$T/prompts")"
expect_eq "no route, keyboard-interactive: exactly one prompt" 1 "$(grep -c . "$T/prompts")"
if [ $((SECONDS - t0)) -ge 2 ]; then
	ok "no route, keyboard-interactive: refused after the failure delay"
else
	not_ok "no route, keyboard-interactive: refused after the failure delay" "after $((SECONDS - t0)) s"
fi

# An unlisted key is refused from authorized_keys alone.
wait_records $records || note "no record after keyboard-interactive"
contacts_before=$(grep -c 'connected to upstream' "$LOG")
ssh-keygen -q -t ed25519 -N '' -f "$T/other_key" || die "ssh-keygen"
gw_key_ssh gw srt-bob "$T/other_key" </dev/null >/dev/null 2>"$T/err"
records=$((records + 1))
expect_match "unlisted key: refused" "Permission denied" "$(cat "$T/err")"
wait_records $records || note "no record after the unlisted key"
expect_eq "unlisted key: no upstream is contacted" "$contacts_before" \
	"$(grep -c 'connected to upstream' "$LOG")"

# "Unavailable" only after a credential.
out=$(PW=any gw_ssh gw srt-down true </dev/null 2>&1)
records=$((records + 1))
expect_match "upstream down: told after the password" "the server for this account is unavailable" "$out"

# After the password, the upstream's banner.
out=$(LOGLEVEL=INFO gw_ssh gw srt-alice hostname </dev/null 2>&1)
records=$((records + 1))
expect_match "after the credential: the upstream's banner" "$BANNER_TEXT" "$out"
expect_match "after the credential: the login works" "host-alice" "$out"

# gssapi-with-mic: refused and counted, never run.
out=$("$PY" "$SRT_ROOT/tests/helpers/probe_names.py" "${NET}1" 2222 gssapi srt-alice 2>&1)
records=$((records + 1))
expect_match "gssapi-with-mic: each attempt refused" "^answers 5$" "$out"
expect_match "gssapi-with-mic: nobody logged in" "^logged_in no$" "$out"
expect_match "gssapi-with-mic: the sixth attempt ends the connection" "^ended yes$" "$out"
expect_match "gssapi-with-mic: failures are logged" "failed gssapi-with-mic" "$(cat "$LOG")"

# ---------------------------------------------------------------- login grace time

t0=$SECONDS
PW=any gw_ssh grace srt-slow true </dev/null >/dev/null 2>"$T/err"
elapsed=$((SECONDS - t0))
if [ "$elapsed" -le 8 ]; then
	ok "grace time with a hanging lookup: the client is let go (${elapsed} s)"
else
	not_ok "grace time with a hanging lookup: the client is let go" "after $elapsed s"
fi
deadline=$((SECONDS + 10))
while [ "$(grep -c 'session end' "${GW_LOG[grace]}")" -lt 1 ] && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.2
done
expect_match "grace time with a hanging lookup: the session record says so" \
	'end="login grace time exceeded" exit=5' "$(grep 'session end' "${GW_LOG[grace]}")"
left=
for f in slow.pid slow-child.pid; do
	pid=$(cat "$T/$f" 2>/dev/null)
	[ -n "$pid" ] && alive "$pid" && left="$left $pid"
done
if [ -s "$T/slow.pid" ] && [ -z "$left" ]; then
	ok "grace time with a hanging lookup: the lookup and its child are stopped"
else
	not_ok "grace time with a hanging lookup: the lookup and its child are stopped" \
		"pid file: $(cat "$T/slow.pid" 2>/dev/null), still running:${left:- none}"
fi

# ---------------------------------------------------------------- nothing lost

# The upstream writes 600,000 bytes, exits 3 and hangs up 10 ms later; the
# client has a 32 KiB window and reads nothing for 2 s.
want=$("$PY" -c 'import hashlib; p = b"0123456789abcdef"; print(hashlib.sha256((p * 37500)[:600000]).hexdigest())')
out=$(timeout -k 5 90 "$PY" "$HOSTILE" "${NET}1" 2222 srt-abrupt any stall 2 "bytes 600000 3" 2>&1)
records=$((records + 1))
expect_match "upstream hangs up after its last bytes: all 600000 reach a slow client" "^received 600000$" "$out"
expect_match "upstream hangs up after its last bytes: in order, once" "^sha256 $want$" "$out"
expect_match "upstream hangs up after its last bytes: exit status 3 arrives" "^exit 3$" "$out"
wait_records $records || note "no record after the abrupt upstream"
expect_match "upstream hangs up after its last bytes: the record has exit_status=3" \
	"exit_status=3 .*end=" "$(last_record)"

# The same through OpenSSH's ssh, reading at its own pace.
PW=any gw_ssh gw srt-abrupt "bytes 600000 3" </dev/null >"$T/abrupt.out" 2>"$T/err"
rc=$?
got=$(sha256sum <"$T/abrupt.out" | cut -d' ' -f1)
records=$((records + 1))
expect_eq "upstream hangs up after its last bytes: ssh gets everything" "$want" "$got"
expect_eq "upstream hangs up after its last bytes: ssh exits 3" 3 "$rc"

# A client that sends EOF and hangs up at once: every byte reaches the
# upstream's command.
REMOTE_FILE=$(getent passwd srt-alice | cut -d: -f6)/srt-$RUN_ID-upload.bin
out=$(timeout -k 5 90 "$PY" "$HOSTILE" "${NET}1" 2222 srt-alice "${PASSWORD[srt-alice]}" \
	upload 8192 "cat >$REMOTE_FILE" 2>&1)
records=$((records + 1))
sent=$(printf '%s\n' "$out" | sed -n 's/^sha256 //p')
deadline=$((SECONDS + 15))
while [ "$(sha256sum <"$REMOTE_FILE" 2>/dev/null | cut -d' ' -f1)" != "$sent" ] && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.2
done
expect_eq "client hangs up after EOF: all 8 MiB reach the upstream" "${sent:-no digest}" \
	"$(sha256sum <"$REMOTE_FILE" 2>/dev/null | cut -d' ' -f1)"

# An upstream that accepts "none": a listed key, signed, logs the client in
# (the probe before it is answered from authorized_keys alone).
out=$(SRT_CMD=anything gw_key_ssh gw srt-open "$T/client_key" </dev/null 2>"$T/err")
rc=$?
records=$((records + 1))
expect_eq "upstream accepts none: a listed key logs in" "0:alive" "$rc:$out"
expect_match "upstream accepts none: logged as such" "accepted none from upstream" "$(cat "$LOG")"

# no-more-sessions is the client's to send: the same request from the
# upstream changes nothing (t-forward.sh tests the client's).
out=$(timeout -k 5 60 "$PY" "$HOSTILE" "${NET}1" 2222 srt-nomore any sessions 2 2>&1)
records=$((records + 1))
expect_match "no-more-sessions from the upstream: a second session still opens" "^opened 2 refused 0$" "$out"
expect_match "no-more-sessions from the upstream: the connection goes on" "^echo: alive$" "$out"

wait_records $records || note "fewer session records than connections"

# Failure timing: a wrong password fails after the same time on a route
# whose upstream uses PAM (pam_unix waits about 2 s, randomised), on one
# whose upstream does not, and without a route: each failure is padded to
# a deadline from the credential's arrival, above what PAM waits.
start_upstream_with pam "${NET}16" 2022 "UsePAM yes
KbdInteractiveAuthentication no"
known_hosts_entry pam >>"$T/known_hosts"
printf '%s\n' "[server]" "host_key = $GW_KEY" "known_hosts = $T/known_hosts" "" \
	"[route srt-alice]" "upstream = ${NET}11:2022" "" \
	"[route srt-bob]" "upstream = ${NET}16:2022" >"$T/timing.ini"
start_gateway timing "${NET}2" 2222 "$T/timing.ini" fd3
probes=()
for name in srt-alice srt-bob srt-carol; do
	PROBE_ROUNDS=5 PROBE_PASSWORD=$WRONG_PASSWORD "$PY" "$SRT_ROOT/tests/helpers/probe_names.py" \
		"${NET}2" 2222 password "$name" >"$T/timing.$name" 2>&1 &
	probes+=($!)
	track_pid $!
done
wait "${probes[@]}"
out=$(cat "$T"/timing.srt-*)
note "wrong password, median ms: $(printf '%s' "$out" | tr '\n' ' ')"
medians=$(printf '%s\n' "$out" | sed -n 's/.* ms=//p' | sort -n)
spread=$(printf '%s\n' "$medians" | sed -n '1p;$p' | tr '\n' ' ' | awk '{ printf "%.0f", $2 - $1 }')
if [ "$(printf '%s\n' "$medians" | wc -l)" = 3 ] && [ "$spread" -lt 50 ] &&
	[ "$(printf '%s\n' "$medians" | head -n 1 | cut -d. -f1)" -ge 5000 ]; then
	ok "a wrong password fails after the same time with PAM, without, and without a route (spread $spread ms)"
else
	not_ok "a wrong password fails after the same time with PAM, without, and without a route" \
		"medians differ by ${spread:-?} ms: $out"
fi

check_no_leftovers "no sshroute process left" gw grace timing
finish
