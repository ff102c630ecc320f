#!/bin/bash
# What sshroute offers a stranger: ssh-audit finds only modern key
# exchange, ciphers, MACs and host key types: no failure, no warning.
# Debian's ssh-audit 2.5.0 predates the Terrapin fix and would call the
# strict key exchange marker (kex-strict-s-v00@openssh.com) an unknown
# algorithm; tests/helpers/audit_strict_kex.py runs it with that one name known, as
# ssh-audit 3.1 and later know it. The marker itself must be offered.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

command -v ssh-audit >/dev/null || die "ssh-audit is not installed (make deps)"

one_upstream_gateway fd3

# ssh-audit colours its output; its verdicts are "[fail]" and "[warn]".
timeout 60 /usr/bin/python3 "$SRT_ROOT/tests/helpers/audit_strict_kex.py" -n -p 2222 "${NET}1" >"$T/audit" 2>&1
audit=$(sed 's/\x1b\[[0-9;]*m//g' "$T/audit")
if printf '%s\n' "$audit" | grep -q '^(kex) curve25519-sha256 '; then
	ok "ssh-audit reads sshroute's algorithm lists"
else
	not_ok "ssh-audit reads sshroute's algorithm lists" "$(printf '%s' "$audit" | tail -n 5)"
fi
fails=$(printf '%s\n' "$audit" | grep -F '[fail]')
expect_eq "ssh-audit: no failure" "" "$fails"
warns=$(printf '%s\n' "$audit" | grep -F '[warn]')
expect_eq "ssh-audit: no warning" "" "$warns"
if printf '%s\n' "$audit" | grep -q '^(kex) kex-strict-s-v00@openssh.com'; then
	ok "strict key exchange (the Terrapin fix) is offered"
else
	not_ok "strict key exchange (the Terrapin fix) is offered" "no kex-strict-s-v00@openssh.com in the kex list"
fi
for weak in ecdh-sha2-nistp diffie-hellman-group1- diffie-hellman-group14-sha1 hmac-sha1 \
	'hmac-sha2-256 ' ssh-rsa 3des cbc; do
	if printf '%s\n' "$audit" | grep -E '^\((kex|key|enc|mac)\)' | grep -qF -- "$weak"; then
		not_ok "not offered: $weak" "$(printf '%s\n' "$audit" | grep -F -- "$weak")"
	else
		ok "not offered: $weak"
	fi
done

# sshroute -V lists the key exchanges this libssh offers: post-quantum
# hybrids first where libssh has them (0.12), none before.
version=$("$SSHROUTE" -V)
libssh=$(printf '%s\n' "$version" | sed -n 's/^libssh \([0-9]*\.[0-9]*\).*/\1/p')
kex=$(printf '%s\n' "$version" | sed -n 's/^key exchange: //p')
expect_match "-V names the libssh in use" '^[0-9]+\.[0-9]+$' "$libssh"
expect_match "-V lists curve25519-sha256 among the key exchanges" '(^|,)curve25519-sha256(,|$)' "$kex"
if [ "$(printf '%s\n' "$libssh" 0.12 | sort -V | head -n 1)" = 0.12 ]; then
	expect_match "-V: libssh $libssh offers mlkem768x25519-sha256 first" '^mlkem768x25519-sha256,' "$kex"
	expect_match "-V: the post-quantum line says yes" '^post-quantum key exchange: yes$' "$version"
	expect_match "ssh-audit sees mlkem768x25519-sha256" '^\(kex\) mlkem768x25519-sha256' "$audit"
else
	expect_eq "-V: libssh $libssh has no post-quantum key exchange to offer" "" \
		"$(printf '%s\n' "$kex" | grep -oE 'mlkem|sntrup')"
	expect_match "-V: the post-quantum line says no" '^post-quantum key exchange: no ' "$version"
fi
# What -V lists is what a client is offered.
expect_eq "-V lists what ssh-audit sees" "$kex" \
	"$(printf '%s\n' "$audit" | sed -n 's/^(kex) \([^ ]*\).*/\1/p' | grep -v '^kex-strict\|^ext-info' | paste -sd,)"

# A login still works with the narrowed lists.
out=$(gw_ssh gw srt-alice hostname </dev/null 2>&1)
expect_eq "a login works with the narrowed lists" host-alice "$out"

# What the client says about the key exchange. OpenSSH 10.1 and later warn
# on every login without a post-quantum one; OpenSSH 9.9 and later have
# mlkem768x25519-sha256. On libssh 0.12 the login through sshroute
# negotiates it and prints no warning; before, it cannot.
client=$(ssh -V 2>&1 | sed -n 's/^OpenSSH_\([0-9]*\.[0-9]*\).*/\1/p')
at_least() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]; }
verbose=$(gw_ssh gw srt-alice -v hostname </dev/null 2>&1 | tr -d "\r")
negotiated=$(printf '%s\n' "$verbose" | sed -n 's/.*kex: algorithm: \([^ ]*\).*/\1/p')
warning=$(printf '%s\n' "$verbose" | grep -i 'not using a post-quantum key exchange')
if libssh_at_least 0.12 && at_least 9.9 "$client"; then
	expect_eq "OpenSSH $client through sshroute on libssh $libssh: mlkem768x25519-sha256" \
		mlkem768x25519-sha256 "$negotiated"
	expect_eq "OpenSSH $client through sshroute on libssh $libssh: no post-quantum warning" "" "$warning"
	if at_least 10.1 "$client"; then
		# the control: the same client warns, in this same output, when
		# the server offers no post-quantum exchange (OpenSSH does not
		# warn when the client's own list left them out)
		start_upstream_with classic "${NET}12" 2022 "KexAlgorithms curve25519-sha256"
		known_hosts_entry classic >>"$T/upstream_known_hosts"
		control=$(up_ssh classic srt-alice -v hostname </dev/null 2>&1)
		expect_match "control: OpenSSH $client warns when the server has no post-quantum exchange" \
			'not using a post-quantum key exchange' "$control"
	fi
elif at_least 10.1 "$client"; then
	expect_match "OpenSSH $client through sshroute on libssh $libssh: classical key exchange" \
		'^(curve25519-sha256|curve25519-sha256@libssh.org)$' "$negotiated"
	expect_match "OpenSSH $client warns without post-quantum key exchange (see README)" \
		'post-quantum' "$warning"
else
	expect_match "OpenSSH $client through sshroute on libssh $libssh: curve25519-sha256" \
		'^(curve25519-sha256|curve25519-sha256@libssh.org)$' "$negotiated"
	expect_eq "OpenSSH $client predates the post-quantum warning" "" "$warning"
fi
finish
