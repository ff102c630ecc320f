#!/bin/bash
# fail2ban and the log line format (issue 12). sshroute runs with -e; each
# case comes from its own client address (127.0.0.N, all local): a login,
# a wrong password, a user without a route, too many failures, pre-login
# disconnects (a connection closed at once, a client that leaves after the
# key exchange, one silent past login_grace_time), and user names with a
# space, a double quote and a control character, sent by OpenSSH's ssh
# (its -l refuses such names; a User line in its configuration does not).
# Every line must end with the session context [client ADDR port PORT
# user="NAME"], and no line may hold a raw user name. Then the lines, in
# syslog form ("Mon DD HH:MM:SS host sshroute[PID]: TEXT"), go to the real
# fail2ban-regex with contrib/fail2ban/filter.d/sshroute.conf: it must
# match exactly the failure lines, each with its client's address, and
# none of a login's lines. Last, sshroute without -e and without a journal
# logs through syslog(3) to the real rsyslogd (in a private mount
# namespace), and fail2ban-regex reads rsyslog's file.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

F2B_REGEX=/usr/bin/fail2ban-regex
PY=/usr/bin/python3
[ -x "$F2B_REGEX" ] || die "$F2B_REGEX is not installed (Debian: fail2ban)"
# The filter next to fail2ban's common.conf, which it includes, as when
# installed in /etc/fail2ban/filter.d.
mkdir -p "$T/fail2ban/filter.d"
cp /etc/fail2ban/filter.d/common.conf "$SRT_ROOT/contrib/fail2ban/filter.d/sshroute.conf" \
	"$T/fail2ban/filter.d/" || die "copying the filter"
FILTER=$T/fail2ban/filter.d/sshroute.conf

one_upstream_gateway fd3 "max_auth_tries = 3
login_grace_time = 17" "[route srt-bob]
upstream = ${NET}11:2022"

# all_logs: both gateways' logs, in $T/all.log.
all_logs() {
	cat "${GW_LOG[gw]}" "${GW_LOG[pp]-/dev/null}" >"$T/all.log"
}

# session_done ADDR: waits (bounded) for the session end line of the
# client at ADDR.
session_done() {
	local deadline=$((SECONDS + 15))
	until all_logs; grep -F "[client $1 port " "$T/all.log" | grep -qF "session end"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			not_ok "the session from $1 ends with a record" "no session end line for $1"
			return 1
		fi
		sleep 0.1
	done
}

# lines ADDR: sshroute's log lines for the client at ADDR.
lines() {
	grep -F "[client $1 port " "$T/all.log"
}

# ---------------------------------------------------------------- the cases

# A login: none of its lines may match.
OK_ADDR=127.0.0.81
out=$(gw_ssh gw srt-alice -b $OK_ADDR hostname </dev/null 2>&1)
expect_eq "srt-alice logs in from $OK_ADDR" host-alice "$out"
session_done $OK_ADDR

# A wrong password: one failure.
WRONG_ADDR=127.0.0.82
out=$(PW=$WRONG_PASSWORD gw_ssh gw srt-alice -b $WRONG_ADDR hostname </dev/null 2>&1)
expect_match "a wrong password is refused" "Permission denied" "$out"
session_done $WRONG_ADDR

# A user without a route: its password fails like a wrong one.
NOROUTE_ADDR=127.0.0.83
out=$(PW=$WRONG_PASSWORD gw_ssh gw "srt-nobody-$RUN_ID" -b $NOROUTE_ADDR hostname </dev/null 2>&1)
expect_match "a user without a route is refused" "Permission denied" "$out"
session_done $NOROUTE_ADDR

# max_auth_tries (3) wrong passwords: three failures and the record.
MANY_ADDR=127.0.0.84
out=$(PW=$WRONG_PASSWORD PROMPTS=3 gw_ssh gw srt-bob -b $MANY_ADDR hostname </dev/null 2>&1)
expect_match "three wrong passwords: too many authentication failures" \
	"Too many authentication failures" "$out"
session_done $MANY_ADDR

