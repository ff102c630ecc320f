#!/bin/bash
# PROXY protocol (issue 5): sshroute with `proxy_protocol = on` behind the
# real HAProxy, once with send-proxy-v2 and once with send-proxy (v1). The
# client connects from 127.0.0.77 (all of 127.0.0.0/8 is local on Linux),
# so the session record must name 127.0.0.77, not HAProxy's address.
# Connections without a valid header (a plain ssh, raw TCP clients sending
# nothing, garbage, truncated or oversized headers) are dropped before
# sshroute sends a byte; a valid header followed by silence ends after
# login_grace_time. sshroute(8)'s HAProxy frontend with per-client limits
# (a stick-table) closes a client's connections beyond the limit at once
# and lets the others in.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

HAPROXY=/usr/sbin/haproxy
PY=/usr/bin/python3
CLIENT_ADDR=127.0.0.77
[ -x "$HAPROXY" ] || die "$HAPROXY is not installed (Debian: haproxy)"
[ -x "$PY" ] || die "$PY is missing"

start_upstream alice "${NET}11" 2022
start_upstream bob "${NET}12" 2022
{
	known_hosts_entry alice
	known_hosts_entry bob
} >"$T/known_hosts"

make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
proxy_protocol = on
login_grace_time = 2

[route srt-alice]
upstream = ${NET}11:2022

[route srt-bob]
upstream = ${NET}12:2022
EOF

start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
LOG=${GW_LOG[gw]}

# sshroute(8)'s HAProxy frontend with per-client limits (RUNNING, "Behind
# a load balancer"), as it stands there, on ${NET}2:2224 in front of the
# v2 backend, with at most LIMITED_MAX connections at once per client
# instead of 16.
LIMITED_MAX=3
man_block "$SRT_ROOT/man/sshroute.8" "example: haproxy.cfg" |
	awk '/^frontend ssh$/ { on = 1 } on && /^backend / { exit } on' >"$T/man-frontend"
grep -q 'track-sc0 src' "$T/man-frontend" && grep -q 'sc0_conn_cur gt 16' "$T/man-frontend" ||
	die "no frontend with track-sc0 src and sc0_conn_cur gt 16 in sshroute(8): $(cat "$T/man-frontend")"
sed -e 's/^frontend ssh$/frontend ssh_limited/' -e "s/^\\( *bind \\):22\$/\\1${NET}2:2224/" \
	-e "s/sc0_conn_cur gt 16/sc0_conn_cur gt $LIMITED_MAX/" \
	-e 's/default_backend sshroute$/default_backend sshroute_v2/' "$T/man-frontend" >"$T/limited-frontend"

# --- HAProxy: frontend v2 on ${NET}2:2222, frontend v1 on ${NET}2:2223,
# sshroute(8)'s frontend on ${NET}2:2224
cat >"$T/haproxy.cfg" <<EOF
global
	maxconn 200

defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s

frontend ssh_v2
	bind ${NET}2:2222
	default_backend sshroute_v2

frontend ssh_v1
	bind ${NET}2:2223
	default_backend sshroute_v1

backend sshroute_v2
	server gw1 ${NET}1:2222 send-proxy-v2

backend sshroute_v1
	server gw1 ${NET}1:2222 send-proxy
EOF
cat "$T/limited-frontend" >>"$T/haproxy.cfg"
"$HAPROXY" -c -q -f "$T/haproxy.cfg" >"$T/haproxy-check.log" 2>&1 ||
	die "haproxy -c: $(cat "$T/haproxy-check.log")"
"$HAPROXY" -f "$T/haproxy.cfg" -db </dev/null >>"$T/haproxy.log" 2>&1 &
HAPROXY_PID=$!
track_pid "$HAPROXY_PID"
if ! wait_listening "${NET}2" 2222 "$HAPROXY_PID" || ! wait_listening "${NET}2" 2223 "$HAPROXY_PID" ||
	! wait_listening "${NET}2" 2224 "$HAPROXY_PID"; then
	die "haproxy did not come up: $(tail -n 5 "$T/haproxy.log")"
