#!/bin/bash
# Short-lived upstream certificates (issue 15): on a route with
# certificate_authority, a client who logs in with a listed key is logged in
# upstream with a fresh key and a user certificate signed by sshroute's CA.
# Real sshd upstreams with TrustedUserCAKeys accept it; an
# AuthorizedPrincipalsCommand with %k captures each certificate, and
# ssh-keygen -L shows what it says. An upstream that does not trust the CA
# refuses, with the message of a refused identity. A lookup answer may only
# choose an identity that route.ini names.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

# ---------------------------------------------------------------- keys

K=$T/keys
mkdir -p "$K" "$T/ak" "$T/etc"
make_key "$K/id_server"
make_key "$K/alice"
make_key "$K/bob"
make_key "$K/red"
make_key "$K/blue"
# The CAs. [server]'s is named relative to route.ini, as host_key may be.
make_key "$T/etc/ca_ed25519"
make_key "$K/ca_ecdsa" ecdsa 384
make_key "$K/ca_rsa" rsa 3072
for u in alice bob red blue; do cat "$K/$u.pub" >"$T/ak/$u"; done
chmod 644 "$T"/ak/*

# ---------------------------------------------------------------- upstreams

# principals: sshd's AuthorizedPrincipalsCommand. It keeps every
# certificate it is shown (%t %k) and allows the account's own name. sshd
# runs it only when it and its directories belong to root and nobody else
# may write to them.
mkdir -p "$T/bin"
chmod 755 "$T/bin"
# shellcheck disable=SC2016
printf '%s\n' '#!/bin/sh' "printf '%s %s\\n' \"\$2\" \"\$3\" >>$T/seen_certs" 'echo "$1"' \
	>"$T/bin/principals"
chmod 755 "$T/bin/principals"
cat "$T/etc/ca_ed25519.pub" "$K/ca_ecdsa.pub" "$K/ca_rsa.pub" >"$T/trusted_cas"

# trusting: the upstream takes certificates of sshroute's CAs, and nothing
# else (no authorized_keys at all).
start_upstream_with trusting "${NET}11" 2022 "$(printf '%s\n' "PubkeyAuthentication yes" \
	"TrustedUserCAKeys $T/trusted_cas" "AuthorizedPrincipalsCommand $T/bin/principals %u %t %k" \
	"AuthorizedPrincipalsCommandUser root" "LogLevel VERBOSE")"
# plain: keys in authorized_keys only; sshroute's identity is listed there.
start_upstream_with plain "${NET}12" 2022 "$(printf '%s\n' "PubkeyAuthentication yes" \
	"$(upstream_keys_option plain)")"
add_upstream_key plain srt-carol "$K/id_server.pub"
add_upstream_key plain srt-team-red "$K/id_server.pub"

# dropbear and tinysshd take no certificates: routes to them use an
# identity. Both read ~/.ssh/authorized_keys, so each runs in a mount
# namespace where srt-carol's home is a directory of this run.
mkdir -p "$T/home-carol/.ssh"
cp "$K/id_server.pub" "$T/home-carol/.ssh/authorized_keys"
chown -R srt-carol: "$T/home-carol"
chmod 700 "$T/home-carol" "$T/home-carol/.ssh"
chmod 600 "$T/home-carol/.ssh/authorized_keys"

# in_carols_home NAME CMD...: CMD as host "host-NAME", in srt-carol's home.
in_carols_home() {
	local name=$1
	shift
	# shellcheck disable=SC2016
	unshare --uts --mount sh -c 'hostname "$0" && mount --bind "$1" ~srt-carol && shift && exec "$@"' \
		"host-$name" "$T/home-carol" "$@"
}

start_other_upstream() {
	local name=$1 addr=$2 pid
	shift 2
	mkdir -p "$T/up-$name"
	in_carols_home "$name" "$@" </dev/null >>"$T/up-$name/log" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_listening "$addr" 2022 "$pid" || die "$name on $addr: $(tail -n 5 "$T/up-$name/log")"
}
mkdir -p "$T/up-dropbear"
dropbearkey -t ed25519 -f "$T/up-dropbear/host_key" >/dev/null 2>&1 || die "dropbearkey"
start_other_upstream dropbear "${NET}13" dropbear -F -E -p "${NET}13:2022" -r "$T/up-dropbear/host_key" \
	-P "$T/up-dropbear/pid"
tinysshd-makekey "$T/tinysshd-keys" >/dev/null || die "tinysshd-makekey"
start_other_upstream tinysshd "${NET}14" systemd-socket-activate -l "${NET}14:2022" -a --inetd \
	tinysshd -v "$T/tinysshd-keys"

{
	known_hosts_entry trusting
	known_hosts_entry plain
	echo "[${NET}13]:2022 $(dropbearkey -y -f "$T/up-dropbear/host_key" | grep '^ssh-ed25519' | cut -d' ' -f1-2)"
	echo "[${NET}14]:2022 $(tinysshd-printkey "$T/tinysshd-keys" | grep '^ssh-ed25519' | cut -d' ' -f1-2)"
} >"$T/known_hosts"

make_gateway_key
# an answer of the lookup route: its identity is the gateway's host key
printf '%s\n' '#!/bin/sh' "echo 'upstream = ${NET}12:2022'" "echo 'identity = $GW_KEY'" \
	>"$T/bin/lookup-hostkey"
printf '%s\n' '#!/bin/sh' "echo 'upstream = ${NET}12:2022'" "echo 'identity = $K/id_server'" \
	"echo 'authorized_keys = $T/ak/alice'" >"$T/bin/lookup-named"
chmod 755 "$T/bin/lookup-hostkey" "$T/bin/lookup-named"

cat >"$T/etc/route.ini" <<INI
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
identity = $K/id_server
certificate_authority = ca_ed25519

; [server]'s CA wins over [server]'s identity; alice logs in upstream as srt-bob
[route srt-alice]
upstream = ${NET}11:2022
user = srt-bob
authorized_keys = $T/ak/alice

; the route's own CA and validity
[route srt-bob]
upstream = ${NET}11:2022
authorized_keys = $T/ak/bob
certificate_authority = $K/ca_ecdsa
certificate_validity = 600

; an upstream that does not trust the CA
[route srt-carol]
upstream = ${NET}12:2022
authorized_keys = $T/ak/alice

; the route's own identity wins over [server]'s CA
[route srt-team-red]
upstream = ${NET}12:2022
authorized_keys = $T/ak/red
identity = $K/id_server

; an RSA CA (it signs with rsa-sha2-512); no port or agent forwarding
[route srt-team-blue]
upstream = ${NET}11:2022
authorized_keys = $T/ak/blue
certificate_authority = $K/ca_rsa
allow_tcp_forwarding = no
allow_agent_forwarding = no

; dropbear and tinysshd: the [server] CA (refused), and an identity
[route db-cert]
upstream = ${NET}13:2022
user = srt-carol
authorized_keys = $T/ak/alice

[route db-identity]
upstream = ${NET}13:2022
user = srt-carol
authorized_keys = $T/ak/alice
identity = $K/id_server

[route tiny-cert]
upstream = ${NET}14:2022
user = srt-carol
authorized_keys = $T/ak/alice

[route tiny-identity]
upstream = ${NET}14:2022
user = srt-carol
authorized_keys = $T/ak/alice
identity = $K/id_server

[route look-hostkey]
lookup = $T/bin/lookup-hostkey

[route look-named]
lookup = $T/bin/lookup-named
INI
chmod 600 "$T/etc/ca_ed25519"
start_gateway gw "${NET}1" 2222 "$T/etc/route.ini" fd3

# ---------------------------------------------------------------- helpers

# last_cert: ssh-keygen -L of the certificate the trusting upstream saw last.
last_cert() {
	tail -n 1 "$T/seen_certs" 2>/dev/null >"$T/last-cert.pub"
	TZ=UTC ssh-keygen -L -f "$T/last-cert.pub" 2>&1
}

# validity_seconds LISTING: valid-before minus valid-after.
validity_seconds() {
	local from to
	read -r from to < <(printf '%s\n' "$1" | sed -n 's/^ *Valid: from \([^ ]*\) to \([^ ]*\)$/\1 \2/p')
	echo $(($(date -u -d "$to" +%s) - $(date -u -d "$from" +%s)))
}

# record_field NAME: a field of the last session record in the gateway's log.
record_field() {
	grep 'session end' "${GW_LOG[gw]}" | tail -n 1 | sed -n "s/.* $1=\\(\"[^\"]*\"\\|[^ ]*\\).*/\\1/p" |
		tr -d '"'
}