# Clients that name no user: a TCP connection closed at once, one silent
# past login_grace_time, one that leaves after the key exchange
# (paramiko), and garbage for a gateway with proxy_protocol = on.
CLOSE_ADDR=127.0.0.85 SILENT_ADDR=127.0.0.86 KEX_ADDR=127.0.0.90 PROXY_ADDR=127.0.0.91
cat >"$T/client.py" <<'PYEOF'
import socket, sys, warnings
warnings.filterwarnings("ignore")
s = socket.socket(); s.bind((sys.argv[3], 0)); s.settimeout(30)
s.connect((sys.argv[1], int(sys.argv[2])))
if sys.argv[4] == "silent":
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
elif sys.argv[4] == "kex":
    import paramiko
    t = paramiko.Transport(s)
    t.start_client(timeout=10)
    t.close()
elif sys.argv[4] == "garbage":
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
s.close()
PYEOF
client() {
	timeout 30 "$PY" "$T/client.py" "${GW_ADDR[$1]}" "${GW_PORT[$1]}" "$2" "$3" ||
		not_ok "$3 client from $2" "exit $?"
	session_done "$2"
}
client gw $CLOSE_ADDR close
client gw $SILENT_ADDR silent
client gw $KEX_ADDR kex
sed 's/^\[server\]$/[server]\nproxy_protocol = on/' "$T/route.ini" >"$T/proxy.ini"
start_gateway pp "${NET}2" 2222 "$T/proxy.ini" fd3
client pp $PROXY_ADDR garbage

# A client that names a user and leaves (ssh offers only publickey, with
# no key to try): not a failure.
LEAVE_ADDR=127.0.0.87
client_opts
out=$(timeout 30 ssh "${CLIENT_OPTS[@]}" -o PreferredAuthentications=publickey -o BatchMode=yes \
	-o IdentityFile=/dev/null -o IdentityAgent=none -b $LEAVE_ADDR -p "${GW_PORT[gw]}" \
	-l srt-alice "${GW_ADDR[gw]}" hostname </dev/null 2>&1)
expect_match "a client without a usable method leaves" "Permission denied" "$out"
session_done $LEAVE_ADDR

# name_ssh GW ADDR NAME: ssh through GW from ADDR as NAME (named in a
# configuration file, since -l refuses such names) with a wrong password.
name_ssh() {
	printf 'Host *\n\tUser "%s"\n' "$(printf '%s' "$3" | sed 's/"/\\"/g')" >"$T/name.conf"
	client_opts
	with_password "$WRONG_PASSWORD" ssh "${CLIENT_OPTS[@]:2}" -F "$T/name.conf" \
		-b "$2" -p "${GW_PORT[$1]}" "${GW_ADDR[$1]}" hostname </dev/null 2>&1
}
QUOTE_ADDR=127.0.0.88 CTRL_ADDR=127.0.0.89
QUOTE_NAME='a b"c'
CTRL_NAME=$'srt-\x01x y'
out=$(name_ssh gw $QUOTE_ADDR "$QUOTE_NAME")
expect_match "ssh as 'a b\"c' is refused" "Permission denied" "$out"
session_done $QUOTE_ADDR
out=$(name_ssh gw $CTRL_ADDR "$CTRL_NAME")
expect_match "ssh as 'srt-\\x01x y' is refused" "Permission denied" "$out"
session_done $CTRL_ADDR

# ---------------------------------------------------------------- the line format

all_logs
grep -a '^sshroute\[' "$T/all.log" >"$T/sshroute.log"
n=$(grep -c . "$T/sshroute.log")
bad=$(grep -av ' \[client 127\.0\.0\.[0-9]* port [0-9]*\( user="[^"]*"\)\?\]$' "$T/sshroute.log")
if [ "$n" -ge 40 ] && [ -z "$bad" ]; then
	ok "all $n lines end with [client ADDR port PORT] or [client ADDR port PORT user=\"NAME\"]"
else
	not_ok "every line ends with the session context" "$n lines; without it: $(printf '%s\n' "$bad" | head -n 3)"
fi
line=$(lines $QUOTE_ADDR | grep -F 'info: failed password (1 of 3) ')
expect_match "the name a b\"c is logged as user=\"a b\\x22c\"" \
	'failed password \(1 of 3\) \[client 127\.0\.0\.88 port [0-9]+ user="a b\\x22c"\]$' "$line"
line=$(lines $CTRL_ADDR | grep -F 'info: failed password (1 of 3) ')
expect_match "the name srt-\\x01x y is logged as user=\"srt-\\x01x y\"" \
	'failed password \(1 of 3\) \[client 127\.0\.0\.89 port [0-9]+ user="srt-\\x01x y"\]$' "$line"