fi

# The HAProxy frontends, as gateways for gw_ssh: same host key as sshroute.
GW_ADDR[v2]=${NET}2 GW_PORT[v2]=2222
GW_ADDR[v1]=${NET}2 GW_PORT[v1]=2223
GW_ADDR[limited]=${NET}2 GW_PORT[limited]=2224
for gw in v2 v1 limited; do
	echo "$(host_pattern "${GW_ADDR[$gw]}" "${GW_PORT[$gw]}") $(cut -d' ' -f1-2 "$GW_KEY.pub")" \
		>>"$T/client_known_hosts"
done

# wait_log SECONDS FIXED_STRING...: bounded wait for a log line holding
# every string; prints that (last) line.
wait_log() { log_line "$1" "$LOG" "${@:2}"; }

# count_log FIXED_STRING: how many log lines hold it.
count_log() {
	grep -cF -- "$1" "$LOG"
}

# A raw TCP client (tests/helpers/raw_client.py): raw ADDR PORT HEX MODE.
# Connects from $CLIENT_ADDR, sends the bytes HEX (may be empty), then
# reads: MODE "eof" until the server closes (or 10 s), MODE "banner" until
# a first line, then closes. Prints
# "port=P end=eof|reset|timeout|banner elapsed=S bytes=N head=..."
raw() {
	local until=()
	[ "$4" = banner ] && until=(--banner)
	timeout -k 2 20 "$PY" "$SRT_ROOT/tests/helpers/raw_client.py" --from "$CLIENT_ADDR" "${until[@]}" \
		"$1" "$2" "hex:$3" hold 10 2>&1
}
hex() {
	printf '%b' "$1" | od -An -v -tx1 | tr -d ' \n'
}
# field TEXT KEY: the value of KEY=... in a "bytes=... end=..." line
field() {
	printf '%s\n' "$1" | sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p"
}

# ---------------------------------------------------------------- through HAProxy

# via_haproxy GW USER HOST: log in through HAProxy frontend GW from
# $CLIENT_ADDR; the login lands on HOST and the record names the client.
via_haproxy() {
	local gw=$1 user=$2 host=$3 out rc rec
	out=$(gw_ssh "$gw" "$user" -b "$CLIENT_ADDR" 'echo "$(hostname) $(whoami)"' </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "$host $user" ]; then
		ok "$gw: $user logs in through HAProxy and lands on $host"
	else
		not_ok "$gw: $user logs in through HAProxy and lands on $host" \
			"exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
	if rec=$(wait_log 10 "session end" "user=$user "); then
		expect_match "$gw: the session record names client_addr=$CLIENT_ADDR" \
			"client_addr=$CLIENT_ADDR " "$rec"
		expect_match "$gw: the session record says the session ended normally" \
			'end="client closed" exit=0' "$rec"
	else
		not_ok "$gw: the session record names client_addr=$CLIENT_ADDR" "no session end record for $user"
	fi
	expect_match "$gw: the connection line names $CLIENT_ADDR" "connection from $CLIENT_ADDR port" \
		"$(grep -F "connection from" "$LOG")"
}

via_haproxy v2 srt-alice host-alice
via_haproxy v1 srt-bob host-bob

# The load balancer's own address (127.0.0.1) must not be taken for the
# client's in any record.
expect_eq "no record names the load balancer's address" "0" \
	"$(grep -F "session end" "$LOG" | grep -Fvc "client_addr=$CLIENT_ADDR ")"

# ---------------------------------------------------------------- without a header

n_bad=$(count_log 'end="no valid PROXY header"')
start=$SECONDS
out=$(LOGLEVEL=ERROR CLIENT_TIMEOUT=15 gw_ssh gw srt-alice -b "$CLIENT_ADDR" hostname </dev/null 2>&1)
rc=$? took=$((SECONDS - start))
if [ "$rc" = 255 ] && [ "$took" -le 3 ]; then
	ok "direct ssh without a PROXY header fails quickly"
