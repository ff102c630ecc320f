#!/bin/bash
# Failures a client must see clearly, and limits: upstream down, upstream
# host key changed or unknown (no password goes to such a host), a broken
# route.ini that lets nobody in, login_grace_time and max_auth_tries.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

start_upstream alice "${NET}11" 2022
start_upstream carol "${NET}13" 2022
start_upstream team-red "${NET}21" 2022

# carol's entry holds some other key (her key "changed"); team-red has none.
ssh-keygen -q -t ed25519 -N '' -C impostor -f "$T/other_key" || die "ssh-keygen"
{
	known_hosts_entry alice
	echo "[${NET}13]:2022 $(cut -d' ' -f1-2 "$T/other_key.pub")"
} >"$T/known_hosts"

make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts

[route srt-alice]
upstream = ${NET}11:2022

; nothing listens there
[route srt-bob]
upstream = ${NET}99:2022

[route srt-carol]
upstream = ${NET}13:2022

[route srt-team-red]
upstream = ${NET}21:2022
EOF
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3

UNAVAILABLE='sshroute: the server for this account is unavailable'

# unavailable USER CASE: the login ends with sshroute's disconnect message,
# as ssh shows it with its default LogLevel (INFO).
unavailable() {
	local out err rc
	out=$(LOGLEVEL=INFO gw_ssh gw "$1" hostname </dev/null 2>"$T/err")
	rc=$?
	err=$(cat "$T/err")
	if [ "$rc" = 255 ] && [ -z "$out" ] && printf '%s' "$err" | grep -qF "$UNAVAILABLE"; then
		ok "$2"
	else
		not_ok "$2" "exit $rc, stdout '$out', stderr '$err'"
	fi
}

out=$(gw_ssh gw srt-alice hostname </dev/null 2>&1)
expect_eq "a good route works beside the broken ones" host-alice "$out"

unavailable srt-bob "upstream down: client told the server is unavailable"
unavailable srt-carol "upstream host key changed: client told the server is unavailable"
unavailable srt-team-red "upstream host key unknown: client told the server is unavailable"

if grep -i 'host key' "${GW_LOG[gw]}" | grep -q "${NET}13"; then
	ok "upstream host key changed: the log says so"
else
	not_ok "upstream host key changed: the log says so" "no line with 'host key' and ${NET}13 in the log"
fi
if grep -i 'host key' "${GW_LOG[gw]}" | grep -q "${NET}21"; then
	ok "upstream host key unknown: the log says so"
else
	not_ok "upstream host key unknown: the log says so" "no line with 'host key' and ${NET}21 in the log"
fi

# sshd logs every password attempt ("Accepted/Failed password for").
for up in carol team-red; do
	if grep -q 'password for' "${UP_DIR[$up]}/sshd.log"; then
		not_ok "no password offered to $up, whose host key is not trusted" \
			"$(grep 'password for' "${UP_DIR[$up]}/sshd.log" | head -n 1)"
	else
		ok "no password offered to $up, whose host key is not trusted"
	fi
done

# ---------------------------------------------------------------- broken route.ini

# Line 7 holds an unknown key; the rest would route srt-alice fine.
cat >"$T/broken.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts

[route srt-alice]
upstream = ${NET}11:2022
colour = blue
EOF
start_gateway broken "${NET}1" 2223 "$T/broken.ini" fd3
out=$(gw_ssh broken srt-alice hostname </dev/null 2>"$T/err")
rc=$?
if [ "$rc" != 0 ] && [ -z "$out" ]; then
	ok "broken route.ini lets nobody in"
else
	not_ok "broken route.ini lets nobody in" "exit $rc, stdout '$out'"
fi
if grep -q 'broken\.ini:7' "${GW_LOG[broken]}"; then
	ok "broken route.ini: the log names file and line"
else
	not_ok "broken route.ini: the log names file and line" "no 'broken.ini:7' in the log"
fi

# ---------------------------------------------------------------- limits

# limits_gateway NAME PORT SETTING: a gateway routing srt-alice with one
# more [server] setting.
limits_gateway() {
	cat >"$T/$1.ini" <<-EOF
		[server]
		host_key = $GW_KEY
		known_hosts = $T/known_hosts
		$3

		[route srt-alice]
		upstream = ${NET}11:2022
	EOF
	start_gateway "$1" "${NET}1" "$2" "$T/$1.ini" fd3
}
limits_gateway grace 2224 "login_grace_time = 2"
limits_gateway tries 2225 "max_auth_tries = 2"

# A client that connects and then says nothing at all.
if exec 8<>"/dev/tcp/${NET}1/2224"; then
	deadline=$((SECONDS + 5))
	idle=
	until [ -n "$idle" ] || [ "$SECONDS" -ge "$deadline" ]; do
		idle=$(gateway_children grace)
		sleep 0.1
	done
	expect_gone "login_grace_time = 2 drops a silent client" 8 $idle
	exec 8<&-
else
	not_ok "login_grace_time = 2 drops a silent client" "cannot connect"
fi

# Three wrong passwords offered; after the second failure sshroute must end
# the connection, as sshd does with MaxAuthTries 2.
printf '%s\n' "$WRONG_PASSWORD" "$WRONG_PASSWORD" "$WRONG_PASSWORD" >"$T/passwords"
SRT_PASSWORD_FILE=$T/passwords PROMPTS=3 LOGLEVEL=INFO gw_ssh tries srt-alice hostname </dev/null 2>"$T/err"
rc=$?
err=$(cat "$T/err")
if [ "$rc" = 255 ] && printf '%s' "$err" | grep -q 'Too many authentication failures'; then
	ok "max_auth_tries = 2: too many failures end the connection"
else
	not_ok "max_auth_tries = 2: too many failures end the connection" "exit $rc, stderr '$err'"
fi
expect_eq "max_auth_tries = 2: exactly two passwords tried" 1 "$(wc -l <"$T/passwords")"

check_no_passwords "no password in the logs" "${GW_LOG[gw]}" "${GW_LOG[tries]}"
check_no_leftovers "no sshroute process left after the sessions" gw broken grace tries

[ "$N_NOT_OK" = 0 ] || { show_log gw; show_log grace; show_log tries; }
finish