expect_eq "no line holds the raw name a b\"c" 0 "$(grep -acF "$QUOTE_NAME" "$T/sshroute.log")"
expect_eq "no line holds a raw control character" 0 "$(LC_ALL=C grep -ac '[[:cntrl:]]' "$T/sshroute.log")"
expect_eq "no line names a user in its text (\"for user\", \"user NAME\")" "" \
	"$(grep -aE 'for user|user (srt|a b)' "$T/sshroute.log" | head -n 3)"
line=$(lines $NOROUTE_ADDR | grep -F 'no route')
expect_match "a user without a route: \"no route for this user\" and the context" \
	"info: no route for this user \\[client $NOROUTE_ADDR port [0-9]+ user=\"srt-nobody-$RUN_ID\"\\]\$" "$line"

# ---------------------------------------------------------------- fail2ban-regex

# The lines in syslog form, as rsyslog writes them to /var/log/auth.log:
# "Mon DD HH:MM:SS host sshroute[PID]: TEXT", without -e's level.
stamp=$(LC_ALL=C date '+%b %e %H:%M:%S')
sed -E "s/^sshroute\[([0-9]+)\]: [a-z]+: /$stamp gw-$RUN_ID sshroute[\1]: /" "$T/sshroute.log" >"$T/auth.log"
"$F2B_REGEX" --print-no-missed "$T/auth.log" "$FILTER" >"$T/f2b.out" 2>&1
rc=$?
summary=$(grep -E '^Lines: ' "$T/f2b.out")
expect_match "fail2ban-regex reads every line ($n), none ignored" "^Lines: $n lines, 0 ignored, " "$summary"
# The failures, by client address.
declare -A WANT=(
	[$OK_ADDR]=0          # a login
	[$WRONG_ADDR]=1       # failed password
	[$NOROUTE_ADDR]=1     # failed password (no route)
	[$MANY_ADDR]=4        # 3 failed password, the record of too many failures
	[$CLOSE_ADDR]=1       # record: key exchange failed
	[$SILENT_ADDR]=1      # record: login grace time exceeded
	[$KEX_ADDR]=1         # record: client left before login
	[$LEAVE_ADDR]=0       # named a user, tried nothing, left
	[$QUOTE_ADDR]=1       # failed password
	[$CTRL_ADDR]=1        # failed password
	[$PROXY_ADDR]=1       # record: no valid PROXY header
)
total=0
for a in "${!WANT[@]}"; do total=$((total + WANT[$a])); done
expect_match "fail2ban-regex matches exactly the $total failure lines" "^Lines: $n lines, 0 ignored, $total matched, " "$summary"
"$F2B_REGEX" -o ip "$T/auth.log" "$FILTER" 2>&1 | sort | uniq -c | awk '{ print $2, $1 }' >"$T/ips"
for a in $(printf '%s\n' "${!WANT[@]}" | sort -V); do
	expect_eq "fail2ban counts ${WANT[$a]} failure(s) for $a" "${WANT[$a]}" \
		"$(awk -v a="$a" '$1 == a { print $2 }' "$T/ips" | grep . || echo 0)"
done
expect_eq "fail2ban takes no other address" "" \
	"$(awk '{ print $1 }' "$T/ips" | grep -vxF -f <(printf '%s\n' "${!WANT[@]}"))"
