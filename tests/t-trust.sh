#!/bin/bash
# What sshroute trusts: key files only under sshd's StrictModes rule (an
# authorized_keys below a group-writable directory opens nothing), the
# @revoked lines of known_hosts (plain and hashed host names; a revoked
# upstream key is refused as a changed one is), @cert-authority reported as
# not supported, a line of a key type libssh cannot read (OpenSSH 10.1's
# ssh-mldsa44-ed25519, as ssh-keyscan lists it) hides none of the host's
# other lines, and %u never expanded to a name starting with "-".

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

# ---------------------------------------------------------------- keys and upstreams

K=$T/keys
mkdir -p "$K" "$T/ak"
make_key "$K/id_server"
make_key "$K/alice"
cat "$K/alice.pub" >"$T/ak/srt-alice"
chmod 644 "$T/ak/srt-alice"

start_upstream_with alice "${NET}11" 2022 \
	"$(printf '%s\n' 'PubkeyAuthentication yes' "$(upstream_keys_option alice)")"
start_upstream bob "${NET}12" 2022
start_upstream carol "${NET}13" 2022
start_upstream dave "${NET}14" 2022
start_upstream erin "${NET}15" 2022
add_upstream_key alice srt-alice "$K/id_server.pub"

# host_key_of NAME: the key part of upstream NAME's host key line.
host_key_of() {
	cut -d' ' -f1-2 "${UP_DIR[$1]}/ssh_host_ed25519_key.pub"
}

# carol's @revoked line names her by a hashed host name, as ssh-keygen -H
# writes it (ssh-keygen leaves marker lines alone, so hash a plain line).
known_hosts_entry carol >"$T/carol_hashed"
ssh-keygen -q -H -f "$T/carol_hashed" >/dev/null 2>&1 || die "ssh-keygen -H"
{
	known_hosts_entry alice
	known_hosts_entry bob
	known_hosts_entry carol
	echo "@revoked [${NET}11]:2099 $(host_key_of alice)"   # another port: not alice's
	echo "@revoked [${NET}12]:2022 $(host_key_of bob)"
	echo "@revoked $(cut -d' ' -f1 "$T/carol_hashed") $(host_key_of carol)"
} >"$T/known_hosts"
BOB_LINE=5 CAROL_LINE=6
# A key of a type that no libssh reads: ssh-keyscan of OpenSSH 10.1 and
# later lists an ML-DSA hybrid host key (this one is made up), before or
# after the host's other keys. dave's own line is hashed, as with
# HashKnownHosts; erin has no line of a type libssh reads.
pq_key="ssh-mldsa44-ed25519 $(head -c 1344 /dev/urandom | base64 -w 0)"
known_hosts_entry dave >"$T/dave_hashed"
ssh-keygen -q -H -f "$T/dave_hashed" >/dev/null 2>&1 || die "ssh-keygen -H"
{
	echo "[${NET}14]:2022 $pq_key"
	cat "$T/dave_hashed"
	echo "[${NET}14]:2022 $pq_key"
	echo "[${NET}15]:2022 $pq_key"
} >>"$T/known_hosts"
ERIN_LINE=$(wc -l <"$T/known_hosts")

make_gateway_key
cat >"$T/route.ini" <<INI
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
identity = $K/id_server

[route srt-alice]
upstream = ${NET}11:2022
authorized_keys = $T/ak/%u

[route srt-bob]
upstream = ${NET}12:2022

[route srt-carol]
upstream = ${NET}13:2022

[route srt-team-red]
upstream = ${NET}14:2022

[route srt-team-blue]
upstream = ${NET}15:2022

; the only route for names starting with "-", and it uses %u
[route -*]
upstream = ${NET}11:2022
user = srt-%u
INI
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3

# run_sshroute ARGS...: sets RC, OUT (stdout) and ERR (stderr).
run_sshroute() {
	OUT=$(timeout -k 5 20 "$SSHROUTE" "$@" </dev/null 2>"$T/stderr")
	RC=$?
	ERR=$(cat "$T/stderr")
}

run_sshroute -t -f "$T/route.ini"
expect_eq "-t: the test's own files pass the StrictModes rule" "0 configuration OK" "$RC $OUT"

# ---------------------------------------------------------------- @revoked

UNAVAILABLE='sshroute: the server for this account is unavailable'

# unavailable USER CASE: the login ends with sshroute's disconnect message.
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

unavailable srt-bob "@revoked host key: the client is told the server is unavailable"
line=$(log_line 10 "${GW_LOG[gw]}" "presented a REVOKED host key") ||
	line="(none)"
expect_match "@revoked host key: logged with upstream, file and line" \
	"upstream ${NET}12 port 2022 presented a REVOKED host key \\(listed @revoked in $T/known_hosts line $BOB_LINE; ssh-ed25519 key SHA256:" \
	"$line"
unavailable srt-carol "@revoked with a hashed host name: refused too"
line=$(log_line 10 "${GW_LOG[gw]}" "upstream ${NET}13 port 2022 presented a REVOKED") || line="(none)"
expect_match "@revoked with a hashed host name: logged with its line" \
	"listed @revoked in $T/known_hosts line $CAROL_LINE" "$line"
if grep -q "Accepted" "${UP_DIR[bob]}/sshd.log" "${UP_DIR[carol]}/sshd.log"; then
	not_ok "a revoked upstream gets no credentials" "$(grep Accepted "${UP_DIR[bob]}/sshd.log")"
else
	ok "a revoked upstream gets no credentials"
fi

