#!/bin/bash
# The journal (issue 5): without -e, sshroute logs to the journal, and every
# connection ends with one "session end" entry whose SSHROUTE_* fields are
# the session record. There is no systemd here, so this runs the real
# systemd-journald standalone, inside a private mount namespace (tmpfs over
# /run/systemd, /run/log and /var/log/journal, its own journald.conf): the
# machine's own journal and sockets are never touched. sshroute runs in the
# same namespace under systemd-socket-activate; the clients connect from
# outside (the network is shared); journalctl runs inside via nsenter, and
# so does fail2ban-regex with contrib/fail2ban's filter on the journal.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

JOURNALD=/lib/systemd/systemd-journald
PY=/usr/bin/python3
[ -x "$JOURNALD" ] || die "$JOURNALD is missing (Debian: systemd)"
"$PY" -c 'import paramiko' 2>/dev/null || die "paramiko is not installed (Debian: python3-paramiko)"

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
max_auth_tries = 2
; the most verbose level: still no password and no raw control character
log_level = debug

[route srt-alice]
upstream = ${NET}11:2022

[route srt-bob]
upstream = ${NET}12:2022

[route srt-carol]
upstream = ${NET}12:2022
EOF

# ---------------------------------------------------------------- the namespace

cat >"$T/journald.conf" <<EOF
[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitBurst=0
EOF

# Runs as the first process of the namespace; its children are journald and
# systemd-socket-activate (and sshroute below that).
cat >"$T/ns.sh" <<'EOF'
T=$1 JOURNALD=$2 ADDR=$3 PORT=$4 SSHROUTE=$5
mount -t tmpfs -o mode=755 tmpfs /run/systemd || exit 1
mount -t tmpfs -o mode=755 tmpfs /run/log || exit 1
if [ -d /var/log/journal ]; then mount -t tmpfs -o mode=755 tmpfs /var/log/journal || exit 1; fi
if [ -f /etc/systemd/journald.conf ]; then mount --bind "$T/journald.conf" /etc/systemd/journald.conf || exit 1; fi
"$JOURNALD" </dev/null >>"$T/journald.log" 2>&1 &
echo $! >"$T/journald.pid"
i=0
until [ -S /run/systemd/journal/socket ]; do
	i=$((i + 1))
	[ "$i" -ge 100 ] && { echo "journald did not create its socket" >&2; exit 1; }
	sleep 0.1
done
echo started >"$T/journald.ready"
# No -e: sshroute logs to the journal.
systemd-socket-activate -l "$ADDR:$PORT" -a "$SSHROUTE" -f "$T/route.ini" </dev/null >>"$T/socket-activate.log" 2>&1 &
echo $! >"$T/socket-activate.pid"
wait
EOF

# Without systemd as PID 1 (a chroot), the mount points may be missing:
# made here, removed at the end.
made_dirs=()
for d in /run/systemd /run/log; do
	[ -d "$d" ] || { mkdir -m 755 "$d" && made_dirs+=("$d"); }
done
host_run_before=$(ls -A /run/systemd 2>/dev/null | tr '\n' ' ')
host_sockets_before=$(ls -l /run/systemd/journal 2>&1)
GW_ADDR[gw]=${NET}1 GW_PORT[gw]=2222
unshare -m --propagation private sh "$T/ns.sh" "$T" "$JOURNALD" "${GW_ADDR[gw]}" "${GW_PORT[gw]}" "$SSHROUTE" \
	</dev/null >>"$T/ns.log" 2>&1 &
NS_PID=$!
track_pid "$NS_PID"
wait_listening "${GW_ADDR[gw]}" "${GW_PORT[gw]}" "$NS_PID" ||
	die "namespace did not come up: $(cat "$T/ns.log" "$T/journald.log" "$T/socket-activate.log" 2>/dev/null | tail -n 5)"
JOURNALD_PID=$(cat "$T/journald.pid")
echo "$(host_pattern "${GW_ADDR[gw]}" "${GW_PORT[gw]}") $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"

if [ "$(ls -A /run/systemd 2>/dev/null | tr '\n' ' ')" = "$host_run_before" ] &&
	[ "$(ls -l /run/systemd/journal 2>&1)" = "$host_sockets_before" ] &&
	[ "$(readlink "/proc/$JOURNALD_PID/ns/mnt")" != "$(readlink /proc/$$/ns/mnt)" ]; then
	ok "journald runs in its own mount namespace; the machine's /run/systemd is untouched"
else
	not_ok "journald runs in its own mount namespace; the machine's /run/systemd is untouched" \
		"before: $host_run_before; now: $(ls -A /run/systemd | tr '\n' ' ')"
fi

# jctl ARGS...: journalctl inside the namespace. -r: entering a mount
# namespace resets the root directory, and in a chroot (tests/chroot.sh)
# that is not the root the namespace's journal is under.
jctl() {
	timeout 10 nsenter -t "$NS_PID" -m -r -w journalctl --no-pager "$@"
}

# The session end entries among `journalctl -o json MATCHES`: the first
# line is "N_RECORDS=n", then the last record's fields as KEY=VALUE, one
# line per value (a field given twice shows twice; a value that is not
# plain text shows as KEY=<binary ...>).

# records MATCH...: writes $T/rec (see records.py), waiting up to 10 s
# for at least one record.
records() {
	local deadline=$((SECONDS + 10))
	while :; do
		jctl -o json "$@" 2>/dev/null | "$PY" "$SRT_ROOT/tests/helpers/journal_records.py" >"$T/rec"
		[ "$(head -n 1 "$T/rec")" != "N_RECORDS=0" ] && break
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.2
	done
	# A second record would come at once: give it a moment.
	sleep 0.3
	jctl -o json "$@" 2>/dev/null | "$PY" "$SRT_ROOT/tests/helpers/journal_records.py" >"$T/rec"
}
# rec KEY: the values of KEY in $T/rec, one a line.
rec() {
	sed -n "s/^$1=//p" "$T/rec"
}
n_records() {
	rec N_RECORDS
}

# check_field NAME KEY EXTENDED_REGEX: KEY appears exactly once, matching.
check_field() {
	local values
	values=$(rec "$2")
	if [ -z "$values" ] && ! grep -q "^$2=" "$T/rec"; then
		not_ok "$1" "no field $2 in the record: $(tr '\n' ' ' <"$T/rec")"
	elif [ "$(grep -c "^$2=" "$T/rec")" != 1 ]; then
		not_ok "$1" "field $2 appears $(grep -c "^$2=" "$T/rec") times: $(printf '%s' "$values" | tr '\n' '|')"
	elif printf '%s\n' "$values" | grep -Eq -- "$3"; then
		ok "$1"
	else
		not_ok "$1" "$2='$values', expected /$3/"
	fi
}

# ---------------------------------------------------------------- a session

out=$(gw_ssh gw srt-alice -b 127.0.0.77 'echo journal-test-output; exit 3' </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 3 ] && [ "$out" = journal-test-output ]; then
	ok "srt-alice logs in; the remote command prints and exits 3"
else
	not_ok "srt-alice logs in; the remote command prints and exits 3" "exit $rc, '$out', $(cat "$T/err")"
fi
records SSHROUTE_USER=srt-alice
expect_eq "journalctl SSHROUTE_USER=srt-alice: one session end record" 1 "$(n_records)"
check_field "record: SYSLOG_IDENTIFIER=sshroute" SYSLOG_IDENTIFIER '^sshroute$'
check_field "record: MESSAGE starts with session end" MESSAGE '^session end '
check_field "record: PRIORITY=6 (info)" PRIORITY '^6$'
check_field "record: SSHROUTE_USER=srt-alice" SSHROUTE_USER '^srt-alice$'
check_field "record: SSHROUTE_CLIENT_ADDR=127.0.0.77" SSHROUTE_CLIENT_ADDR '^127\.0\.0\.77$'
check_field "record: SSHROUTE_CLIENT_PORT is a port" SSHROUTE_CLIENT_PORT '^[1-9][0-9]{0,4}$'
check_field "record: SSHROUTE_CLIENT is address and port" SSHROUTE_CLIENT \
	"^127\\.0\\.0\\.77 port $(rec SSHROUTE_CLIENT_PORT | head -n 1)\$"
check_field "record: SSHROUTE_UPSTREAM=${NET}11:2022" SSHROUTE_UPSTREAM "^${NET//./\\.}11:2022\$"
check_field "record: SSHROUTE_METHOD=password" SSHROUTE_METHOD '^password$'
check_field "record: SSHROUTE_DURATION in seconds" SSHROUTE_DURATION '^[0-9]+(\.[0-9]+)?$'
check_field "record: SSHROUTE_BYTES_TO_UPSTREAM is a number" SSHROUTE_BYTES_TO_UPSTREAM '^[0-9]+$'
check_field "record: SSHROUTE_CHANNELS=1" SSHROUTE_CHANNELS '^1$'
check_field "record: SSHROUTE_EXIT_STATUS=3 (the remote command's)" SSHROUTE_EXIT_STATUS '^3$'
check_field "record: SSHROUTE_END says who closed" SSHROUTE_END '^(client|upstream) closed$'
check_field "record: SSHROUTE_EXIT=0" SSHROUTE_EXIT '^0$'
bytes=$(rec SSHROUTE_BYTES_TO_CLIENT | head -n 1)
if [[ "$bytes" =~ ^[0-9]+$ ]] && [ "$bytes" -ge 20 ]; then
	ok "record: SSHROUTE_BYTES_TO_CLIENT counts the output ($bytes >= 20)"
else
	not_ok "record: SSHROUTE_BYTES_TO_CLIENT counts the output" "'$bytes' (expected >= 20)"
fi
n=$(jctl -o cat SSHROUTE_USER=srt-alice | grep -c .)
if [ "$n" -ge 3 ]; then
	ok "journalctl SSHROUTE_USER=srt-alice finds the session's other lines too ($n entries)"
else
	not_ok "journalctl SSHROUTE_USER=srt-alice finds the session's other lines too" "$n entries"
fi
expect_eq "journalctl SSHROUTE_EXIT_STATUS=3 finds that record" 1 \
	"$(jctl -o cat SSHROUTE_EXIT_STATUS=3 SSHROUTE_USER=srt-alice | grep -c '^session end')"

# ---------------------------------------------------------------- failures

# failed NAME USER EXPECTED_END_REGEX [PROMPTS]: a refused login ends with
# exactly one record, without method or upstream bytes.
failed() {
	local name=$1 user=$2 end=$3 out rc
	out=$(PW=$WRONG_PASSWORD PROMPTS=${4:-1} gw_ssh gw "$user" -b 127.0.0.78 hostname </dev/null 2>&1)
	rc=$?
	if [ "$rc" = 255 ]; then ok "$name: refused"; else not_ok "$name: refused" "exit $rc: $out"; fi
	records SSHROUTE_USER="$user"
	expect_eq "$name: one session end record" 1 "$(n_records)"
	check_field "$name: SSHROUTE_CLIENT_ADDR=127.0.0.78" SSHROUTE_CLIENT_ADDR '^127\.0\.0\.78$'
	check_field "$name: SSHROUTE_METHOD empty" SSHROUTE_METHOD '^$'
	check_field "$name: SSHROUTE_EXIT_STATUS=-1" SSHROUTE_EXIT_STATUS '^-1$'
	check_field "$name: SSHROUTE_EXIT=5" SSHROUTE_EXIT '^5$'
	check_field "$name: SSHROUTE_END" SSHROUTE_END "$end"
}
failed "wrong password" srt-bob '.'
failed "unknown user" "srt-nobody-$RUN_ID" '.'
failed "too many failures" srt-carol '^too many authentication failures$' 3

# A client that connects and leaves without a word: one record too.
port=$(timeout 10 "$PY" -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.79", 0)); s.connect((sys.argv[1], int(sys.argv[2])))
print(s.getsockname()[1]); s.close()' "${GW_ADDR[gw]}" "${GW_PORT[gw]}")
records SSHROUTE_CLIENT_ADDR=127.0.0.79 SSHROUTE_CLIENT_PORT="$port"
expect_eq "a connection closed at once: one session end record" 1 "$(n_records)"
check_field "that record: SSHROUTE_USER empty" SSHROUTE_USER '^$'

# ---------------------------------------------------------------- hostile user names

# OpenSSH refuses such names, paramiko sends them as they are. Each login
# fails (no route); the names must reach the journal escaped.
ESC_NAME="srt-bad\\x1b[31mname-$RUN_ID"
NL_NAME="srt-nl-$RUN_ID\\nSSHROUTE_END=forged-$RUN_ID"
UTF_NAME="srt-\\xc3\\xa9t\\xc3\\xa9-$RUN_ID"
out=$(CLIENT_TIMEOUT=30 with_password x "$PY" "$SRT_ROOT/tests/helpers/journal_bad_names.py" "${GW_ADDR[gw]}" "${GW_PORT[gw]}" \
	"${PASSWORD[srt-alice]}" "$ESC_NAME" "$NL_NAME" "$UTF_NAME" 2>&1)
if [ "$(printf '%s\n' "$out" | grep -c '^refused')" = 3 ]; then
	ok "paramiko: the three hostile user names are refused"
else
	not_ok "paramiko: the three hostile user names are refused" "$out"
fi
# Each is found by its escaped form.
for name in "$ESC_NAME" "$NL_NAME" "$UTF_NAME"; do
	esc=$(printf '%s' "$name" | sed 's/\\n/\\x0a/')
	records SSHROUTE_USER="$esc"
	expect_eq "journalctl SSHROUTE_USER='$esc' finds one record" 1 "$(n_records)"
	check_field "that record's SSHROUTE_USER is plain text" SSHROUTE_USER '^srt-[ -~]*$'
done
expect_eq "the newline did not forge a field: SSHROUTE_END=forged-... matches nothing" 0 \
	"$(jctl -o cat SSHROUTE_END="forged-$RUN_ID" | grep -c .)"

jctl -o export >"$T/journal.export"
expect_eq "no raw ESC byte anywhere in the journal" 0 "$(grep -ac $'\x1b' "$T/journal.export")"
expect_eq "no raw ESC byte in journalctl -o cat output of sshroute" 0 \
	"$(jctl -o cat SYSLOG_IDENTIFIER=sshroute | grep -ac $'\x1b')"
# No journal field of sshroute is stored as binary (export writes those as
# a bare field name line followed by a length).
expect_eq "no sshroute field is stored as binary data" 0 \
	"$(jctl -o export SYSLOG_IDENTIFIER=sshroute | grep -ac '^SSHROUTE_[A-Z_]*$')"
expect_match "the escaped name is in the text too" "user=srt-bad\\\\x1b\\[31mname-$RUN_ID" \
	"$(jctl -o cat SYSLOG_IDENTIFIER=sshroute | grep -a '^session end' | grep -aF "$RUN_ID")"

# ---------------------------------------------------------------- the context, fail2ban

# MESSAGE ends with the session context, the name quoted and escaped.
expect_match "MESSAGE of a failure ends with [client ADDR port PORT user=\"NAME\"]" \
	'^failed password \(1 of 2\) \[client 127\.0\.0\.78 port [0-9]+ user="srt-bob"\]$' \
	"$(jctl -o cat SSHROUTE_USER=srt-bob | grep -a '^failed password')"
expect_match "MESSAGE names a hostile user only escaped, in the context" \
	"^failed password \\(1 of 2\\) \\[client 127\\.0\\.0\\.80 port [0-9]+ user=\"srt-bad\\\\x1b\\[31mname-$RUN_ID\"\\]\$" \
	"$(jctl -o cat SYSLOG_IDENTIFIER=sshroute | grep -a '^failed password' | grep -aF "srt-bad")"

# fail2ban's systemd backend on this journal (inside the namespace), with
# contrib/fail2ban's filter and its journalmatch: the failures by client
# address. 127.0.0.78: a wrong password, a user without a route, two
# failures and the record of too many; 127.0.0.79: a connection closed
# before the key exchange; 127.0.0.80: the three hostile names' passwords;
# nothing for 127.0.0.77's session.
F2B_REGEX=/usr/bin/fail2ban-regex
if [ -x "$F2B_REGEX" ] && /usr/bin/python3 -c 'import systemd.journal' 2>/dev/null; then
	mkdir -p "$T/fail2ban/filter.d"
	cp /etc/fail2ban/filter.d/common.conf "$SRT_ROOT/contrib/fail2ban/filter.d/sshroute.conf" \
		"$T/fail2ban/filter.d/"
	timeout 60 nsenter -t "$NS_PID" -m -r -w "$F2B_REGEX" -o ip systemd-journal \
		"$T/fail2ban/filter.d/sshroute.conf" 2>"$T/f2b.err" | sort | uniq -c | awk '{ print $2 "=" $1 }' |
		tr '\n' ' ' >"$T/f2b.ips"
	expect_eq "fail2ban-regex systemd-journal: the failures by address" \
		"127.0.0.78=5 127.0.0.79=1 127.0.0.80=3 " "$(cat "$T/f2b.ips")"
	[ -s "$T/f2b.err" ] && note "fail2ban-regex:" "$(tail -n 5 "$T/f2b.err")"
else
	not_ok "fail2ban-regex systemd-journal" "fail2ban or python3-systemd is not installed"
fi

# ---------------------------------------------------------------- passwords

n=$(grep -ac '^SYSLOG_IDENTIFIER=sshroute$' "$T/journal.export")
if [ "$n" -ge 20 ]; then ok "the journal holds sshroute's entries ($n, log level debug)"; else
	not_ok "the journal holds sshroute's entries" "$n entries"; fi
check_no_passwords "no password anywhere in the journal (journalctl -o export)" "$T/journal.export"

# ---------------------------------------------------------------- one record per connection

expect_eq "one session end record per connection" \
	"$(grep -c '^Connection from' "$T/socket-activate.log")" \
	"$(jctl -o cat SYSLOG_IDENTIFIER=sshroute | grep -ac '^session end ')"
# Without -e nothing goes to stderr (under socket activation here it is
# systemd-socket-activate's log; under inetd it would be the client).
expect_eq "without -e sshroute writes nothing to stderr" "" \
	"$(grep -av -e '^Connection from' -e '^Spawned ' -e '^Execing ' -e '^Executing: ' -e '^Child .* died' \
		-e '^Listening on ' -e '^Communication attempt' "$T/socket-activate.log" | head -n 3)"

# ---------------------------------------------------------------- end

check_no_leftovers_ns() {
	local deadline=$((SECONDS + 10)) sa
	sa=$(cat "$T/socket-activate.pid")
	while [ -n "$(pgrep -P "$sa")" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}
if check_no_leftovers_ns; then ok "no sshroute process left"; else
	not_ok "no sshroute process left" "$(pgrep -a -P "$(cat "$T/socket-activate.pid")")"; fi
kill_tree "$NS_PID"
expect_gone "journald, systemd-socket-activate and the namespace stopped" 5 \
	"$NS_PID" "$JOURNALD_PID" "$(cat "$T/socket-activate.pid")"
expect_eq "the machine's /run/systemd is as before" "$host_run_before" "$(ls -A /run/systemd 2>/dev/null | tr '\n' ' ')"
for d in "${made_dirs[@]}"; do rmdir "$d"; done

[ "$N_NOT_OK" = 0 ] || note "socket-activate:" "$(tail -n 5 "$T/socket-activate.log")" "journald:" "$(tail -n 5 "$T/journald.log")"
finish
