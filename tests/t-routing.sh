#!/bin/bash
# Routing by user name, through both ways of starting sshroute: with the
# connection on fd 3 (LISTEN_FDS) and on fd 0 (--inetd). Each upstream sshd
# has its own host name, so `hostname` shows where a user landed.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

# --- upstreams: alice on the default port 22 when it is free
alice_port=$(free_port "${NET}11" 22)
start_upstream alice "${NET}11" "$alice_port"
start_upstream bob "${NET}12" 2022
start_upstream carol "${NET}13" 2022
start_upstream team-red "${NET}21" 2022
start_upstream team-blue "${NET}22" 2022

# The team upstreams are reached by host name (route "%u.srt.test"), which
# sshroute resolves through the /etc/hosts of its own mount namespace.
cat >"$T/hosts" <<EOF
127.0.0.1 localhost
::1 localhost
${NET}21 srt-team-red.srt.test
${NET}22 srt-team-blue.srt.test
EOF
{
	known_hosts_entry alice
	known_hosts_entry bob
	known_hosts_entry carol
	known_hosts_entry team-red srt-team-red.srt.test
	known_hosts_entry team-blue srt-team-blue.srt.test
} >"$T/known_hosts"

alice_upstream=${NET}11
[ "$alice_port" = 22 ] || alice_upstream=${NET}11:$alice_port

make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
; with -v this is debug, the most verbose level: still no password in the log
log_level = verbose

[route srt-alice]
upstream = $alice_upstream

[route srt-bob]
upstream = ${NET}12:2022

; srt-dave has no account anywhere: he logs in as srt-carol on carol's host
[route srt-dave]
upstream = ${NET}13:2022
user = srt-carol

[route srt-team-*]
upstream = %u.srt.test:2022

; matches every srt-team-* name too, but the first pattern wins
[route srt-tea?-*]
upstream = ${NET}13:2022
user = srt-carol
EOF

start_gateway fd3 "${NET}1" 2222 "$T/route.ini" fd3 "$T/hosts"
start_gateway inetd "${NET}1" 2223 "$T/route.ini" inetd "$T/hosts"

# landing GW USER EXPECTED_HOST [EXPECTED_REMOTE_USER]
landing() {
	local gw=$1 user=$2 host=$3 remote_user=${4:-$2} out rc
	out=$(gw_ssh "$gw" "$user" 'echo "$(hostname) $(whoami)"' </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "$host $remote_user" ]; then
		ok "$gw: $user lands on $host as $remote_user"
	else
		not_ok "$gw: $user lands on $host as $remote_user" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
}

# refused GW USER PASSWORD CASE: the login fails as sshd's would.
refused() {
	local gw=$1 user=$2 out rc
	out=$(PW=$3 gw_ssh "$gw" "$user" hostname </dev/null 2>&1)
	rc=$?
	if [ "$rc" = 255 ] && printf '%s' "$out" | grep -q 'Permission denied ('; then
		ok "$gw: $4"
	else
		not_ok "$gw: $4" "exit $rc, output '$out'"
	fi
	# What ssh said after "user@host: ", to compare the two kinds of failure.
	REFUSAL=$(printf '%s' "$out" | grep 'Permission denied' | sed 's/^.*: Permission/Permission/')
}

for gw in fd3 inetd; do
	landing "$gw" srt-alice host-alice
	landing "$gw" srt-bob host-bob
	landing "$gw" srt-team-red host-team-red
	landing "$gw" srt-team-blue host-team-blue
	PW=${PASSWORD[srt-carol]} landing "$gw" srt-dave host-carol srt-carol
	refused "$gw" srt-alice "$WRONG_PASSWORD" "wrong password is refused"
	wrong=$REFUSAL
	refused "$gw" srt-nobody "${PASSWORD[srt-alice]}" "user without a route is refused"
	expect_eq "$gw: unknown user and wrong password look the same" "$wrong" "$REFUSAL"
	# %u expands only names made of [A-Za-z0-9._-]: this one skips the
	# first pattern and takes the second.
	PW=${PASSWORD[srt-carol]} landing "$gw" 'srt-team-x+y' host-carol srt-carol
done

# A wrong password, then the right one, on the same connection.
printf '%s\n' "$WRONG_PASSWORD" "${PASSWORD[srt-bob]}" >"$T/passwords"
out=$(SRT_PASSWORD_FILE=$T/passwords PROMPTS=2 gw_ssh fd3 srt-bob hostname </dev/null 2>"$T/err")
expect_eq "fd3: the right password after a wrong one lets in" "host-bob" "$out"

for gw in fd3 inetd; do
	if grep -q 'srt-team-red\.srt\.test' "${GW_LOG[$gw]}"; then
		ok "$gw: the log names the expanded upstream"
	else
		not_ok "$gw: the log names the expanded upstream" "srt-team-red.srt.test not in ${GW_LOG[$gw]}"
	fi
done

# Under --inetd, fd 1 is the client's socket: the sessions above show that
# nothing stray went there. With fd 3, stdout is this file.
expect_eq "fd3: sshroute writes nothing to stdout" "" "$(cat "$T/gw-fd3.stdout")"

check_no_passwords "no password in the logs (log level debug)" "${GW_LOG[fd3]}" "${GW_LOG[inetd]}"
check_no_leftovers "no sshroute process left after the sessions" fd3 inetd

[ "$N_NOT_OK" = 0 ] || { show_log fd3; show_log inetd; }
finish