# ---------------------------------------------------------------- key types libssh cannot read

out=$(gw_ssh gw srt-team-red hostname </dev/null 2>"$T/err")
expect_eq "ssh-mldsa44-ed25519 lines before and after the host's own (hashed): the login works" \
	host-dave "$out"
unavailable srt-team-blue "only an ssh-mldsa44-ed25519 line for the host: refused"
line=$(log_line 10 "${GW_LOG[gw]}" "upstream ${NET}15 port 2022 showed a") || line="(none)"
expect_match "only keys of another type: logged with file and line" \
	"holds keys of other types only for it \\(line $ERIN_LINE\\): POSSIBLE MAN-IN-THE-MIDDLE" "$line"
if grep -q "Accepted" "${UP_DIR[erin]}/sshd.log"; then
	not_ok "an upstream of unknown key gets no credentials" "$(grep Accepted "${UP_DIR[erin]}/sshd.log")"
else
	ok "an upstream of unknown key gets no credentials"
fi

# ---------------------------------------------------------------- StrictModes at login

# key_login CASE: srt-alice's key logs in (true) or is refused (false).
alice_key_login() {
	local out
	# shellcheck disable=SC2016
	out=$(SRT_CMD='echo "$(hostname) $(whoami)"' gw_key_ssh gw srt-alice "$K/alice" </dev/null 2>"$T/err")
	[ "$out" = "host-alice srt-alice" ]
}

if alice_key_login; then
	ok "trusted authorized_keys: the key logs in (@revoked for another port does not apply)"
else
	not_ok "trusted authorized_keys: the key logs in" "stderr '$(cat "$T/err")'"
fi
chmod 775 "$T/ak"
if alice_key_login; then
	not_ok "authorized_keys in a group-writable directory: the key is refused" "it logged in"
else
	ok "authorized_keys in a group-writable directory: the key is refused"
fi
chmod 755 "$T/ak"
line=$(log_line 10 "${GW_LOG[gw]}" "authorized_keys $T/ak/srt-alice: directory $T/ak is writable by group or others; chmod go-w $T/ak; no key in it is accepted") ||
	line=
if [ -n "$line" ]; then
	ok "the refused authorized_keys is logged with the fix"
else
	not_ok "the refused authorized_keys is logged with the fix" "$(tail -n 5 "${GW_LOG[gw]}")"
fi

# ---------------------------------------------------------------- %u and "-"

# OpenSSH's ssh refuses such a user name itself: paramiko sends it.
out=$(timeout -k 5 "$CLIENT_TIMEOUT" "$SRT_ROOT/tests/helpers/paramiko_client.py" "${NET}1" 2222 \
	-oProxyCommand "$T/client_known_hosts" --password x hostname </dev/null 2>"$T/err")
rc=$?
if [ "$rc" = 5 ] && [ -z "$out" ] &&
	log_line 10 "${GW_LOG[gw]}" "no route for this user" 'user="-oProxyCommand"' >/dev/null; then
	ok "user -oProxyCommand: no route, although [route -*] matches (it uses %u)"
else
	not_ok "user -oProxyCommand gets no route" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
fi

# ---------------------------------------------------------------- -t

# A key file below a world-writable directory, even a sticky one like /tmp.
mkdir -m 1777 "$T/open"
cp "$K/id_server" "$T/open/id"
sed "s|^identity = .*|identity = $T/open/id|" "$T/route.ini" >"$T/open.ini"
run_sshroute -t -f "$T/open.ini"
expect_match "-t: an identity in a sticky world-writable directory is an error with its line" \
	"^3 $T/open.ini:4: identity $T/open/id: directory $T/open is writable by group or others" \
	"$RC $ERR"

{
	cat "$T/known_hosts"
	echo "@cert-authority *.example.net $(host_key_of alice)"
} >"$T/known_hosts_ca"
CA_LINE=$(wc -l <"$T/known_hosts_ca")
sed "s|^known_hosts = .*|known_hosts = $T/known_hosts_ca|" "$T/route.ini" >"$T/ca.ini"
run_sshroute -t -f "$T/ca.ini"
expect_match "-t: @cert-authority in known_hosts is reported as not supported, with file and line" \
	"^3 $T/ca.ini:3: known_hosts $T/known_hosts_ca line $CA_LINE: @cert-authority lines are not supported" \
	"$RC $ERR"

# One loose authorized_keys (world-writable, as a file's mode can become
# without any edit of route.ini) refuses its own keys, not everybody.
cp "$K/alice.pub" "$T/loose_ak"
chmod 666 "$T/loose_ak"
{
	cat "$T/route.ini"
	printf '%s\n' "" "[route srt-loose]" "upstream = ${NET}11:2022" "authorized_keys = $T/loose_ak"
} >"$T/loose.ini"
run_sshroute -t -f "$T/loose.ini"
expect_eq "-t: a world-writable authorized_keys leaves the configuration usable" \
	"0 configuration OK" "$RC $OUT"
expect_contains "-t: ... and warns, with the path and the fix" "$ERR" \
	"warning: [route srt-loose] authorized_keys $T/loose_ak: file $T/loose_ak is writable by group or others; chmod go-w $T/loose_ak"
start_gateway loose "${NET}2" 2222 "$T/loose.ini" fd3
out=$(gw_ssh loose srt-team-red hostname </dev/null 2>"$T/err")
expect_eq "a world-writable authorized_keys on one route: another route's user logs in" host-dave "$out"

check_no_leftovers "no sshroute process left" gw loose
finish