# ---------------------------------------------------------------- logins with certificates

# The client comes from its own address, so that the key ID's address and
# source-address (sshroute's, towards the upstream) differ.
key_login "CA: a listed key logs in upstream with a certificate" srt-alice "$K/alice" \
	"host-trusting srt-bob" -o BindAddress="${NET}77"
listing=$(last_cert)
client=$(record_field client_addr)
port=$(record_field client_port)
upstream_from=$(sed -n 's/.*Accepted publickey for srt-bob from \([^ ]*\) port.*/\1/p' \
	"${UP_DIR[trusting]}/sshd.log" | tail -n 1)
expect_contains "certificate: one principal, the upstream user" "$listing" \
	$'Principals: \n                srt-bob\n        Critical'
expect_contains "certificate: the key ID names the client, its address and port, and the route" \
	"$listing" "Key ID: \"sshroute user=srt-alice from=$client port=$port route=srt-alice\""
expect_contains "certificate: source-address is the gateway's address as the upstream sees it" \
	"$listing" "source-address $upstream_from"
expect_eq "the key ID has the client's own address" "$client" "${NET}77"
if [ -n "$upstream_from" ] && [ "$upstream_from" != "$client" ]; then
	ok "the upstream sees the gateway's address, not the client's"
else
	not_ok "the upstream sees the gateway's address, not the client's" "'$upstream_from'"