else
	not_ok "direct ssh without a PROXY header fails quickly" "exit $rc after $took s: $out"
fi
if wait_log 5 "no valid PROXY protocol header" >/dev/null; then
	ok "the log says: no valid PROXY protocol header"
else
	not_ok "the log says: no valid PROXY protocol header" "$(tail -n 3 "$LOG")"
fi
wait_log 5 'end="no valid PROXY header"' >/dev/null
expect_eq "the dropped connection has one record with end=\"no valid PROXY header\"" \
	$((n_bad + 1)) "$(count_log 'end="no valid PROXY header"')"
rec=$(grep -F 'end="no valid PROXY header"' "$LOG" | tail -n 1)
expect_match "the record of a dropped connection names the peer and exit 5" \
	"client_addr=$CLIENT_ADDR .* exit=5" "$rec"

# An SSH client's version line instead of a header: not a byte back.
res=$(raw "${NET}1" 2222 "$(hex 'SSH-2.0-OpenSSH_9.2\r\n')" eof)
if [ "$(field "$res" bytes)" = 0 ] && [[ "$(field "$res" end)" =~ ^(eof|reset)$ ]]; then
	ok "SSH version line without a header: dropped, 0 bytes sent ($(field "$res" end))"
else
	not_ok "SSH version line without a header: dropped, 0 bytes sent" "$res"
fi

# A client that connects and says nothing: closed after login_grace_time
# (2 s), still without a byte from sshroute.
res=$(raw "${NET}1" 2222 "" eof)
el=$(field "$res" elapsed)
if [ "$(field "$res" bytes)" = 0 ] && [ "$(field "$res" end)" = eof ] &&
	awk -v e="$el" 'BEGIN { exit !(e >= 1.5 && e <= 6) }'; then
	ok "silent client: closed after login_grace_time with 0 bytes (${el}s)"
else
	not_ok "silent client: closed after login_grace_time with 0 bytes" "$res"
fi

# ---------------------------------------------------------------- bad headers