"$F2B_REGEX" -o matches "$T/auth.log" "$FILTER" >"$T/matched" 2>&1
expect_eq "no line of the login from $OK_ADDR matches" 0 "$(grep -cF "[client $OK_ADDR port " "$T/matched")"

# ---------------------------------------------------------------- real syslog

# Without a journal sshroute logs through syslog(3). Here the real
# rsyslogd receives the lines on /dev/log and writes them to a file as it
# writes /var/log/auth.log, all inside a private mount namespace (a tmpfs
# over /dev with the few devices needed, one over /run/systemd so that no
# journal socket is found): the machine's /dev and syslog are not touched.
RSYSLOGD=/usr/sbin/rsyslogd
if [ -x "$RSYSLOGD" ]; then
	mkdir -p "$T/rsyslog"
	cat >"$T/rsyslog.conf" <<EOF
global(workDirectory="$T/rsyslog")
module(load="imuxsock" SysSock.Name="/dev/log")
auth.* action(type="omfile" file="$T/syslog-auth.log" template="RSYSLOG_TraditionalFileFormat")
EOF
	cat >"$T/ns.sh" <<'EOF'
T=$1 RSYSLOGD=$2 ADDR=$3 PORT=$4 SSHROUTE=$5
mkdir -p "$T/realdev" && mount --bind /dev "$T/realdev" || exit 1
mount -t tmpfs -o mode=755 tmpfs /dev || exit 1
for d in null zero full random urandom; do
	touch "/dev/$d" && mount --bind "$T/realdev/$d" "/dev/$d" || exit 1
done
ln -s /proc/self/fd /dev/fd
mount -t tmpfs -o mode=755 tmpfs /run/systemd || exit 1
"$RSYSLOGD" -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" </dev/null >>"$T/rsyslogd.log" 2>&1 &
i=0
until [ -S /dev/log ]; do
	i=$((i + 1))
	[ "$i" -ge 100 ] && { echo "rsyslogd did not create /dev/log" >&2; exit 1; }
	sleep 0.1
done
# No -e: sshroute logs to syslog.
exec systemd-socket-activate -l "$ADDR:$PORT" -a "$SSHROUTE" -f "$T/route.ini" </dev/null
EOF
	unshare -m --propagation private sh "$T/ns.sh" "$T" "$RSYSLOGD" "${NET}3" 2222 "$SSHROUTE" \
		</dev/null >>"$T/ns.log" 2>&1 &
	NS_PID=$!
	track_pid "$NS_PID"
	wait_listening "${NET}3" 2222 "$NS_PID" || die "syslog namespace: $(tail -n 5 "$T/ns.log" "$T/rsyslogd.log")"
	GW_ADDR[sl]=${NET}3 GW_PORT[sl]=2222 GW_PID[sl]=$NS_PID
	echo "$(host_pattern "${NET}3" 2222) $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"

	out=$(gw_ssh sl srt-alice -b 127.0.0.92 hostname </dev/null 2>&1)
	expect_eq "syslog: srt-alice logs in from 127.0.0.92" host-alice "$out"
	out=$(PW=$WRONG_PASSWORD PROMPTS=2 gw_ssh sl srt-alice -b 127.0.0.93 hostname </dev/null 2>&1)
	expect_match "syslog: two wrong passwords from 127.0.0.93" "Permission denied" "$out"
	out=$(name_ssh sl 127.0.0.94 "$QUOTE_NAME")
	expect_match "syslog: ssh as 'a b\"c' from 127.0.0.94 is refused" "Permission denied" "$out"
	timeout 30 "$PY" "$T/client.py" "${NET}3" 2222 127.0.0.95 close
	deadline=$((SECONDS + 15))
	until [ "$(grep -c 'sshroute\[[0-9]*\]: session end ' "$T/syslog-auth.log" 2>/dev/null)" -ge 4 ] ||
		[ "$SECONDS" -ge "$deadline" ]; do
		sleep 0.2
	done
	line=$(grep -F '[client 127.0.0.94 port ' "$T/syslog-auth.log" | grep -F 'failed password')
	expect_match "syslog: the line as rsyslog writes it, the name escaped in the context" \
		'^[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]{8} [^ ]+ sshroute\[[0-9]+\]: failed password \(1 of 3\) \[client 127\.0\.0\.94 port [0-9]+ user="a b\\x22c"\]$' \
		"$line"
	"$F2B_REGEX" -o ip "$T/syslog-auth.log" "$FILTER" 2>&1 | sort | uniq -c | awk '{ print $2 "=" $1 }' |
		tr '\n' ' ' >"$T/syslog.ips"
	expect_eq "fail2ban-regex on rsyslog's file: the failures by address" \
		"127.0.0.93=2 127.0.0.94=1 127.0.0.95=1 " "$(cat "$T/syslog.ips")"
	kill_tree "$NS_PID"
else
	not_ok "real syslog" "$RSYSLOGD is not installed (Debian: rsyslog)"
fi

check_no_passwords "no password in the logs" "$T/all.log" "$T/syslog-auth.log"
check_no_leftovers "no sshroute process left" gw pp
[ "$N_NOT_OK" = 0 ] || note "fail2ban-regex:" "$(tail -n 25 "$T/f2b.out")"
finish