fi
expect_contains "certificate: signed by [server]'s CA" "$listing" \
	"Signing CA: ED25519 $(ssh-keygen -l -f "$T/etc/ca_ed25519.pub" | cut -d' ' -f2)"
expect_contains "certificate: OpenSSH's default extensions" "$listing" \
	$'permit-X11-forwarding\n                permit-agent-forwarding\n                permit-port-forwarding\n                permit-pty\n                permit-user-rc'
expect_eq "certificate: valid 60 s before to 120 s after (the default)" "$(validity_seconds "$listing")" 180
serial=$(printf '%s\n' "$listing" | sed -n 's/^ *Serial: //p')
expect_eq "session record: cert_serial is the certificate's" "$(record_field cert_serial)" "$serial"
expect_eq "session record: cert_key_id" "$(record_field cert_key_id)" \
	"sshroute user=srt-alice from=$client port=$port route=srt-alice"
check_log_line "the upstream's log names the person behind the login" "${UP_DIR[trusting]}/sshd.log" \
	"Accepted publickey for srt-bob" "ED25519-CERT" "ID sshroute user=srt-alice from=$client"

key_login "CA: the route's own ecdsa CA" srt-bob "$K/bob" "host-trusting srt-bob"
listing=$(last_cert)
expect_contains "certificate: signed by the route's ECDSA CA" "$listing" \
	"Signing CA: ECDSA $(ssh-keygen -l -f "$K/ca_ecdsa.pub" | cut -d' ' -f2)"
expect_eq "certificate_validity = 600 is honoured" "$(validity_seconds "$listing")" 660
serial2=$(printf '%s\n' "$listing" | sed -n 's/^ *Serial: //p')
if [ -n "$serial2" ] && [ "$serial2" != "$serial" ]; then ok "each certificate has its own serial"
else not_ok "each certificate has its own serial" "$serial and $serial2"; fi

key_login "CA: an RSA CA" srt-team-blue "$K/blue" "host-trusting srt-team-blue"
listing=$(last_cert)
expect_contains "certificate: signed by the RSA CA with rsa-sha2-512" "$listing" \
	"Signing CA: RSA $(ssh-keygen -l -f "$K/ca_rsa.pub" | cut -d' ' -f2) (using rsa-sha2-512)"
expect_contains "certificate: the extensions follow the route's forwarding switches" "$listing" \
	$'Extensions: \n                permit-X11-forwarding\n                permit-pty\n                permit-user-rc'

key_login "identity: a route's own identity wins over [server]'s CA" srt-team-red "$K/red" \
	"host-plain srt-team-red"
expect_eq "identity: no certificate in the session record" "$(record_field cert_serial)" ""

# ---------------------------------------------------------------- refusal

key_refused_upstream "an upstream that does not trust the CA: the client gets the refused-identity message" \
	srt-carol "$K/alice"
check_log_line "refusal: the log names the CA's fingerprint, the principal, the upstream and the route" \
	"${GW_LOG[gw]}" "refused sshroute's certificate for principal srt-carol" "route srt-carol" \
	"${NET}12:2022" "$(ssh-keygen -l -f "$T/etc/ca_ed25519.pub" | cut -d' ' -f2)"

# ---------------------------------------------------------------- dropbear and tinysshd

