#!/bin/bash
# Clients other than OpenSSH through sshroute (issue 3): dropbear's dbclient,
# PuTTY's plink and paramiko log in by password, by public key (mapped to
# sshroute's identity upstream) and by keyboard-interactive (a PAM
# upstream), and run `hostname` on the routed host. Each checks sshroute's
# host key: dbclient against its known_hosts, plink with -hostkey, paramiko
# against client_known_hosts.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

PY=/usr/bin/python3
PARAMIKO=$SRT_ROOT/tests/helpers/paramiko_client.py
for tool in dbclient dropbearconvert plink puttygen; do
	command -v "$tool" >/dev/null || die "$tool is not installed (Debian: dropbear-bin, putty-tools)"
done
"$PY" -c 'import paramiko' 2>/dev/null || die "paramiko is not installed (Debian: python3-paramiko)"

# ---------------------------------------------------------------- keys

K=$T/keys
mkdir -p "$K" "$T/ak"
make_key "$K/id_server"
make_key "$K/ed25519"
make_key "$K/ecdsa" ecdsa 256
make_key "$K/rsa" rsa 3072
make_key "$K/unlisted"
cat "$K/ed25519.pub" "$K/ecdsa.pub" "$K/rsa.pub" >"$T/ak/alice"
chmod 644 "$T/ak/alice"
for k in ed25519 rsa unlisted; do
	dropbearconvert openssh dropbear "$K/$k" "$K/$k.dropbear" >/dev/null 2>&1 ||
		die "dropbearconvert $k"
	puttygen "$K/$k" -O private -o "$K/$k.ppk" >/dev/null 2>&1 || die "puttygen $k"
done

# ---------------------------------------------------------------- upstreams

