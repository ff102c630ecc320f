#!/bin/bash
# Hostile input (issue 8): garbage where the SSH protocol should be, user
# names made to break routing or logs, and broken route.ini files.
#  - bytes: random bytes instead of a banner, a banner and garbage, a
#    truncated key exchange (and a few more): the sshroute process ends
#    quickly and cleanly (exit 5, one session record), the next login works;
#  - names (paramiko sends any bytes): 5,000 bytes, control characters and
#    escape sequences, paths, %u and %%: refused or routed safely, never by
#    a %u route, and the log holds them escaped;
#  - route.ini: empty, truncated, binary, NUL bytes, 1 MB lines, duplicate
#    keys, missing and unusable files and keys: `sshroute -t` exits 3 with
#    a clear message, and a connection with such a file lets nobody in.
#
# A crash cannot be told by systemd-socket-activate's log alone: it prints
# "Child N died with code X" for an exit status and for a signal number
# alike (SIGSEGV shows as code 11). A clean end is therefore the expected
# code together with sshroute's own session record, which a crash never
# writes.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

PY=/usr/bin/python3
"$PY" -c 'import paramiko' 2>/dev/null || die "paramiko is not installed (Debian: python3-paramiko)"
RAW=$SRT_ROOT/tests/helpers/raw_client.py
PROBE=$SRT_ROOT/tests/helpers/ssh_probe.py

start_upstream alice "${NET}11" 2022
start_upstream carol "${NET}13" 2022
{
	known_hosts_entry alice
	known_hosts_entry carol
} >"$T/known_hosts"

make_gateway_key
# srt-*: a %u route; a name it must not take (not [A-Za-z0-9._-]{1,32})
# falls through to the catch-all, which logs in as srt-carol on carol.
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
login_grace_time = 5
; the most verbose level: still nothing raw from the network in the log
log_level = debug

[route srt-alice]
upstream = ${NET}11:2022

[route srt-*]
upstream = %u.srt.test:2022

[route *]
upstream = ${NET}13:2022
user = srt-carol
EOF
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
LOG=${GW_LOG[gw]}

# wait_log SECONDS FIXED_STRING...: the last log line holding every string.
wait_log() { log_line "$1" "$LOG" "${@:2}"; }

# pid_of_port PORT: the sshroute process that served the client port PORT.
pid_of_port() {
	wait_log 5 "info: connection from " " port $1" | sed -n 's/^sshroute\[\([0-9]*\)\].*/\1/p'
}

# child_code PID: "code N" from systemd-socket-activate once PID has ended.
child_code() {
	wait_log 10 "Child $1 died with " | sed -n 's/.* died with \(.*\)$/\1/p'
}

# login_works CASE: after CASE, a normal login through the gateway works.
login_works() {
	local out
	out=$(gw_ssh gw srt-alice hostname </dev/null 2>&1)
	expect_eq "$1: the next login works" host-alice "$out"
}

# ---------------------------------------------------------------- bytes