key_refused_upstream "dropbear takes no certificate: refused as a refused identity" db-cert "$K/alice"
key_login "dropbear: an identity logs in" db-identity "$K/alice" "host-dropbear srt-carol"
key_refused_upstream "tinysshd takes no certificate: refused as a refused identity" tiny-cert "$K/alice"
key_login "tinysshd: an identity logs in" tiny-identity "$K/alice" "host-tinysshd srt-carol"

# ---------------------------------------------------------------- -t and -T

out=$("$SSHROUTE" -f "$T/etc/route.ini" -T srt-alice 2>&1)
expect_contains "-T: upstream auth: certificate" "$out" "upstream auth: certificate"
expect_contains "-T: the CA's fingerprint" "$out" \
	"certificate_authority: $T/etc/ca_ed25519 (ED25519 $(ssh-keygen -l -f "$T/etc/ca_ed25519.pub" | cut -d' ' -f2))"
expect_contains "-T: the validity" "$out" "certificate_validity: 120 s"
expect_contains "-T: the CA wins over [server]'s identity, and -T says so" "$out" \
	"identity: $K/id_server (not used: the certificate authority wins)"
expect_contains "-T: a route's own identity wins over [server]'s CA" \
	"$("$SSHROUTE" -f "$T/etc/route.ini" -T srt-team-red 2>&1)" "upstream auth: identity"

# bad_ca CASE SETUP EXPECTED: -t refuses a CA key, naming why.
bad_ca() {
	local ini=$T/bad.ini
	sed "s|^certificate_authority = ca_ed25519|certificate_authority = $T/bad_ca|" \
		"$T/etc/route.ini" >"$ini"
	rm -f "$T/bad_ca" "$T/bad_ca.pub"
	eval "$2"
	expect_contains "-t: $1" "$("$SSHROUTE" -f "$ini" -t 2>&1)" "$3"
}
bad_ca "a CA readable by others is refused" \
	"cp $T/etc/ca_ed25519 $T/bad_ca && chmod 644 $T/bad_ca" "certificate_authority $T/bad_ca is readable by group or others"
bad_ca "a missing CA is refused" ":" "cannot read certificate_authority $T/bad_ca"
bad_ca "a CA with a passphrase is refused" \
	"ssh-keygen -q -t ed25519 -N secret -f $T/bad_ca" "certificate_authority $T/bad_ca"
bad_ca "a CA in PEM format is refused, with the conversion" \
	"ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f $T/bad_ca" "ssh-keygen -p -f FILE"
bad_ca "a public key as CA is refused" \
	"cp $T/etc/ca_ed25519.pub $T/bad_ca && chmod 600 $T/bad_ca" "certificate_authority $T/bad_ca"
expect_contains "-t: certificate_validity above 3600 is refused" \
	"$(sed 's/^certificate_validity = 600/certificate_validity = 3601/' "$T/etc/route.ini" >"$T/v.ini";
	   "$SSHROUTE" -f "$T/v.ini" -t 2>&1)" "certificate_validity"
expect_contains "-t: the configuration with CAs is OK" "$("$SSHROUTE" -f "$T/etc/route.ini" -t 2>&1)" \
	"configuration OK"

# ---------------------------------------------------------------- lookup answers

out=$("$SSHROUTE" -f "$T/etc/route.ini" -T look-hostkey 2>&1)
expect_contains "lookup: an answer may not choose the host key as identity" "$out" \
	"identity $GW_KEY is not one that route.ini names"
expect_contains "lookup: an answer may choose an identity that route.ini names" \
	"$("$SSHROUTE" -f "$T/etc/route.ini" -T look-named 2>&1)" "identity: $K/id_server"

# ---------------------------------------------------------------- keys in memory

# Before a login, a connection's process holds neither the identity nor a
# CA key: not even freed memory has their seeds. (The host key it needs.)
wait_no_children gw 10
exec 5<>"/dev/tcp/${NET}1/2222"
head -c 8 <&5 >/dev/null   # its banner: the process has loaded route.ini
relay=$(gateway_children gw | head -n 1)
out=$(/usr/bin/python3 "$SRT_ROOT/tests/helpers/secrets_in_memory.py" "$relay" \
	"$K/id_server" "$T/etc/ca_ed25519" 2>&1)
expect_eq "a bare connection's process holds no identity and no CA key" \
	"$K/id_server absent|$T/etc/ca_ed25519 absent" "$(printf '%s' "$out" | tr '\n' '|')"
exec 5>&-

check_no_passwords "no password in the logs" "${GW_LOG[gw]}"
check_no_leftovers "no sshroute process left" gw
finish