SIG2='\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a'
# Oversized v2: PROXY TCP4 claiming 2000 bytes of addresses and TLVs.
big_v2=$(hex "$SIG2\x21\x11\x07\xd0")$(head -c 2000 /dev/zero | tr '\0' 'A' | od -An -v -tx1 | tr -d ' \n')
# 2000 bytes of junk after a v2 signature with a bad version nibble.
junk_v2=$(hex "$SIG2\x31\x11\x00\x0c")$(head -c 2000 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
# UNKNOWN lets anything follow up to the CRLF, but not past 107 bytes.
long_v1=$(hex "PROXY UNKNOWN ")$(head -c 300 /dev/zero | tr '\0' 'x' | od -An -v -tx1 | tr -d ' \n')$(hex '\r\n')

declare -a BAD_NAMES BAD_HEX
bad() { BAD_NAMES+=("$1"); BAD_HEX+=("$2"); }
bad "v1 port out of range" "$(hex 'PROXY TCP4 1.2.3.4 5.6.7.8 99999 22\r\n')"
bad "v1 bad address" "$(hex 'PROXY TCP4 1.2.3.400 5.6.7.8 1234 22\r\n')"
bad "v1 missing fields" "$(hex 'PROXY TCP4 1.2.3.4\r\n')"
bad "v1 IPv6 address under TCP4" "$(hex 'PROXY TCP4 ::1 ::1 1234 22\r\n')"
bad "v1 unknown family" "$(hex 'PROXY UDP4 1.2.3.4 5.6.7.8 1234 22\r\n')"
bad "v1 LF without CR" "$(hex 'PROXY TCP4 1.2.3.4 5.6.7.8 1234 22\n')"
bad "v1 UNKNOWN line longer than 107 bytes" "$long_v1"
bad "v1 TCP4 line longer than 107 bytes" "$(hex "PROXY TCP4 ")$(head -c 300 /dev/zero | tr '\0' '1' | od -An -v -tx1 | tr -d ' \n')$(hex '\r\n')"
bad "v2 length 2000 (oversized)" "$big_v2"
bad "v2 bad version, 2000 bytes of junk" "$junk_v2"
bad "v2 TCP4 address block too short" "$(hex "$SIG2\x21\x11\x00\x04\x7f\x00\x00\x4d")"
bad "v2 unknown command" "$(hex "$SIG2\x2f\x11\x00\x0c\x7f\x00\x00\x4d\x7f\x00\x00\x01\x9c\x40\x08\xae")"
bad "garbage" "$(hex 'GET / HTTP/1.0\r\n\r\n')"

for i in "${!BAD_NAMES[@]}"; do
	n_bad=$(count_log 'end="no valid PROXY header"')
	res=$(raw "${NET}1" 2222 "${BAD_HEX[$i]}" eof)
	el=$(field "$res" elapsed)
	if [ "$(field "$res" bytes)" = 0 ] && [[ "$(field "$res" end)" =~ ^(eof|reset)$ ]] &&
		awk -v e="$el" 'BEGIN { exit !(e <= 1) }'; then
		ok "${BAD_NAMES[$i]}: dropped at once, 0 bytes sent"
	else
		not_ok "${BAD_NAMES[$i]}: dropped at once, 0 bytes sent" "$res"
	fi
	wait_log 3 'end="no valid PROXY header"' >/dev/null
	got=$(count_log 'end="no valid PROXY header"')
	[ "$got" = $((n_bad + 1)) ] ||
		not_ok "${BAD_NAMES[$i]}: one record" "$((got - n_bad)) records with end=\"no valid PROXY header\""
done

out=$(gw_ssh v2 srt-alice -b "$CLIENT_ADDR" hostname </dev/null 2>"$T/err")
expect_eq "after the bad headers a login through HAProxy still works" host-alice "$out"

# ---------------------------------------------------------------- valid headers by hand

# A valid v1 header, then silence: sshroute sends its banner and drops the
# connection after login_grace_time.
res=$(raw "${NET}1" 2222 "$(hex 'PROXY TCP4 127.0.0.77 127.0.0.1 40001 2222\r\n')" eof)
el=$(field "$res" elapsed)
if [[ "$res" == *"head=b'SSH-2.0-"* ]] && [ "$(field "$res" end)" = eof ] &&
	awk -v e="$el" 'BEGIN { exit !(e >= 1.5 && e <= 9) }'; then
	ok "valid v1 header then silence: banner, closed after login_grace_time (${el}s)"
else
	not_ok "valid v1 header then silence: banner, closed after login_grace_time" "$res"
fi
if rec=$(wait_log 5 "session end" "client_port=40001 "); then
	expect_match "its record: client from the header, end=login grace time exceeded" \
		"client_addr=127.0.0.77 client_port=40001 .*end=\"login grace time exceeded\"" "$rec"
else
	not_ok "its record: client from the header, end=login grace time exceeded" "no record for port 40001"
fi

# A v1 header cut short (no CRLF), then silence: no byte back, dropped
# after the same time.
res=$(raw "${NET}1" 2222 "$(hex 'PROXY TCP4 127.0.0.77 127.0.0.1 40002')" eof)
el=$(field "$res" elapsed)
if [ "$(field "$res" bytes)" = 0 ] && [ "$(field "$res" end)" = eof ] &&
	awk -v e="$el" 'BEGIN { exit !(e >= 1.5 && e <= 6) }'; then
	ok "truncated v1 header then silence: closed after login_grace_time, 0 bytes (${el}s)"
else
	not_ok "truncated v1 header then silence: closed after login_grace_time, 0 bytes" "$res"
fi

# A v2 PROXY TCP6 header by hand: the record names the IPv6 source.
v6=$(hex "$SIG2\x21\x21\x00\x24")20010db8000000000000000000000077$(printf '%032x' 1)9c4308ae
res=$(raw "${NET}1" 2222 "$v6" banner)
if [[ "$res" == *"head=b'SSH-2.0-"* ]]; then
	ok "valid v2 TCP6 header by hand: sshroute answers with its banner"
else
	not_ok "valid v2 TCP6 header by hand: sshroute answers with its banner" "$res"
fi
if rec=$(wait_log 5 "session end" "client_port=40003 "); then
	expect_match "its record names client_addr=2001:db8::77" "client_addr=2001:db8::77 client_port=40003 " "$rec"
else
	not_ok "its record names client_addr=2001:db8::77" "no record for port 40003"
fi

# v2 LOCAL (a health check of the load balancer): the socket's address.
res=$(raw "${NET}1" 2222 "$(hex "$SIG2\x20\x00\x00\x00")" banner)
if [[ "$res" == *"head=b'SSH-2.0-"* ]]; then
	ok "v2 LOCAL header: accepted (banner)"
else
	not_ok "v2 LOCAL header: accepted (banner)" "$res"
fi
port=$(field "$res" port)
if rec=$(wait_log 5 "session end" "client_port=$port "); then
	expect_match "v2 LOCAL: the record names the socket's peer" "client_addr=$CLIENT_ADDR client_port=$port " "$rec"
else
	not_ok "v2 LOCAL: the record names the socket's peer" "no record for port $port"
fi

# accepted NAME HEX PORT ADDR: a valid header by hand; sshroute answers
# with its banner and the record names ADDR port PORT.
accepted() {
	local res rec
	res=$(raw "${NET}1" 2222 "$2" banner)
	if [[ "$res" == *"head=b'SSH-2.0-"* ]] && rec=$(wait_log 5 "session end" "client_port=$3 "); then
		expect_match "$1: accepted, the record names $4 port $3" "client_addr=$4 client_port=$3 " "$rec"
	else
		not_ok "$1: accepted, the record names $4 port $3" "$res; $(grep "client_port=$3 " "$LOG")"
	fi
}
accepted "v1 TCP6" "$(hex 'PROXY TCP6 2001:db8::78 ::1 40004 2222\r\n')" 40004 2001:db8::78
# TLVs after the addresses (a NOOP and an ALPN) are skipped.
accepted "v2 TCP4 with TLVs" \
	"$(hex "$SIG2\x21\x11\x00\x17")c000024f$(printf '7f000001%04x08ae' 40005)0400020000010003737368" \
	40005 192.0.2.79
# The header arriving in pieces: sshroute waits for the rest.
res=$(timeout 20 "$PY" "$SRT_ROOT/tests/helpers/proxy_slow_client.py" "${NET}1" 2222 "$CLIENT_ADDR" 2>&1)
if [[ "$res" == *"head=b'SSH-2.0-"* ]] && rec=$(wait_log 5 "session end" "client_port=40006 "); then
	expect_match "v1 header sent one byte at a time: accepted" "client_addr=192.0.2.80 client_port=40006 " "$rec"
else
	not_ok "v1 header sent one byte at a time: accepted" "$res"
fi

# v1 UNKNOWN: accepted, the socket's address is used.
res=$(raw "${NET}1" 2222 "$(hex 'PROXY UNKNOWN\r\n')" banner)
port=$(field "$res" port)
if [[ "$res" == *"head=b'SSH-2.0-"* ]] && rec=$(wait_log 5 "session end" "client_port=$port "); then
	expect_match "v1 UNKNOWN header: accepted, the record names the socket's peer" \
		"client_addr=$CLIENT_ADDR client_port=$port " "$rec"
else
	not_ok "v1 UNKNOWN header: accepted, the record names the socket's peer" "$res"
fi

# The header and the client's first SSH bytes in one write: sshroute must
# not read past the header. A one-connection relay prepends a v1 header
# naming 192.0.2.77 port 40077 to ssh's version line, in one sendall.
RELAY_PORT=$(free_port "${NET}3" 2222)
timeout 40 "$PY" "$SRT_ROOT/tests/helpers/proxy_relay.py" "${NET}3" "$RELAY_PORT" "${NET}1" 2222 \
	'PROXY TCP4 192.0.2.77 127.0.0.1 40077 2222\r\n' >"$T/relay.out" 2>&1 &
RELAY_PID=$!
track_pid "$RELAY_PID"
wait_listening "${NET}3" "$RELAY_PORT" "$RELAY_PID" || die "relay did not come up: $(cat "$T/relay.out")"
GW_ADDR[relay]=${NET}3 GW_PORT[relay]=$RELAY_PORT
echo "$(host_pattern "${NET}3" "$RELAY_PORT") $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"
out=$(gw_ssh relay srt-bob hostname </dev/null 2>"$T/err")
expect_eq "header and SSH version line in one segment: the login works" host-bob "$out"
if rec=$(wait_log 5 "session end" "client_port=40077 "); then
	expect_match "its record names client_addr=192.0.2.77" "client_addr=192.0.2.77 client_port=40077 user=srt-bob " "$rec"
else
	not_ok "its record names client_addr=192.0.2.77" "no record for port 40077"
fi

# ---------------------------------------------------------------- per-client limits

# sshroute(8)'s frontend: LIMITED_MAX sessions from $CLIENT_ADDR stay open;
# further connections from there are closed by HAProxy at once, while
# another client (127.0.0.76) still logs in.
OTHER_ADDR=127.0.0.76
n_accepted=$(grep -cF "accepted password from upstream" "$LOG")
held=()
for i in $(seq "$LIMITED_MAX"); do
	gw_ssh limited srt-alice -b "$CLIENT_ADDR" 'sleep 5; echo "held $(hostname)"' </dev/null \
		>"$T/held.$i" 2>&1 &
	held+=($!)
	track_pid $!
done
# Bounded wait until all of them are logged in.
deadline=$((SECONDS + 20))
until [ "$(grep -cF "accepted password from upstream" "$LOG")" -ge $((n_accepted + LIMITED_MAX)) ] ||
	[ "$SECONDS" -ge "$deadline" ]; do
	sleep 0.2
done
for extra in 1 2; do
	start=$SECONDS
	out=$(CLIENT_TIMEOUT=15 gw_ssh limited srt-alice -b "$CLIENT_ADDR" hostname </dev/null 2>&1)
	rc=$? took=$((SECONDS - start))
	if [ "$rc" = 255 ] && [ "$took" -le 3 ] && [[ "$out" != *host-alice* ]]; then
		ok "connection $((LIMITED_MAX + extra)) from $CLIENT_ADDR: closed by HAProxy at once"
	else
		not_ok "connection $((LIMITED_MAX + extra)) from $CLIENT_ADDR: closed by HAProxy at once" \
			"exit $rc after $took s: $out"
	fi
done
out=$(gw_ssh limited srt-bob -b "$OTHER_ADDR" hostname </dev/null 2>&1)
expect_eq "meanwhile another client ($OTHER_ADDR) logs in" host-bob "$out"
n_held=0
for i in "${!held[@]}"; do
	wait "${held[$i]}"
	[ "$(cat "$T/held.$((i + 1))")" = "held host-alice" ] && n_held=$((n_held + 1))
done
expect_eq "the $LIMITED_MAX sessions within the limit all ran" "$LIMITED_MAX" "$n_held"
out=$(gw_ssh limited srt-alice -b "$CLIENT_ADDR" hostname </dev/null 2>&1)
expect_eq "once they ended, $CLIENT_ADDR logs in again" host-alice "$out"

# ---------------------------------------------------------------- end

expect_eq "every connection ended with exactly one record" \
	"$(grep -cF "connection from" "$LOG")" \
	"$(( $(grep -cF "session end" "$LOG") - $(count_log 'end="no valid PROXY header"') ))"
check_no_passwords "no password in the log" "$LOG"
check_no_leftovers "no sshroute process left" gw
if kill "$HAPROXY_PID" 2>/dev/null && wait_gone 5 "$HAPROXY_PID"; then
	ok "haproxy stopped"
else
	not_ok "haproxy stopped" "pid $HAPROXY_PID"
fi

[ "$N_NOT_OK" = 0 ] || { show_log gw 25; note "haproxy:" "$(tail -n 5 "$T/haproxy.log")"; }
finish