start_upstream_with alice "${NET}11" 2022 "PubkeyAuthentication yes
$(upstream_keys_option alice)"
add_upstream_key alice srt-alice "$K/id_server.pub"
start_upstream_with pam "${NET}12" 2022 "UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no"
{
	known_hosts_entry alice
	known_hosts_entry pam
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

; keyboard-interactive (PAM) only
[route srt-bob]
upstream = ${NET}12:2022
INI
start_gateway gw "${NET}1" 2222 "$T/route.ini" fd3
GA=${GW_ADDR[gw]} GP=${GW_PORT[gw]}

# dbclient reads $HOME/.ssh/known_hosts, where dropbear 2022 names a host
# without its port; plink keeps its state under $HOME/.putty.
CH=$T/client-home
mkdir -p "$CH/.ssh"
chmod 700 "$CH/.ssh"
echo "$GA $(cut -d' ' -f1-2 "$GW_KEY.pub")" >"$CH/.ssh/known_hosts"
GW_FP=$(ssh-keygen -l -E sha256 -f "$GW_KEY.pub" | awk '{print $2}')

# ---------------------------------------------------------------- clients

# Each prints the remote command's stdout; stderr goes to $T/err.
db() {  # db USER [DBCLIENT ARGS...]
	local user=$1
	shift
	HOME=$CH timeout -k 5 "$CLIENT_TIMEOUT" dbclient -T -p "$GP" -l "$user" "$@" "$GA" hostname \
		</dev/null 2>"$T/err"
}
pl() {  # pl USER [PLINK ARGS...]
	local user=$1
	shift
	HOME=$CH timeout -k 5 "$CLIENT_TIMEOUT" plink -ssh -batch -noagent -hostkey "$GW_FP" \
		-P "$GP" -l "$user" "$@" "$GA" hostname </dev/null 2>"$T/err"
}
pm() {  # pm USER [METHOD...]  (see tests/helpers/paramiko_client.py)
	local user=$1
	shift
	timeout -k 5 "$CLIENT_TIMEOUT" "$PY" "$PARAMIKO" "$GA" "$GP" "$user" "$T/client_known_hosts" \
		"$@" hostname </dev/null 2>"$T/err"
}

# with VAR=VALUE COMMAND...: COMMAND (a function too) with VAR in its
# environment.
with() {
	local -x "$1"
	shift
	"$@"
}

# lands CASE EXPECTED_HOST COMMAND...: COMMAND prints EXPECTED_HOST, exit 0.
lands() {
	local name=$1 want=$2 out rc
	shift 2
	out=$("$@")
	rc=$?
	if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
}

# refused CASE COMMAND...: COMMAND fails and prints nothing.
refused() {
	local name=$1 out rc
	shift
	out=$("$@")
	rc=$?
	if [ "$rc" != 0 ] && [ -z "$out" ]; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
	fi
}

APW=${PASSWORD[srt-alice]}
BPW=${PASSWORD[srt-bob]}

lands "dbclient: password" host-alice with DROPBEAR_PASSWORD="$APW" db srt-alice
lands "dbclient: ed25519 key" host-alice db srt-alice -i "$K/ed25519.dropbear"
lands "dbclient: rsa key" host-alice db srt-alice -i "$K/rsa.dropbear"
# dbclient cannot be kept from trying passwords after the key (and exits
# 0 when disconnected): a gateway with max_auth_tries = 1 ends the
# connection at the refused key.
sed 's/^\[server\]$/[server]\nmax_auth_tries = 1/' "$T/route.ini" >"$T/strict.ini"
start_gateway strict "${NET}1" 2223 "$T/strict.ini" fd3
out=$(GP=${GW_PORT[strict]} with DROPBEAR_PASSWORD="$WRONG_PASSWORD" db srt-alice -i "$K/unlisted.dropbear")
rc=$?
if [ -z "$out" ] && grep -q 'failed publickey (.* user="srt-alice"\]$' "${GW_LOG[strict]}" &&
	! grep -q 'password (.* user="srt-alice"\]$' "${GW_LOG[strict]}"; then
	ok "dbclient: unlisted key refused"
else
	not_ok "dbclient: unlisted key refused" "exit $rc, stdout '$out', stderr '$(cat "$T/err")'"
fi
lands "dbclient: keyboard-interactive (PAM)" host-pam with DROPBEAR_PASSWORD="$BPW" db srt-bob

lands "plink: password" host-alice pl srt-alice -pw "$APW"
lands "plink: ed25519 key" host-alice pl srt-alice -i "$K/ed25519.ppk"
lands "plink: rsa key" host-alice pl srt-alice -i "$K/rsa.ppk"
refused "plink: unlisted key refused" pl srt-alice -i "$K/unlisted.ppk"
refused "plink: wrong password refused" pl srt-alice -pw "$WRONG_PASSWORD"
lands "plink: keyboard-interactive (PAM)" host-pam pl srt-bob -pw "$BPW"

lands "paramiko: password" host-alice pm srt-alice --password "$APW"
lands "paramiko: ed25519 key" host-alice pm srt-alice --key "$K/ed25519"
lands "paramiko: ecdsa key" host-alice pm srt-alice --key "$K/ecdsa"
lands "paramiko: rsa key" host-alice pm srt-alice --key "$K/rsa"
refused "paramiko: unlisted key refused" pm srt-alice --key "$K/unlisted"
refused "paramiko: wrong password refused" pm srt-alice --password "$WRONG_PASSWORD"
lands "paramiko: keyboard-interactive (PAM)" host-pam with SRT_PASSWORD="$BPW" pm srt-bob --kbdint

# Every key login above went upstream with sshroute's identity.
n_keys=$(grep -c 'Accepted publickey for srt-alice' "${UP_DIR[alice]}/sshd.log")
expect_eq "the upstream saw sshroute's identity for every key login" 7 "$n_keys"

check_no_passwords "no password in the log" "${GW_LOG[gw]}" "${GW_LOG[strict]}"
check_no_leftovers "no sshroute process left after the sessions" gw strict

[ "$N_NOT_OK" = 0 ] || show_log gw 30
finish
