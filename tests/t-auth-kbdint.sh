#!/bin/bash
# Keyboard-interactive through sshroute (issue 3): a real PAM conversation
# on OpenSSH (paramiko sees the same rounds through sshroute as directly);
# multi-prompt and multi-round challenges (password, then a one-time code)
# from a small asyncssh server: the first round is sshroute's own
# Password: prompt (issue 25), whose answer fills the upstream's first
# password prompt, and the rest is relayed verbatim (name, instruction,
# prompts, echo flags); and partial success (sshd AuthenticationMethods)
# relayed, so that the client does both steps through the proxy.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

PY=/usr/bin/python3
PARAMIKO=$SRT_ROOT/tests/helpers/paramiko_client.py
OTP_PASSWORD='Srt.otp-pw.5150'
OTP_CODE='731946'

# ---------------------------------------------------------------- keys

K=$T/keys
mkdir -p "$K" "$T/ak"
make_key "$K/id_server"
make_key "$K/bob"
make_key "$K/carol"
cat "$K/bob.pub" >"$T/ak/bob"
cat "$K/carol.pub" >"$T/ak/carol"
chmod 644 "$T"/ak/*

# ---------------------------------------------------------------- upstreams

# pam: keyboard-interactive through PAM only (Debian's /etc/pam.d/sshd).
start_upstream_with pam "${NET}31" 2022 "UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no"

# chain: a key (sshroute's identity), then PAM.
start_upstream_with chain "${NET}32" 2022 "UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication yes
$(upstream_keys_option chain)
AuthenticationMethods publickey,keyboard-interactive
LogLevel VERBOSE"
add_upstream_key chain srt-bob "$K/id_server.pub"

# chain2: a password, then a key.
start_upstream_with chain2 "${NET}33" 2022 "PubkeyAuthentication yes
$(upstream_keys_option chain2)
AuthenticationMethods password,publickey"
add_upstream_key chain2 srt-carol "$K/id_server.pub"

# otp: tests/helpers/kbdint_server.py (asyncssh), as host-otp.
start_kbdint_server() {
	local name=$1 addr=$2 port=$3 dir=$T/up-$1 pid
	mkdir -p "$dir"
	ssh-keygen -q -t ed25519 -N '' -C "host-$name" -f "$dir/ssh_host_ed25519_key" || die "ssh-keygen for $name"
	unshare --uts sh -c 'hostname "$0" && exec "$@"' "host-$name" \
		"$PY" "$SRT_ROOT/tests/helpers/kbdint_server.py" "$addr" "$port" "$dir/ssh_host_ed25519_key" \
		"$OTP_PASSWORD" "$OTP_CODE" </dev/null >>"$dir/server.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	if ! wait_listening "$addr" "$port" "$pid"; then
		note "kbdint_server for $name did not come up:" "$(tail -n 5 "$dir/server.log")"
		die "kbdint_server $name on $addr:$port"
	fi
	UP_ADDR[$name]=$addr UP_PORT[$name]=$port UP_PID[$name]=$pid UP_DIR[$name]=$dir
}
start_kbdint_server otp "${NET}34" 2022

{
	known_hosts_entry pam
	known_hosts_entry chain
	known_hosts_entry chain2
	known_hosts_entry otp
} >"$T/known_hosts"
write_upstream_known_hosts pam otp

make_gateway_key
cat >"$T/route.ini" <<INI
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
identity = $K/id_server

[route srt-alice]
upstream = ${NET}31:2022

[route srt-bob]
upstream = ${NET}32:2022
authorized_keys = $T/ak/bob

[route srt-carol]
upstream = ${NET}33:2022
authorized_keys = $T/ak/carol

; the PAM upstream, but keyboard-interactive not allowed: nothing is left
[route srt-dave]
upstream = ${NET}31:2022
user = srt-alice
auth = password,publickey
authorized_keys = $T/ak/bob

[route srt-otp*]
upstream = ${NET}34:2022
INI
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3

# ---------------------------------------------------------------- helpers

# kbdint_login CASE USER PASSWORD CODE EXPECTED [SSH ARGS...]: an OpenSSH
# keyboard-interactive login answering PASSWORD and CODE lands on EXPECTED
# (the output of $SRT_CMD, default hostname). The prompts seen are left in
# $T/prompts, ssh's stderr in $T/err.
kbdint_login() {
	local name=$1 user=$2 pw=$3 code=$4 want=$5 out rc
	shift 5
	: >"$T/prompts"
	out=$(SRT_PROMPT_LOG=$T/prompts SRT_PASSWORD=$pw SRT_CODE=$code \
		gw_kbdint_ssh gw "$user" "$@" </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stdout '$out', stderr '$(cat "$T/err")', prompts '$(cat "$T/prompts")'"
	fi
}

# kbdint_refused CASE USER PASSWORD CODE [SSH ARGS...]
kbdint_refused() {
	local name=$1 user=$2 pw=$3 code=$4 out rc
	shift 4
	: >"$T/prompts"
	out=$(SRT_PROMPT_LOG=$T/prompts SRT_PASSWORD=$pw SRT_CODE=$code \
		gw_kbdint_ssh gw "$user" "$@" </dev/null 2>"$T/err")
	rc=$?
	if [ "$rc" = 255 ] && [ -z "$out" ] && grep -q 'Permission denied' "$T/err"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
}

# prompts_are CASE REGEX...: the prompts ssh showed, in order, one REGEX each.
prompts_are() {
	local name=$1 i=0 line bad= re
	local -a lines
	shift
	mapfile -t lines <"$T/prompts"
	if [ "${#lines[@]}" != $# ]; then
		not_ok "$name" "expected $# prompts, got ${#lines[@]}: '$(cat "$T/prompts")'"
		return
	fi
	for re in "$@"; do
		line=${lines[$i]}
		printf '%s' "$line" | grep -Eq -- "$re" || bad="$bad prompt $((i + 1)) '$line' !~ /$re/;"
		i=$((i + 1))
	done
	if [ -z "$bad" ]; then ok "$name"; else not_ok "$name" "$bad"; fi
}

# paramiko_rounds VIA USER METHOD...: paramiko's transcript of the rounds
# (and its output and exit status), through the gateway (VIA=gw) or
# straight to the upstream (VIA=upstream name).
paramiko_rounds() {
	local via=$1 user=$2 addr port kh out rc
	shift 2
	if [ "$via" = gw ]; then
		addr=${GW_ADDR[gw]} port=${GW_PORT[gw]} kh=$T/client_known_hosts
	else
		addr=${UP_ADDR[$via]} port=${UP_PORT[$via]} kh=$T/upstream_known_hosts
	fi
	out=$(timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$PARAMIKO" "$addr" "$port" "$user" "$kh" "$@" hostname \
		</dev/null 2>"$T/perr")
	rc=$?
	grep '^ROUND ' "$T/perr"
	echo "output '$out' exit $rc"
}

# same_rounds CASE UPSTREAM USER WANT_OUTPUT METHOD...: paramiko sees the
# same rounds through sshroute as straight on UPSTREAM, and gets in.
same_rounds() {
	local name=$1 up=$2 user=$3 want=$4 direct relayed
	shift 4
	direct=$(paramiko_rounds "$up" "$user" "$@")
	relayed=$(paramiko_rounds gw "$user" "$@")
	if [ "$direct" = "$relayed" ] && printf '%s' "$relayed" | grep -q '^ROUND ' &&
		printf '%s' "$relayed" | grep -qxF "output '$want' exit 0"; then
		ok "$name"
	else
		not_ok "$name" "direct: $direct | through sshroute: $relayed | $(grep -v '^ROUND' "$T/perr")"
	fi
}

# ---------------------------------------------------------------- PAM

APW=${PASSWORD[srt-alice]}
# shellcheck disable=SC2016
SRT_CMD='echo "$(hostname) $(whoami)"' kbdint_login "PAM: keyboard-interactive login" \
	srt-alice "$APW" "" "host-pam srt-alice"
prompts_are "PAM: the PAM prompt reaches the client" '\) Password: ?$'

out=$(LOGLEVEL=DEBUG SRT_PASSWORD=$APW gw_kbdint_ssh gw srt-alice </dev/null 2>&1)
expect_eq "PAM: the server's methods offered, as to any name" publickey,keyboard-interactive,password \
	"$(auth_lists "$out" | sort -u | tr '\n' ' ' | sed 's/ $//')"

kbdint_refused "PAM: wrong password refused" srt-alice "$WRONG_PASSWORD" ""
expect_match "PAM: the refusal names the server's methods, as for any name" \
	'Permission denied \(publickey,keyboard-interactive,password\)' "$(cat "$T/err")"

printf '%s\n' "$WRONG_PASSWORD" "$APW" >"$T/passwords"
out=$(SRT_PASSWORD_FILE=$T/passwords PROMPTS=2 gw_kbdint_ssh gw srt-alice </dev/null 2>"$T/err")
expect_eq "PAM: the right password after a wrong one, same connection" "host-pam, 0 left" \
	"$out, $(wc -l <"$T/passwords") left"

SRT_PASSWORD=$APW same_rounds "PAM: paramiko sees the same rounds as without sshroute" \
	pam srt-alice host-pam --kbdint

# ---------------------------------------------------------------- asyncssh: prompts and rounds

LOGLEVEL=INFO kbdint_login "two prompts in one round" srt-otp1 "$OTP_PASSWORD" "$OTP_CODE" host-otp
prompts_are "two prompts in one round: both reach the client, in order" \
	'\) Password: ?$' '\) One-time code: ?$'
if grep -qF 'sshroute test 2FA' "$T/err" && grep -qF 'Answer both prompts.' "$T/err"; then
	ok "two prompts in one round: name and instruction reach the client"
else
	not_ok "two prompts in one round: name and instruction reach the client" "stderr '$(cat "$T/err")'"
fi

kbdint_login "two rounds: password, then code" srt-otp2 "$OTP_PASSWORD" "$OTP_CODE" host-otp
prompts_are "two rounds: both prompts reach the client, in order" \
	'\) Password: ?$' '\) One-time code: ?$'

LOGLEVEL=INFO kbdint_login "a round without prompts (a notice), then password and code" \
	srt-otp3 "$OTP_PASSWORD" "$OTP_CODE" host-otp
expect_match "a round without prompts: its instruction reaches the client" \
	'This test system is watched\.' "$(cat "$T/err")"

kbdint_refused "two rounds: wrong code refused" srt-otp2 "$OTP_PASSWORD" 000000
kbdint_refused "two rounds: wrong password refused" srt-otp2 "$WRONG_PASSWORD" "$OTP_CODE"
kbdint_refused "one round: wrong code refused" srt-otp1 "$OTP_PASSWORD" 000000
if grep -q "wrong answer to 'One-time code: '" "${UP_DIR[otp]}/server.log"; then
	ok "wrong code: the upstream got the client's answer"
else
	not_ok "wrong code: the upstream got the client's answer" "$(tail -n 5 "${UP_DIR[otp]}/server.log")"
fi

# The first round is sshroute's own Password: prompt, whatever the name;
# its answer fills the upstream's first password prompt, the other prompts
# of that round follow as a round of their own, later rounds (and notices
# before it) verbatim: name, instruction, prompts and echo flags.
own='ROUND ["", "", [["Password: ", false]]]'
code='[["One-time code: ", true]]'
want_otp1="$own
ROUND [\"sshroute test 2FA\", \"Answer both prompts.\", $code]"
want_otp2="$own
ROUND [\"Step 2 of 2\", \"Now the code from your token.\", $code]"
want_otp3="$own
ROUND [\"Notice\", \"This test system is watched.\", []]
ROUND [\"Login\", \"Password and code, please.\", $code]"
for u in srt-otp1 srt-otp2 srt-otp3; do
	want=want_${u#srt-}
	out=$(SRT_PASSWORD=$OTP_PASSWORD SRT_CODE=$OTP_CODE paramiko_rounds gw "$u" --kbdint)
	expect_eq "$u: sshroute's Password: round, then the rest of the upstream's rounds" \
		"${!want}
output 'host-otp' exit 0" "$out"
done

# ---------------------------------------------------------------- partial success

# srt-bob: the upstream wants publickey, then keyboard-interactive (PAM).
: >"$T/prompts"
out=$(LOGLEVEL=DEBUG SRT_PROMPT_LOG=$T/prompts SRT_PASSWORD=${PASSWORD[srt-bob]} \
	gw_ssh_auth gw srt-bob -i "$K/bob" -o PubkeyAuthentication=yes \
	-o KbdInteractiveAuthentication=yes -o PasswordAuthentication=no </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 0 ] && [ "$out" = host-chain ] &&
	grep -q 'Authenticated using "publickey" with partial success' "$T/err" &&
	grep -q 'Authenticated to .* using "keyboard-interactive"' "$T/err"; then
	ok "publickey,keyboard-interactive: key, partial success, then PAM, through sshroute"
else
	not_ok "publickey,keyboard-interactive: key, partial success, then PAM, through sshroute" \
		"exit $rc, stdout '$out', $(grep -E 'partial|Authenticat|denied' "$T/err" | tr '\n' ' ')"
fi
prompts_are "publickey,keyboard-interactive: the PAM prompt reaches the client" '\) Password: ?$'
# sshd logs the first step ("Partial publickey") at LogLevel VERBOSE.
port=$(grep -o 'Accepted keyboard-interactive/pam for srt-bob from [0-9.]* port [0-9]*' \
	"${UP_DIR[chain]}/sshd.log" | head -n 1 | awk '{print $NF}')
if [ -n "$port" ] && grep -q "Partial publickey for srt-bob from .* port $port " "${UP_DIR[chain]}/sshd.log"; then
	ok "publickey,keyboard-interactive: the upstream saw both steps on one connection"
else
	not_ok "publickey,keyboard-interactive: the upstream saw both steps on one connection" \
		"$(grep -E 'Partial|Accepted' "${UP_DIR[chain]}/sshd.log" | head -n 4)"
fi

out=$(gw_key_ssh gw srt-bob "$K/bob" </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 255 ] && [ -z "$out" ] && grep -q 'Permission denied (keyboard-interactive)' "$T/err"; then
	ok "publickey,keyboard-interactive: the key alone does not let in"
else
	not_ok "publickey,keyboard-interactive: the key alone does not let in" \
		"exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
fi
kbdint_refused "publickey,keyboard-interactive: PAM alone does not let in" \
	srt-bob "${PASSWORD[srt-bob]}" ""
expect_match "publickey,keyboard-interactive: without the key, refused like any failure" \
	'Permission denied \(publickey,keyboard-interactive,password\)' "$(cat "$T/err")"

out=$(SRT_PASSWORD=${PASSWORD[srt-bob]} timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$PARAMIKO" \
	"${GW_ADDR[gw]}" "${GW_PORT[gw]}" srt-bob "$T/client_known_hosts" \
	--key "$K/bob" --kbdint hostname </dev/null 2>"$T/perr")
rc=$?
if [ "$rc" = 0 ] && [ "$out" = host-chain ] && grep -q '^PARTIAL --key, continue with keyboard-interactive' "$T/perr"; then
	ok "publickey,keyboard-interactive: paramiko, key then PAM"
else
	not_ok "publickey,keyboard-interactive: paramiko, key then PAM" "exit $rc, stdout '$out', stderr '$(cat "$T/perr")'"
fi

# srt-carol: the upstream wants a password, then publickey. ssh offers
# its key first (every name is offered publickey): sshroute checks the
# signature but the upstream does not take keys yet, so the key is refused
# for now and used upstream once the password has been accepted there.
out=$(LOGLEVEL=DEBUG SRT_PASSWORD=${PASSWORD[srt-carol]} gw_ssh_auth gw srt-carol -i "$K/carol" \
	-o PubkeyAuthentication=yes -o PasswordAuthentication=yes -o KbdInteractiveAuthentication=no \
	</dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 0 ] && [ "$out" = host-chain2 ] &&
	grep -q 'Authenticated to .* using "password"' "$T/err" &&
	grep -q 'Partial password for srt-carol' "${UP_DIR[chain2]}/sshd.log" &&
	grep -q 'Accepted publickey for srt-carol' "${UP_DIR[chain2]}/sshd.log"; then
	ok "password,publickey: the key (signed first), then the password, through sshroute"
else
	not_ok "password,publickey: the key (signed first), then the password, through sshroute" \
		"exit $rc, stdout '$out', $(grep -E 'partial|Authenticat|denied' "$T/err" | tr '\n' ' ')"
fi
# The same client with the password first: partial success, then its key.
out=$(LOGLEVEL=DEBUG SRT_PASSWORD=${PASSWORD[srt-carol]} gw_ssh_auth gw srt-carol -i "$K/carol" \
	-o PubkeyAuthentication=yes -o PasswordAuthentication=yes -o KbdInteractiveAuthentication=no \
	-o PreferredAuthentications=password,publickey </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 0 ] && [ "$out" = host-chain2 ] &&
	grep -q 'Authenticated using "password" with partial success' "$T/err" &&
	grep -q 'Authenticated to .* using "publickey"' "$T/err"; then
	ok "password,publickey: password, partial success, then the key, through sshroute"
else
	not_ok "password,publickey: password, partial success, then the key, through sshroute" \
		"exit $rc, stdout '$out', $(grep -E 'partial|Authenticat|denied' "$T/err" | tr '\n' ' ')"
fi
out=$(SRT_PASSWORD=${PASSWORD[srt-carol]} gw_ssh_auth gw srt-carol -o PubkeyAuthentication=no \
	-o PasswordAuthentication=yes -o KbdInteractiveAuthentication=no </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 255 ] && [ -z "$out" ] && grep -q 'Permission denied (publickey)' "$T/err"; then
	ok "password,publickey: the password alone does not let in"
else
	not_ok "password,publickey: the password alone does not let in" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
fi

# ---------------------------------------------------------------- narrowing

# srt-dave: the upstream takes only keyboard-interactive, the route allows
# only password and publickey (and publickey is not offered upstream).
out=$(SRT_PASSWORD=${PASSWORD[srt-alice]} gw_kbdint_ssh gw srt-dave -o PasswordAuthentication=yes \
	-o PreferredAuthentications=keyboard-interactive,password </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 255 ] && [ -z "$out" ] && grep -q 'Permission denied' "$T/err"; then
	ok "auth without keyboard-interactive: a kbdint-only upstream lets nobody in"
else
	not_ok "auth without keyboard-interactive: a kbdint-only upstream lets nobody in" \
		"exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
fi
check_log_line "auth without keyboard-interactive: the log says no method is left" "${GW_LOG[gw]}" \
	"srt-dave" "no method"

check_no_passwords "no password in the log" "${GW_LOG[gw]}"
if grep -qF -e "$OTP_PASSWORD" -e "$OTP_CODE" "${GW_LOG[gw]}"; then
	not_ok "no one-time code in the log" "found in ${GW_LOG[gw]}"
else
	ok "no one-time code in the log"
fi
check_no_leftovers "no sshroute process left after the sessions" gw

[ "$N_NOT_OK" = 0 ] || { show_log gw 30; note "--- kbdint_server:" "$(tail -n 10 "${UP_DIR[otp]}/server.log")"; }
finish
