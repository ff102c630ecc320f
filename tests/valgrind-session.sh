#!/bin/bash
# tests/valgrind-session.sh (make check-valgrind): sshroute under valgrind,
# one process per connection as always (systemd-socket-activate, inetd
# mode): a password login running a command with output, sftp put and get
# of 4 MiB, a public-key login (sshroute's identity upstream), one with a
# certificate from sshroute's CA (and recorded), a wrong password and a
# user without a route; -t and -T (with a CA) too. Every process must
# end with no invalid access, no use of uninitialised memory and nothing
# definitely lost (--errors-for-leak-kinds=definite: memory still
# reachable at exit() is sshroute's design, not a leak).

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute
ensure_users
pick_net

command -v valgrind >/dev/null || die "valgrind is not installed (make deps)"

VG=$T/valgrind
mkdir -p "$VG"
chmod 1777 "$VG"
VALGRIND=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --num-callers=30 --child-silent-after-fork=yes)

# ---------------------------------------------------------------- setup

K=$T/keys
mkdir -p "$K"
make_key "$K/id_server"
make_key "$K/client"
make_key "$K/ca"
start_upstream_with alice "${NET}11" 2022 "PubkeyAuthentication yes
TrustedUserCAKeys $K/ca.pub
$(upstream_keys_option alice)"
add_upstream_key alice srt-alice "$K/id_server.pub"
known_hosts_entry alice >"$T/known_hosts"
cp "$K/client.pub" "$T/authorized_keys"
chmod 644 "$T/authorized_keys"
make_gateway_key
cat >"$T/route.ini" <<EOF
[server]
host_key = $GW_KEY
known_hosts = $T/known_hosts
identity = $K/id_server
record_dir = $T/rec

[route srt-alice]
upstream = ${NET}11:2022
authorized_keys = $T/authorized_keys

[route srt-carol]
upstream = ${NET}11:2022
user = srt-alice
authorized_keys = $T/authorized_keys
certificate_authority = $K/ca
record = yes
record_input = yes
EOF
mkdir -p "$T/rec"

# Each connection's sshroute runs as: the wrapper (inetd mode: the
# connection is fd 0, so a shell in between changes nothing) -> valgrind
# -> sshroute; the wrapper records valgrind's exit status.
REAL=$SSHROUTE
cat >"$T/sshroute-valgrind" <<EOF
#!/bin/sh
$(printf '%q ' "${VALGRIND[@]}") --log-file=$VG/vg.%p $(printf '%q' "$REAL") "\$@"
echo \$? >$VG/rc.\$\$
EOF
chmod 755 "$T/sshroute-valgrind"
SSHROUTE=$T/sshroute-valgrind
start_gateway gw "${NET}1" 2222 "$T/route.ini" inetd

# ---------------------------------------------------------------- the sessions

CONNECTIONS=0

out=$("$SSHROUTE" -t -f "$T/route.ini" 2>&1)
expect_eq "-t under valgrind: configuration OK" "configuration OK" "$out"
out=$("$SSHROUTE" -T srt-alice -f "$T/route.ini" 2>&1)
expect_match "-T under valgrind: prints the route" "^route: srt-alice" "$out"
out=$("$SSHROUTE" -T srt-carol -f "$T/route.ini" 2>&1)
expect_match "-T under valgrind: a route with a CA" "upstream auth: certificate" "$out"

out=$(gw_ssh gw srt-alice 'echo hello from $(hostname); seq 1 20000 | tail -n 1' </dev/null 2>"$T/err")
CONNECTIONS=$((CONNECTIONS + 1))
expect_eq "password login and a command with output" "hello from host-alice
20000" "$out"

head -c 4M /dev/urandom >"$T/put.bin"
head -c 4M /dev/urandom >"$T/get.bin"
chmod 644 "$T/put.bin" "$T/get.bin"
REMOTE=srt-$RUN_ID-vg.bin
HOME_ALICE=$(getent passwd srt-alice | cut -d: -f6)
cat >"$T/sftp.batch" <<EOF
put $T/put.bin $REMOTE
get $T/get.bin $T/got.bin
EOF
gw_sftp gw srt-alice "$T/sftp.batch" >"$T/sftp.out" 2>&1
CONNECTIONS=$((CONNECTIONS + 1))
expect_eq "sftp put 4 MiB" "$(sha256sum <"$T/put.bin")" "$(sha256sum <"$HOME_ALICE/$REMOTE" 2>&1)"
expect_eq "sftp get 4 MiB" "$(sha256sum <"$T/get.bin")" "$(sha256sum <"$T/got.bin" 2>&1)"

out=$(SRT_CMD='echo key login' gw_key_ssh gw srt-alice "$K/client" 2>"$T/err" </dev/null)
CONNECTIONS=$((CONNECTIONS + 1))
expect_eq "public-key login" "key login" "$out"

out=$(SRT_CMD='echo cert login' gw_key_ssh gw srt-carol "$K/client" 2>"$T/err" </dev/null)
CONNECTIONS=$((CONNECTIONS + 1))
expect_eq "public-key login with a certificate upstream" "cert login" "$out"
expect_eq "that session recorded" 1 "$(find "$T/rec" -name '*.cast' | wc -l)"

PW=$WRONG_PASSWORD gw_ssh gw srt-alice true </dev/null >/dev/null 2>"$T/err"
rc=$?
CONNECTIONS=$((CONNECTIONS + 1))
expect_eq "wrong password: refused" "255" "$rc"

PW=whatever gw_ssh gw srt-nobody true </dev/null >/dev/null 2>"$T/err"
rc=$?
CONNECTIONS=$((CONNECTIONS + 1))
expect_eq "user without a route: refused" "255" "$rc"

# ---------------------------------------------------------------- valgrind's verdicts

# valgrind checks for leaks as the process ends: wait for all of them.
wait_no_children gw 120 || note "sshroute processes still running after 120 s"
deadline=$((SECONDS + 30))
while [ "$(find "$VG" -name 'rc.*' | wc -l)" -lt $((CONNECTIONS + 3)) ] && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.5
done

expect_eq "one valgrind log per process (-t, -T twice and $CONNECTIONS connections)" \
	$((CONNECTIONS + 3)) "$(find "$VG" -name 'vg.*' | wc -l)"
for log in "$VG"/vg.*; do
	[ -e "$log" ] || continue
	pid=${log##*.}
	what=$(grep -m 1 -o 'Command: .*' "$log" | cut -c10- | sed "s|$T/||g")
	summary=$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$log")
	if [ "$summary" = "ERROR SUMMARY: 0 errors" ]; then
		ok "valgrind: no errors, nothing definitely lost (pid $pid: $what)"
	else
		not_ok "valgrind: pid $pid: $what" "${summary:-no summary}"
		note "--- $log:" "$(grep -v '^==[0-9]*== *$' "$log" | head -n 80)"
	fi
done
bad=$(grep -l '^99$' "$VG"/rc.* 2>/dev/null | wc -l)
expect_eq "no valgrind exits with --error-exitcode (99)" 0 "$bad"

finish
