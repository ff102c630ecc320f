#!/bin/bash
# Public keys through sshroute (issue 3): a client key listed in the route's
# authorized_keys logs in, and sshroute uses its own identity upstream; any
# other key, or a listed key with options, is refused. A route without
# authorized_keys does not offer publickey; "auth =" narrows the methods;
# an upstream that refuses sshroute's identity is reported as such. The
# upstream's Banner reaches the client.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

# ---------------------------------------------------------------- keys

K=$T/keys
mkdir -p "$K" "$T/ak"
make_key "$K/id_server"               # [server] identity: the default
make_key "$K/id_bob"                  # identity of route srt-bob
make_key "$K/client_ed25519"
make_key "$K/client_ecdsa" ecdsa 256
make_key "$K/client_rsa" rsa 3072
make_key "$K/unlisted"
make_key "$K/opt_from"
make_key "$K/opt_command"
make_key "$K/bob"
make_key "$K/red"
make_key "$K/blue"

# srt-alice's list: comments, blank lines, all key types, a malformed line
# before the ed25519 key, and two keys with options (lines 7 and 8).
{
	echo "# srt-alice's keys"
	echo
	cat "$K/client_rsa.pub"
	echo "   "
	cat "$K/client_ecdsa.pub"
	echo "ssh-ed25519 this-is-not-base64 broken line"
	echo "from=\"127.0.0.0/8\" $(cat "$K/opt_from.pub")"
	echo "command=\"hostname\",no-pty $(cat "$K/opt_command.pub")"
	printf '%s\n' "$(cut -d' ' -f1-2 "$K/client_ed25519.pub") alice@laptop  "
} >"$T/ak/alice"
cat "$K/bob.pub" >"$T/ak/bob"
cat "$K/red.pub" >"$T/ak/srt-team-red.keys"
cat "$K/blue.pub" >"$T/ak/srt-team-blue.keys"
chmod 644 "$T"/ak/*

# ---------------------------------------------------------------- upstreams

BANNER_TEXT="Srt-banner: authorized use only, $RUN_ID"
printf '%s\n' "$BANNER_TEXT" >"$T/banner"

# pubkey_sshd NAME [MORE]: sshd_config lines for an upstream taking keys
# (and passwords, as every upstream here).
pubkey_sshd() {
	printf '%s\n' "PubkeyAuthentication yes" "$(upstream_keys_option "$1")" "${2-}"
}
start_upstream_with alice "${NET}11" 2022 "$(pubkey_sshd alice "Banner $T/banner")"
start_upstream_with bob "${NET}12" 2022 "$(pubkey_sshd bob)"
start_upstream_with carol "${NET}13" 2022 "$(pubkey_sshd carol)"
start_upstream_with team "${NET}21" 2022 "$(pubkey_sshd team)"

add_upstream_key alice srt-alice "$K/id_server.pub"
add_upstream_key bob srt-bob "$K/id_bob.pub"       # only the route's own identity
add_upstream_key carol srt-carol "$K/id_server.pub"
add_upstream_key team srt-team-red "$K/id_server.pub"
add_upstream_key team srt-team-blue "$K/id_server.pub"

{
	known_hosts_entry alice
	known_hosts_entry bob
	known_hosts_entry carol
	known_hosts_entry team
} >"$T/known_hosts"

make_gateway_key
cat >"$T/route.ini" <<INI
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
identity = $K/id_server

[route srt-alice]
upstream = ${NET}11:2022
authorized_keys = $T/ak/alice

; its own identity, and keys only
[route srt-bob]
upstream = ${NET}12:2022
authorized_keys = $T/ak/bob
identity = $K/id_bob
auth = publickey

; no authorized_keys: no publickey, although the upstream takes keys
[route srt-carol]
upstream = ${NET}13:2022

; bob's keys and bob's upstream, but the [server] identity, which bob's
; upstream does not accept
[route srt-dave]
upstream = ${NET}12:2022
user = srt-bob
authorized_keys = $T/ak/bob

[route srt-team-*]
upstream = ${NET}21:2022
authorized_keys = $T/ak/%u.keys
INI
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3

# ---------------------------------------------------------------- helpers

# key_refused CASE USER KEY [SSH ARGS...]: the key does not log in; ssh
# says "Permission denied". Sets REFUSAL to ssh's stderr.
key_refused() {
	local name=$1 user=$2 key=$3 out rc
	shift 3
	out=$(gw_key_ssh gw "$user" "$key" "$@" </dev/null 2>"$T/err")
	rc=$?
	REFUSAL=$(cat "$T/err")
	if [ "$rc" = 255 ] && [ -z "$out" ] && printf '%s' "$REFUSAL" | grep -q 'Permission denied'; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stdout '$out', stderr '$REFUSAL'"
	fi
}

# ---------------------------------------------------------------- listed keys

key_login "listed ed25519 key logs in, on the right host ([server] identity upstream)" \
	srt-alice "$K/client_ed25519" "host-alice srt-alice"
key_login "listed ecdsa key logs in" srt-alice "$K/client_ecdsa" "host-alice srt-alice"
key_login "listed rsa key logs in (rsa-sha2-512)" srt-alice "$K/client_rsa" "host-alice srt-alice" \
	-o PubkeyAcceptedAlgorithms=rsa-sha2-512
key_login "listed rsa key logs in (rsa-sha2-256)" srt-alice "$K/client_rsa" "host-alice srt-alice" \
	-o PubkeyAcceptedAlgorithms=rsa-sha2-256
key_login "route identity overrides [server] identity" srt-bob "$K/bob" "host-bob srt-bob"

if grep -q 'Accepted publickey for srt-alice' "${UP_DIR[alice]}/sshd.log" &&
	! grep -q 'password for srt-alice' "${UP_DIR[alice]}/sshd.log"; then
	ok "upstream saw sshroute's key, not a password"
else
	not_ok "upstream saw sshroute's key, not a password" \
		"$(grep -E 'Accepted|password' "${UP_DIR[alice]}/sshd.log" | tail -n 3)"
fi

# ---------------------------------------------------------------- refused keys

key_refused "unlisted key is refused" srt-alice "$K/unlisted"
key_refused "key listed with from= is refused" srt-alice "$K/opt_from"
key_refused "key listed with command= is refused" srt-alice "$K/opt_command"
check_log_line "a key refused for its options is logged (file and line)" "${GW_LOG[gw]}" \
	"$T/ak/alice:7" option
key_refused "key of another route is refused" srt-alice "$K/bob"
key_refused "no route: a key is refused" srt-nobody "$K/client_ed25519"

# %u in authorized_keys: each team member's own file.
key_login "%u in authorized_keys: srt-team-red's key" srt-team-red "$K/red" "host-team srt-team-red"
key_login "%u in authorized_keys: srt-team-blue's key" srt-team-blue "$K/blue" "host-team srt-team-blue"
key_refused "%u in authorized_keys: srt-team-red's key does not open srt-team-blue" \
	srt-team-blue "$K/red"
# A team name without a key file: refused, like an unlisted key.
key_refused "%u in authorized_keys: a name without a key file is refused" srt-team-green "$K/red"

# max_auth_tries counts refused keys too: with 2, a client offering two
# unlisted keys before the listed one is cut off.
sed 's/^\[server\]$/[server]\nmax_auth_tries = 2/' "$T/route.ini" >"$T/tries.ini"
start_gateway tries "${NET}1" 2223 "$T/tries.ini" fd3
out=$(LOGLEVEL=INFO gw_key_ssh tries srt-alice "$K/unlisted" -i "$K/opt_from" -i "$K/client_ed25519" \
	</dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 255 ] && [ -z "$out" ] && grep -q 'Too many authentication failures' "$T/err"; then
	ok "max_auth_tries = 2: two refused keys end the connection"
else
	not_ok "max_auth_tries = 2: two refused keys end the connection" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
fi

# ---------------------------------------------------------------- methods offered

# Before a credential every name is offered the server's methods (issue
# 12): here publickey, keyboard-interactive and password.
SERVER_METHODS=publickey,keyboard-interactive,password

# srt-carol: no authorized_keys, although the upstream takes keys. Her key
# is refused as an unlisted one; her password then works.
out=$(LOGLEVEL=DEBUG SRT_PASSWORD=${PASSWORD[srt-carol]} gw_ssh_auth gw srt-carol \
	-i "$K/client_ed25519" -o PubkeyAuthentication=yes -o PasswordAuthentication=yes \
	-o KbdInteractiveAuthentication=no </dev/null 2>"$T/err")
rc=$?
first=$(auth_lists "$(cat "$T/err")" | head -n 1)
if [ "$rc" = 0 ] && [ "$out" = host-carol ] && [ "$first" = "$SERVER_METHODS" ] &&
	grep -q 'Offering public key' "$T/err"; then
	ok "route without authorized_keys: the key is refused, password works"
else
	not_ok "route without authorized_keys: the key is refused, password works" \
		"exit $rc, stdout '$out', first method list '$first', keys offered: $(grep -c 'Offering public key' "$T/err")"
fi
key_refused "route without authorized_keys: a key-only client is refused" srt-carol "$K/client_ed25519"
expect_match "route without authorized_keys: the refusal lists the server's methods" \
	"Permission denied \\($SERVER_METHODS\\)\\." "$REFUSAL"

# No route: the same methods as anyone.
out=$(LOGLEVEL=DEBUG gw_key_ssh gw srt-nobody "$K/client_ed25519" </dev/null 2>&1)
expect_eq "no route: the server's methods offered" "$SERVER_METHODS" \
	"$(auth_lists "$out" | sort -u | tr '\n' ' ' | sed 's/ $//')"

# No route and a wrong password: the same answer after the same delay.
# timed_refusal USER PASSWORD: "SECONDS MESSAGE" of a failed password login.
timed_refusal() {
	local t0 t1
	t0=$(date +%s%N)
	PW=$2 gw_ssh gw "$1" hostname </dev/null >/dev/null 2>"$T/err"
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) $(grep -o 'Permission denied.*' "$T/err" | tr -d '\r')"
}
wrong=$(timed_refusal srt-carol "$WRONG_PASSWORD")
noroute=$(timed_refusal srt-nobody "${PASSWORD[srt-alice]}")
# (after a credential a routed user sees what the upstream narrows the
# methods to; a name without a route keeps the server's)
expect_eq "no route and a password: refused with the server's methods" \
	"Permission denied ($SERVER_METHODS)." "${noroute#* }"
ms_wrong=${wrong%% *} ms_noroute=${noroute%% *}
diff_ms=$((ms_wrong > ms_noroute ? ms_wrong - ms_noroute : ms_noroute - ms_wrong))
if [ "$ms_wrong" -ge 1500 ] && [ "$ms_noroute" -ge 1500 ] && [ "$diff_ms" -le 1000 ]; then
	ok "no route and wrong password: the same delay"
else
	not_ok "no route and wrong password: the same delay" \
		"wrong password ${ms_wrong} ms, no route ${ms_noroute} ms"
fi

# srt-bob: auth = publickey. A password is refused without reaching the
# upstream, after the failure delay.
out=$(LOGLEVEL=DEBUG SRT_PASSWORD=${PASSWORD[srt-bob]} gw_ssh_auth gw srt-bob \
	-o PubkeyAuthentication=no -o PasswordAuthentication=yes -o KbdInteractiveAuthentication=no \
	</dev/null 2>"$T/err")
rc=$?
lists=$(auth_lists "$(cat "$T/err")" | sort -u | tr '\n' ' ' | sed 's/ $//')
if [ "$rc" = 255 ] && [ -z "$out" ] && [ "$lists" = "$SERVER_METHODS" ] &&
	grep -q 'Permission denied' "$T/err"; then
	ok "auth = publickey: a password client is refused"
else
	not_ok "auth = publickey: a password client is refused" \
		"exit $rc, stdout '$out', method lists '$lists', $(grep 'Permission denied' "$T/err")"
fi
if grep -q 'password for srt-bob' "${UP_DIR[bob]}/sshd.log"; then
	not_ok "auth = publickey: no password reaches the upstream" \
		"$(grep 'password for' "${UP_DIR[bob]}/sshd.log" | head -n 1)"
else
	ok "auth = publickey: no password reaches the upstream"
fi

# ---------------------------------------------------------------- identity refused

key_refused_upstream "upstream refuses the identity: the client is told so" srt-dave "$K/bob"
check_log_line "upstream refuses the identity: the log names identity and route" "${GW_LOG[gw]}" \
	"error" "$K/id_server" "srt-dave"

# ---------------------------------------------------------------- banner

out=$(LOGLEVEL=INFO gw_key_ssh gw srt-alice "$K/client_ed25519" </dev/null 2>"$T/err")
if [ "$out" = host-alice ] && grep -qF "$BANNER_TEXT" "$T/err"; then
	ok "the upstream's banner reaches the client"
else
	not_ok "the upstream's banner reaches the client" "stdout '$out', stderr '$(cat "$T/err")'"
fi
out=$(LOGLEVEL=INFO SRT_PASSWORD=${PASSWORD[srt-carol]} gw_ssh_auth gw srt-carol \
	-o PubkeyAuthentication=no -o PasswordAuthentication=yes </dev/null 2>"$T/err")
if [ "$out" = host-carol ] && ! grep -qF "$BANNER_TEXT" "$T/err"; then
	ok "no banner from an upstream without one"
else
	not_ok "no banner from an upstream without one" "stdout '$out', stderr '$(cat "$T/err")'"
fi

# ---------------------------------------------------------------- identity file mode

cp "$K/id_server" "$K/id_open" && chmod 644 "$K/id_open"
sed "s|^identity = $K/id_server\$|identity = $K/id_open|" "$T/route.ini" >"$T/open.ini"
out=$("$SSHROUTE" -t -f "$T/open.ini" 2>&1)
rc=$?
if [ "$rc" = 3 ] && printf '%s' "$out" | grep -q 'open\.ini:4:'; then
	ok "a group/world-readable identity is refused (sshroute -t)"
else
	not_ok "a group/world-readable identity is refused (sshroute -t)" "exit $rc, output '$out'"
fi

check_no_passwords "no password in the log" "${GW_LOG[gw]}" "${GW_LOG[tries]}"
check_no_leftovers "no sshroute process left after the sessions" gw tries

[ "$N_NOT_OK" = 0 ] || show_log gw 30
finish