# hostile_bytes KIND HOW DESCRIPTION: tests/helpers/raw_client.py sends KIND, then
# closes its side (HOW close) or keeps it open (hold).
hostile_bytes() {
	local kind=$1 how=$2 name=$3 out port elapsed end pid code rec n
	out=$(timeout -k 2 20 "$PY" "$RAW" "${GW_ADDR[gw]}" "${GW_PORT[gw]}" "$kind" "$how" 10 2>&1)
	port=$(printf '%s' "$out" | sed -n 's/^port=\([0-9]*\) .*/\1/p')
	end=$(printf '%s' "$out" | sed -n 's/.* end=\([a-z]*\) .*/\1/p')
	elapsed=$(printf '%s' "$out" | sed -n 's/.* elapsed=\([0-9]*\)\..*/\1/p')
	if [ -z "$port" ]; then
		not_ok "$name" "raw client failed: $out"
		return
	fi
	if { [ "$end" = eof ] || [ "$end" = reset ]; } && [ "$elapsed" -lt 3 ]; then
		ok "$name: sshroute closes the connection at once"
	else
		not_ok "$name: sshroute closes the connection at once" "$out"
	fi
	pid=$(pid_of_port "$port")
	code=$(child_code "$pid")
	rec=$(wait_log 5 "session end" "client_port=$port ")
	n=$(grep -F "session end" "$LOG" | grep -cF "client_port=$port ")
	if [ -n "$pid" ] && [ "$code" = "code 5" ] && [ "$n" = 1 ] &&
		printf '%s' "$rec" | grep -q ' exit=5 \[client .*\]$'; then
		ok "$name: exit status 5, one session record ($(printf '%s' "$rec" | grep -o 'end="[^"]*"'))"
	else
		not_ok "$name: exit status 5, one session record" \
			"pid '$pid', systemd-socket-activate: '$code', $n record(s), last: '$rec'"
	fi
	login_works "$name"
}

hostile_bytes random hold "random bytes instead of a banner"
hostile_bytes longline hold "64 KiB banner line without a line end"
hostile_bytes ssh1 hold "SSH-1.5 banner"
hostile_bytes garbage hold "valid banner, then random bytes"
hostile_bytes hugepacket hold "valid banner, then a 4 GiB packet length"
hostile_bytes kex-truncated close "valid banner, half a KEXINIT, then close"

# ---------------------------------------------------------------- user names

# hexname PRINTF_B_TEXT: the bytes of the name, in hex.
hexname() {
	printf '%b' "$1" | od -An -v -tx1 | tr -d ' \n'
}

long_name="srt-$(head -c 4996 /dev/zero | tr '\0' a)"
# "%b" texts: the bytes sent as the user name, and what to call each.
NAMES=(
	"$long_name"
	'srt-\033[31mred\033[0m\a'
	'srt-x\nsshroute[1]: info: accepted password for user root'
	'srt-x\rroot'
	'../../etc/passwd'
	'a/b'
	'srt-../../etc/passwd'
	'%u'
	'%%'
	'srt-%u'
	'srt-%%'
	'srt-\377\376'
	"srt-$(head -c 29 /dev/zero | tr '\0' b)"
	'srt-alice\0x'
)
LABELS=(
	"5000-byte name"
	"name with ESC sequences and BEL"
	"name with a line end and a fake log line"
	"name with a carriage return"
	"name ../../etc/passwd"
	"name a/b"
	"name srt-../../etc/passwd"
	"name %u"
	"name %%"
	"name srt-%u"
	"name srt-%%"
	"name with bytes that are not UTF-8"
	"33-character name (too long for %u)"
	"name with a NUL byte (srt-alice NUL x)"
)

n_records_before=$(grep -cF "session end" "$LOG")
for i in "${!NAMES[@]}"; do
	name=${LABELS[$i]}
	hex=$(hexname "${NAMES[$i]}")
	out=$(timeout -k 2 30 "$PY" "$PROBE" login "${GW_ADDR[gw]}" "${GW_PORT[gw]}" "$hex" \
		"${PASSWORD[srt-carol]}" "$T/client_known_hosts" 'echo "$(hostname) $(whoami)"' 2>"$T/err")
	rc=$?
	port=$(sed -n 's/^PORT //p' "$T/err")
	err=$(grep -v '^PORT ' "$T/err")
	if [ "$rc" = 0 ] && [ "$out" = "host-carol srt-carol" ]; then
		ok "$name: routed safely (catch-all, as srt-carol on carol)"
	elif [ "$rc" = 5 ]; then
		ok "$name: refused"
	else
		not_ok "$name: refused or routed safely" "exit $rc, stdout '$out', stderr '$err'"
	fi
	if [ -n "$port" ] && rec=$(wait_log 10 "session end" "client_port=$port "); then
		ok "$name: session record written ($(printf '%s' "$rec" | grep -o 'end="[^"]*"'))"
	else
		not_ok "$name: session record written" "none for client port '$port'"
	fi
done

# A NUL byte: OpenSSH's sshd refuses such a name; libssh cuts it at the NUL,
# so sshroute serves "srt-alice" (with her password only). Either is safe
# as long as the name used is the one in the record.
out=$(timeout -k 2 30 "$PY" "$PROBE" login "${GW_ADDR[gw]}" "${GW_PORT[gw]}" "$(hexname 'srt-alice\0x')" \
	"${PASSWORD[srt-alice]}" "$T/client_known_hosts" 'echo "$(hostname) $(whoami)"' 2>"$T/err")
rc=$?
port=$(sed -n 's/^PORT //p' "$T/err")
rec=$(wait_log 10 "session end" "client_port=$port ")
if [ "$rc" = 5 ]; then
	ok "name srt-alice NUL x with srt-alice's password: refused"
elif [ "$rc" = 0 ] && [ "$out" = "host-alice srt-alice" ] && printf '%s' "$rec" | grep -qF ' user=srt-alice '; then
	ok "name srt-alice NUL x with srt-alice's password: served as srt-alice, recorded as such"
	note "a user name with a NUL byte is cut at the NUL (OpenSSH's sshd refuses it)"
else
	not_ok "name srt-alice NUL x with srt-alice's password" "exit $rc, stdout '$out', record '$rec'"
fi

# The two names that %u must not expand, as the gateway logged them.
if grep -qF 'user=srt-\x1b[31mred\x1b[0m\x07 ' "$LOG"; then
	ok "ESC and BEL are logged escaped (\\x1b, \\x07)"
else
	not_ok "ESC and BEL are logged escaped (\\x1b, \\x07)" \
		"no 'user=srt-\\x1b[31mred\\x1b[0m\\x07' in the log: $(grep -F 'red' "$LOG" | head -n 2)"
fi
if grep -qF 'user="srt-x\x0asshroute[1]: info: accepted password for user root"' "$LOG"; then
	ok "a line end in a name is logged as \\x0a"
else
	not_ok "a line end in a name is logged as \\x0a" "$(grep -F 'accepted password for user root' "$LOG" | head -n 2)"
fi
expect_eq "no log line forged through a user name" 0 "$(grep -c '^sshroute\[1\]' "$LOG")"
bad=$(LC_ALL=C grep -c '[^[:print:]]' "$LOG")
expect_eq "the log holds no raw control character or non-ASCII byte" 0 "$bad"
[ "$bad" = 0 ] || note "lines with raw bytes:" "$(LC_ALL=C grep -n '[^[:print:]]' "$LOG" | head -n 3 | cat -v | cut -c1-200)"
expect_eq "no raw ESC byte in the log" 0 "$(grep -c $'\x1b' "$LOG")"
longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$LOG")
if [ "$longest" -lt 8192 ]; then
	ok "log lines stay bounded with a 5000-byte name (longest $longest bytes)"
else
	not_ok "log lines stay bounded with a 5000-byte name" "a line of $longest bytes"
fi
routed_u=$(grep -F 'info: route ' "$LOG" | grep -F '.srt.test')
expect_eq "no hostile name was routed by the %u route" "" "$routed_u"
expect_eq "every login attempt above ended with one session record" \
	"$((${#NAMES[@]} + 1))" "$(( $(grep -cF "session end" "$LOG") - n_records_before ))"

# sshroute -T: the %u route is live for a good name, and skipped for the
# hostile ones (the NUL byte cannot go on a command line).
route_T() {
	timeout -k 2 10 "$SSHROUTE" -T "$1" -f "$T/route.ini" 2>/dev/null | sed -n 's/^upstream: //p'
}
expect_eq "-T: the %u route takes a good name" srt-team-red.srt.test "$(route_T srt-team-red)"
expect_eq "-T: the %u route takes a 32-character name" \
	"srt-$(head -c 28 /dev/zero | tr '\0' c).srt.test" "$(route_T "srt-$(head -c 28 /dev/zero | tr '\0' c)")"
bad_T=
for i in "${!NAMES[@]}"; do
	case ${NAMES[$i]} in *'\0'*) continue ;; esac
	name=$(printf '%b' "${NAMES[$i]}")
	up=$(route_T "$name")
	[ "$up" = "${NET}13" ] || bad_T="$bad_T [${LABELS[$i]}: '$up']"
done
expect_eq "-T: every hostile name takes the catch-all route" "" "$bad_T"

expect_eq "no sshroute process crashed (every exit code 0 or 5)" "" \
	"$(grep -E '^Child [0-9]+ died with ' "$LOG" | grep -Ev 'died with code (0|5)$')"
check_no_leftovers "no sshroute process left after the hostile clients" gw

# ---------------------------------------------------------------- route.ini

# A gateway whose route.ini is $T/cfg.ini, a symbolic link switched per
# case (sshroute reads the file anew for every connection).
GOOD="[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts

[route srt-alice]
upstream = ${NET}11:2022
"
INI=$T/ini
mkdir -p "$INI"
printf '%s' "$GOOD" >"$INI/good.ini"
ln -sfn "$INI/good.ini" "$T/cfg.ini"
start_gateway cfg "${NET}1" 2223 "$T/cfg.ini" fd3
out=$(gw_ssh cfg srt-alice hostname </dev/null 2>&1)
expect_eq "route.ini sanity check: the good file lets srt-alice in" host-alice "$out"

# sed_good SCRIPT: the good file, edited by sed SCRIPT.
sed_good() {
	printf '%s' "$GOOD" | sed "$1"
}

: >"$INI/empty.ini"
printf '# nothing here\n; nor here\n\n' >"$INI/comments.ini"
printf '%s' "$GOOD" | head -c "$(($(printf '%s' "$GOOD" | grep -bo 'srt-alice' | cut -d: -f1) + 6))" >"$INI/cut-section.ini"
sed_good 's/^upstream = .*/upstr/' | head -c -1 >"$INI/cut-key.ini"
sed_good 's/^upstream = .*/upstream =/' | head -c -1 >"$INI/cut-value.ini"
printf '%s' "$GOOD" | head -c "$(($(printf '%s' "$GOOD" | grep -bo 'known_hosts = ' | cut -d: -f1) + 20))" >"$INI/cut-server.ini"
head -c 4096 /dev/urandom >"$INI/binary.ini"
{ printf '%s' "$GOOD"; head -c 4096 /dev/urandom; } >"$INI/good-then-binary.ini"
sed_good "s/^upstream = .*/upstream = ${NET}11:2022\\x00.evil.example/" >"$INI/nul-in-value.ini"
{ printf '\0user = srt-carol\n'; printf '%s' "$GOOD"; } >"$INI/nul-at-line-start.ini"
{ printf '%s' "$GOOD"; head -c 4096 /dev/zero; } >"$INI/nul-tail.ini"
{ printf '%s' "$GOOD"; printf '# '; head -c 1048576 /dev/zero | tr '\0' a; echo; } >"$INI/1mb-comment.ini"
{ printf '%s' "$GOOD"; printf 'user = '; head -c 1048576 /dev/zero | tr '\0' a; echo; } >"$INI/1mb-value.ini"
# Spaces, then a key: a reader that cut a long line into pieces would take
# the last piece for a line of its own.
{ printf '%s' "$GOOD"; printf '#'; head -c 1048576 /dev/zero | tr '\0' ' '; echo 'user = srt-carol'; } >"$INI/1mb-split.ini"
head -c 1048576 /dev/zero | tr '\0' a >"$INI/1mb-no-line-end.ini"
{ printf '%s' "$GOOD"; echo "upstream = ${NET}13:2022"; } >"$INI/dup-upstream.ini"
{ printf '%s' "$GOOD"; echo 'user = srt-carol'; echo 'user = srt-bob'; } >"$INI/dup-user.ini"
sed_good 's/^\[route/login_grace_time = 5\nlogin_grace_time = 6\n\n[route/' >"$INI/dup-grace.ini"
mkdir -p "$INI/directory.ini" "$T/keydir"
head -c 200 "$GW_KEY" >"$T/key-cut"
: >"$T/key-empty"
cp "$GW_KEY.pub" "$T/key-public"
chmod 600 "$T/key-cut" "$T/key-empty" "$T/key-public"
mkfifo "$T/key-fifo"
chmod 600 "$T/key-fifo"
sed_good "s|^host_key = .*|host_key = $T/key-cut|" >"$INI/key-truncated.ini"
sed_good "s|^host_key = .*|host_key = $T/key-empty|" >"$INI/key-empty.ini"
sed_good "s|^host_key = .*|host_key = $T/key-public|" >"$INI/key-public.ini"
sed_good "s|^host_key = .*|host_key = $T/keydir|" >"$INI/key-directory.ini"
sed_good "s|^host_key = .*|host_key = $T/key-fifo|" >"$INI/key-fifo.ini"
sed_good "s|^host_key = .*|host_key = /dev/zero|" >"$INI/key-dev-zero.ini"
sed_good "s|^known_hosts = .*|known_hosts = $T/keydir|" >"$INI/known-hosts-directory.ini"

# (file, what it is) pairs; "-" for a file that does not exist.
CASES=(
	empty.ini "empty file"
	comments.ini "comments only"
	cut-section.ini "truncated in a section header"
	cut-key.ini "truncated in a key"
	cut-value.ini "truncated after 'upstream ='"
	cut-server.ini "truncated in the known_hosts path"
	binary.ini "4 KiB of random bytes"
	good-then-binary.ini "a good file followed by random bytes"
	nul-in-value.ini "NUL byte inside the upstream value"
	nul-at-line-start.ini "NUL byte at the start of a line"
	nul-tail.ini "a good file followed by 4 KiB of NUL bytes"
	1mb-comment.ini "1 MB comment line"
	1mb-value.ini "1 MB value"
	1mb-split.ini "1 MB comment line ending in 'user = ...'"
	1mb-no-line-end.ini "1 MB without a line end"
	dup-upstream.ini "upstream given twice in a route"
	dup-user.ini "user given twice in a route"
	dup-grace.ini "login_grace_time given twice"
	directory.ini "route.ini is a directory"
	- "route.ini missing"
	key-truncated.ini "host key truncated"
	key-empty.ini "host key file empty"
	key-public.ini "host key is a public key"
	key-directory.ini "host key is a directory"
	key-fifo.ini "host key is a FIFO"
	key-dev-zero.ini "host key is /dev/zero"
	known-hosts-directory.ini "known_hosts is a directory"
)

# check_t FILE NAME [RUNNER...]: sshroute -t exits 3 with a message naming
# the file; RUNNER (e.g. setpriv ...) runs sshroute as another user.
check_t() {
	local file=$1 name=$2 rc err
	shift 2
	timeout -k 2 20 "$@" "$SSHROUTE" -t -f "$file" </dev/null >"$T/t.out" 2>"$T/t.err"
	rc=$?
	err=$(head -c 600 "$T/t.err")
	if [ "$rc" = 3 ] && grep -qF -- "$file" "$T/t.err" && [ ! -s "$T/t.out" ]; then
		ok "-t $name: exit 3: $(head -n 1 "$T/t.err" | sed "s|$T/||g" | LC_ALL=C tr -c '[:print:]\n' '?' | cut -c1-100)"
	else
		not_ok "-t $name" "want exit 3 and a message naming $file; got exit $rc$([ "$rc" -gt 128 ] && echo ' (a signal!)')$([ "$rc" = 124 ] && echo ' (hung)'), stderr '$err', stdout '$(head -c 200 "$T/t.out")'"
	fi
}

# nobody_in NAME: a login through the cfg gateway fails, and the sshroute
# process that refused it exited with status 3.
nobody_in() {
	local name=$1 out rc pid code
	local before
	before=$(grep -c '^Child [0-9]* died with ' "${GW_LOG[cfg]}")
	out=$(CLIENT_TIMEOUT=20 gw_ssh cfg srt-alice hostname </dev/null 2>"$T/err")
	rc=$?
	# the process that served it: the first child that ended after "before"
	local deadline=$((SECONDS + 10))
	until [ "$(grep -c '^Child [0-9]* died with ' "${GW_LOG[cfg]}")" -gt "$before" ] ||
		[ "$SECONDS" -ge "$deadline" ]; do
		sleep 0.1
	done
	code=$(grep '^Child [0-9]* died with ' "${GW_LOG[cfg]}" | sed -n "$((before + 1))s/.* died with //p")
	if [ "$rc" != 0 ] && [ -z "$out" ] && [ "$code" = "code 3" ]; then
		ok "$name: a connection lets nobody in (sshroute exit 3)"
	else
		not_ok "$name: a connection lets nobody in (sshroute exit 3)" \
			"ssh exit $rc, stdout '$out', systemd-socket-activate: '$code', stderr '$(head -c 200 "$T/err")'"
	fi
}

for ((i = 0; i < ${#CASES[@]}; i += 2)); do
	file=${CASES[$i]} name=${CASES[$((i + 1))]}
	if [ "$file" = - ]; then
		# -t on a missing file is in t-config.sh; the connection is here.
		rm -f "$T/cfg.ini"
	else
		check_t "$INI/$file" "$name"
		ln -sfn "$INI/$file" "$T/cfg.ini"
	fi
	nobody_in "$name"
done

# Keys that exist but that the user running sshroute cannot read: the
# files belong to root (mode 600); sshroute runs as srt-bob. setpriv execs
# in place, so systemd-socket-activate's LISTEN_PID still matches.
AS_BOB=(setpriv --reuid="$(id -u srt-bob)" --regid="$(id -g srt-bob)" --clear-groups)
cp "$GW_KEY" "$T/root-key"
cp "$T/known_hosts" "$T/root-known-hosts"
chmod 600 "$T/root-key" "$T/root-known-hosts"
sed_good "s|^host_key = .*|host_key = $T/root-key|" >"$INI/key-unreadable.ini"
sed_good "s|^known_hosts = .*|known_hosts = $T/root-known-hosts|; s|^host_key = .*|host_key = $T/bob-key|" >"$INI/known-hosts-unreadable.ini"
cp "$GW_KEY" "$T/bob-key"
chown srt-bob "$T/bob-key"
chmod 600 "$T/bob-key"
chmod 644 "$INI"/*.ini
check_t "$INI/key-unreadable.ini" "host key unreadable for the user sshroute runs as" "${AS_BOB[@]}"
check_t "$INI/known-hosts-unreadable.ini" "known_hosts unreadable for the user sshroute runs as" "${AS_BOB[@]}"

# The same through a connection: a gateway running sshroute as srt-bob.
ln -sfn "$INI/key-unreadable.ini" "$T/cfg-bob.ini"
start_gateway_as_bob() {
	local log=$T/gw-bob.log pid
	systemd-socket-activate -l "${NET}1:2224" -a "${AS_BOB[@]}" "$SSHROUTE" -e -v -f "$T/cfg-bob.ini" \
		</dev/null >>"$T/gw-bob.stdout" 2>>"$log" &
	pid=$!
	track_pid "$pid"
	wait_listening "${NET}1" 2224 "$pid" || die "gateway bob on ${NET}1:2224"
	GW_ADDR[bob]=${NET}1 GW_PORT[bob]=2224 GW_PID[bob]=$pid GW_LOG[bob]=$log
	echo "[${NET}1]:2224 $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"
}
start_gateway_as_bob
for f in key-unreadable known-hosts-unreadable; do
	ln -sfn "$INI/$f.ini" "$T/cfg-bob.ini"
	out=$(CLIENT_TIMEOUT=20 gw_ssh bob srt-alice hostname </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" != 0 ] && [ -z "$out" ]; then
		ok "$f (sshroute as srt-bob): a connection lets nobody in"
	else
		not_ok "$f (sshroute as srt-bob): a connection lets nobody in" "exit $rc, stdout '$out'"
	fi
done
# Control: srt-bob can serve with files he can read.
ln -sfn "$INI/good.ini" "$T/cfg-bob.ini"
sed_good "s|^host_key = .*|host_key = $T/bob-key|" >"$INI/bob-good.ini"
chmod 644 "$INI/bob-good.ini"
ln -sfn "$INI/bob-good.ini" "$T/cfg-bob.ini"
out=$(gw_ssh bob srt-alice hostname </dev/null 2>&1)
expect_eq "control: sshroute as srt-bob with readable files lets srt-alice in" host-alice "$out"

# sshroute -t writes to a terminal, but a serving sshroute logs: the bytes
# of the binary files must come out escaped.
expect_eq "route.ini cases: the log holds no raw byte from the binary files" 0 \
	"$(LC_ALL=C grep -c '[^[:print:]]' "${GW_LOG[cfg]}")"
expect_eq "route.ini cases: no sshroute process crashed (exit codes 0 and 3 only)" "" \
	"$(cat "${GW_LOG[cfg]}" "${GW_LOG[bob]}" | grep -E '^Child [0-9]+ died with ' | grep -Ev 'died with code (0|3)$')"
check_no_leftovers "no sshroute process left after the route.ini cases" cfg bob

[ "$N_NOT_OK" = 0 ] || { show_log gw 25; show_log cfg; show_log bob; }
finish
