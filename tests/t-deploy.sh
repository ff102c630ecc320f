#!/bin/bash
# Deployment: the man pages pass mandoc's lint and carry the units verbatim;
# make install / make uninstall with DESTDIR and PREFIX; the installed
# systemd units pass systemd-analyze verify and are rated 1.5 or lower by
# systemd-analyze security; the installed xinetd entry works under the real
# xinetd, with a login through it; a relative host_key is found in
# $CREDENTIALS_DIRECTORY, as LoadCredential= in sshroute@.service needs.
# The unit's per-connection limits are there, and a session works under
# the xinetd entry's rlimit_as, which xinetd applies. The drop-in for
# sshroute.socket behind a load balancer, from sshroute(8), verifies.
# Nothing here calls systemctl.

. "$(dirname "$0")/lib.sh"
require_root
require_sshroute

MAX_EXPOSURE=1.5

# run_make ARGS...: make in the source tree, isolated from the caller's
# make (MAKEFLAGS of `make check`) and from path variables in the
# environment; sshroute is installed as built (-o: never rebuilt here).
run_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX -u DESTDIR -u SYSCONFDIR \
		-u BINDIR -u DATADIR -u MANDIR -u UNITDIR -u INSTALL \
		make -C "$SRT_ROOT" --no-print-directory -o sshroute "$@"
}

# files DIR: the regular files below DIR, relative to it, sorted.
files() {
	(cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
}

# ---------------------------------------------------------------- man pages

out=$(cd "$SRT_ROOT" && mandoc -Tlint -W warning man/sshroute.8 man/route.ini.5 2>&1)
expect_eq "mandoc -Tlint -W warning prints nothing for both man pages" "" "$out"

for f in units/sshroute.socket units/sshroute@.service units/sshroute.xinetd; do
	block=$(man_block "$SRT_ROOT/man/sshroute.8" "verbatim: $f")
	if [ -z "$block" ]; then
		not_ok "sshroute(8) carries $f verbatim" "no '.\\\" verbatim: $f' block"
	elif [ "$block" = "$(cat "$SRT_ROOT/$f")" ]; then
		ok "sshroute(8) carries $f verbatim"
	else
		not_ok "sshroute(8) carries $f verbatim" \
			"differs: $(diff <(printf '%s\n' "$block") "$SRT_ROOT/$f" | head -n 6)"
	fi
done

# ---------------------------------------------------------------- make install with DESTDIR

X=$T/x
expected_files="etc/sshroute/route.ini
usr/lib/systemd/system/sshroute.socket
usr/lib/systemd/system/sshroute@.service
usr/sbin/sshroute
usr/share/man/man5/route.ini.5
usr/share/man/man8/sshroute.8
usr/share/sshroute/sshroute.xinetd"

if run_make install DESTDIR="$X" PREFIX=/usr >"$T/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	not_ok "make install DESTDIR=... PREFIX=/usr" "$(tail -n 5 "$T/install.log")"
fi
expect_eq "make install puts the expected files there" "$expected_files" "$(files "$X")"

left=$(grep -rlE '@[A-Z_]+@' "$X" 2>/dev/null | sed "s|^$X/||")
expect_eq "no @...@ placeholder left in the installed files" "" "$left"

modes=$(cd "$X" && stat -c '%a %n' usr/sbin/sshroute usr/share/man/man8/sshroute.8 \
	usr/lib/systemd/system/sshroute@.service usr/share/sshroute/sshroute.xinetd etc/sshroute/route.ini 2>&1)
expect_eq "installed modes: program 755, other files 644" "755 usr/sbin/sshroute
644 usr/share/man/man8/sshroute.8
644 usr/lib/systemd/system/sshroute@.service
644 usr/share/sshroute/sshroute.xinetd
644 etc/sshroute/route.ini" "$modes"

unit=$X/usr/lib/systemd/system/sshroute@.service
expect_match "the service runs /usr/sbin/sshroute with /etc/sshroute/route.ini" \
	'^ExecStart=/usr/sbin/sshroute -f /etc/sshroute/route.ini$' "$(cat "$unit" 2>/dev/null)"
expect_match "the service loads the host key from /etc/sshroute as a credential" \
	'^LoadCredential=ssh_host_ed25519_key:/etc/sshroute/ssh_host_ed25519_key$' "$(cat "$unit" 2>/dev/null)"
# With StandardInput=socket, systemd's default for stdout (inherit) would be
# the client's socket: both outputs must go to the journal.
io=$(grep -E '^Standard(Input|Output|Error)=' "$unit" 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')
expect_eq "the service reads the socket and writes to the journal only" \
	"StandardError=journal StandardInput=socket StandardOutput=journal " "$io"
# Limits for one connection (issue 12).
limits=$(grep -E '^(MemoryMax|TasksMax|LimitNOFILE)=' "$unit" 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')
expect_eq "the service limits one connection's memory, tasks and files" \
	"LimitNOFILE=64 MemoryMax=64M TasksMax=8 " "$limits"
expect_match "the xinetd entry limits the address space (rlimit_as)" \
	'^[[:space:]]*rlimit_as[[:space:]]*= [0-9]+M$' "$(cat "$X/usr/share/sshroute/sshroute.xinetd" 2>/dev/null)"
expect_match "the xinetd entry runs /usr/sbin/sshroute" \
	'server[[:space:]]*= /usr/sbin/sshroute$' "$(cat "$X/usr/share/sshroute/sshroute.xinetd" 2>/dev/null)"
expect_match "the xinetd entry is disabled until the administrator enables it" \
	'disable[[:space:]]*= yes$' "$(cat "$X/usr/share/sshroute/sshroute.xinetd" 2>/dev/null)"
expect_match "the installed sshroute(8) names /etc/sshroute/route.ini" \
	'/etc/sshroute/route\.ini' "$(cat "$X/usr/share/man/man8/sshroute.8" 2>/dev/null)"
out=$(mandoc -Tlint -W warning "$X/usr/share/man/man8/sshroute.8" "$X/usr/share/man/man5/route.ini.5" 2>&1)
expect_eq "the installed man pages pass mandoc -Tlint too" "" "$out"
if cmp -s "$SRT_ROOT/route.ini" "$X/etc/sshroute/route.ini"; then
	ok "the sample route.ini is installed"
else
	not_ok "the sample route.ini is installed" "$X/etc/sshroute/route.ini differs from route.ini"
fi

# A second install keeps the administrator's route.ini.
echo "; srt local change $RUN_ID" >>"$X/etc/sshroute/route.ini"
run_make install DESTDIR="$X" PREFIX=/usr >"$T/install2.log" 2>&1 ||
	not_ok "second make install" "$(tail -n 5 "$T/install2.log")"
if grep -qF "; srt local change $RUN_ID" "$X/etc/sshroute/route.ini"; then
	ok "a second make install keeps a modified route.ini"
else
	not_ok "a second make install keeps a modified route.ini" "the local change is gone"
fi

if run_make uninstall DESTDIR="$X" PREFIX=/usr >"$T/uninstall.log" 2>&1; then
	ok "make uninstall DESTDIR=... PREFIX=/usr"
else
	not_ok "make uninstall DESTDIR=... PREFIX=/usr" "$(tail -n 5 "$T/uninstall.log")"
fi
expect_eq "make uninstall removes what install put, except route.ini" \
	"etc/sshroute/route.ini" "$(files "$X")"

# ---------------------------------------------------------------- systemd units

# A real install into a private prefix: the units then name a program and
# man pages that exist, as systemd-analyze verify checks.
P=$T/p
if run_make install PREFIX="$P" >"$T/install-p.log" 2>&1; then
	ok "make install PREFIX=<private prefix>"
else
	not_ok "make install PREFIX=<private prefix>" "$(tail -n 5 "$T/install-p.log")"
fi
UNITS=$P/lib/systemd/system

out=$(MANPATH=$P/share/man timeout 60 systemd-analyze verify \
	"$UNITS/sshroute.socket" "$UNITS/sshroute@.service" 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify: both units are clean"
else
	not_ok "systemd-analyze verify: both units are clean" "exit $rc: $out"
fi

# The drop-in of sshroute(8)'s "Behind a load balancer": the socket with
# it verifies too.
mkdir -p "$T/dropin"
cp "$UNITS/sshroute.socket" "$UNITS/sshroute@.service" "$T/dropin/"
dropin=$(man_block "$SRT_ROOT/man/sshroute.8" "example: sshroute.socket drop-in")
printf '\n%s\n' "$dropin" >>"$T/dropin/sshroute.socket"
out=$(MANPATH=$P/share/man timeout 60 systemd-analyze verify "$T/dropin/sshroute.socket" 2>&1)
rc=$?
if [ "$dropin" = "$(printf '[Socket]\nMaxConnectionsPerSource=0')" ] && [ "$rc" = 0 ] && [ -z "$out" ]; then
	ok "sshroute(8)'s drop-in (MaxConnectionsPerSource=0) verifies"
else
	not_ok "sshroute(8)'s drop-in (MaxConnectionsPerSource=0) verifies" "'$dropin': exit $rc: $out"
fi

out=$(timeout 60 systemd-analyze security --offline=yes "$UNITS/sshroute@.service" 2>&1)
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: *\([0-9.]*\).*/\1/p')
if [ -n "$level" ] && awk -v l="$level" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(l <= max) }'; then
	ok "systemd-analyze security rates sshroute@.service $level (at most $MAX_EXPOSURE)"
else
	not_ok "systemd-analyze security rates sshroute@.service at most $MAX_EXPOSURE" \
		"rated '${level:-?}': $(printf '%s\n' "$out" | grep '✗' | sed 's/  */ /g' | tr '\n' ';')"
fi

# ---------------------------------------------------------------- credentials

# sshroute@.service passes the host key as a credential; route.ini names it
# by its relative name, found in $CREDENTIALS_DIRECTORY first.
make_gateway_key
mkdir -p "$T/creds" "$T/credtest"
cp "$GW_KEY" "$T/creds/ssh_host_ed25519_key"
chmod 400 "$T/creds/ssh_host_ed25519_key"  # as systemd makes it
# a key for the route's upstream: -t warns about an upstream missing there
echo "127.0.0.1 $(cut -d' ' -f1-2 "$GW_KEY.pub")" >"$T/credtest/known_hosts"
cat >"$T/credtest/route.ini" <<EOF
[server]
host_key = ssh_host_ed25519_key
known_hosts = known_hosts

[route srt-alice]
upstream = 127.0.0.1
EOF
out=$(CREDENTIALS_DIRECTORY=$T/creds "$SSHROUTE" -t -f "$T/credtest/route.ini" 2>&1)
rc=$?
expect_eq "a relative host_key is read from \$CREDENTIALS_DIRECTORY" "0 configuration OK" "$rc $out"
out=$(env -u CREDENTIALS_DIRECTORY "$SSHROUTE" -t -f "$T/credtest/route.ini" 2>&1)
rc=$?
expect_match "without \$CREDENTIALS_DIRECTORY it is looked for next to route.ini" \
	"^3 .*ssh_host_ed25519_key" "$rc $out"

# ---------------------------------------------------------------- xinetd

ensure_users
pick_net
start_upstream alice "${NET}11" "$(free_port "${NET}11" 22 2022)"

# The installed configuration, relative names: the host key and known_hosts
# next to route.ini, as xinetd deployments keep them.
ETC=$P/etc/sshroute
cp "$GW_KEY" "$ETC/ssh_host_ed25519_key"
chmod 600 "$ETC/ssh_host_ed25519_key"
known_hosts_entry alice >"$ETC/known_hosts"
alice_upstream=${UP_ADDR[alice]}
[ "${UP_PORT[alice]}" = 22 ] || alice_upstream=$alice_upstream:${UP_PORT[alice]}
cat >"$ETC/route.ini" <<EOF
[server]
host_key = ssh_host_ed25519_key
known_hosts = known_hosts

[route srt-alice]
upstream = $alice_upstream
EOF

xaddr=${NET}1
xport=$(free_port "$xaddr" 22 2222) || die "no free port on $xaddr"
mkdir -p "$T/xinetd.d"
# The installed entry, enabled, on the test's address and port, as root.
sed -e 's/^\([[:space:]]*disable[[:space:]]*=\).*/\1 no/' \
	-e "s/^\\([[:space:]]*port[[:space:]]*=\\).*/\\1 $xport/" \
	-e "s/^#\\([[:space:]]*bind[[:space:]]*=\\).*/\\1 $xaddr/" \
	-e 's/^\([[:space:]]*user[[:space:]]*=\).*/\1 root/' \
	-e 's/^\([[:space:]]*group[[:space:]]*=\).*/\1 root/' \
	"$P/share/sshroute/sshroute.xinetd" >"$T/xinetd.d/sshroute"
for want in "disable.*= no" "port.*= $xport" "^[[:space:]]*bind.*= $xaddr" "user.*= root" \
	"server.*= $P/sbin/sshroute\$" "server_args.*= -f $ETC/route.ini\$"; do
	grep -q -- "$want" "$T/xinetd.d/sshroute" || die "xinetd entry: no line /$want/"
done
cat >"$T/xinetd.conf" <<EOF
defaults
{
	log_type = FILE $T/xinetd.log
}
includedir $T/xinetd.d
EOF

xinetd -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" </dev/null >>"$T/xinetd.out" 2>&1 &
xpid=$!
track_pid "$xpid"
if wait_listening "$xaddr" "$xport" "$xpid"; then
	ok "xinetd starts with the installed entry"
else
	note "xinetd:" "$(cat "$T/xinetd.out" "$T/xinetd.log" 2>/dev/null | tail -n 10)"
	die "xinetd on $xaddr:$xport"
fi
GW_ADDR[xinetd]=$xaddr GW_PORT[xinetd]=$xport GW_PID[xinetd]=$xpid GW_LOG[xinetd]=$T/xinetd.log
echo "$(host_pattern "$xaddr" "$xport") $(cut -d' ' -f1-2 "$GW_KEY.pub")" >>"$T/client_known_hosts"

out=$(gw_ssh xinetd srt-alice 'echo "$(hostname) $(whoami)"' </dev/null 2>"$T/err")
rc=$?
expect_eq "xinetd: srt-alice logs in and lands on host-alice" "0 host-alice srt-alice" "$rc $out"

# xinetd applies rlimit_as to the sshroute it starts: a session runs
# under it (its value from the installed entry).
rlimit_mib=$(sed -n 's/^[[:space:]]*rlimit_as[[:space:]]*=[[:space:]]*\([0-9]*\)M$/\1/p' "$T/xinetd.d/sshroute")
gw_ssh xinetd srt-alice 'sleep 3; hostname' </dev/null >"$T/limited.out" 2>&1 &
spid=$!
limit= deadline=$((SECONDS + 10))
while [ -z "$limit" ] && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.3
	for c in $(pgrep -P "$xpid"); do
		limit=$(awk '/^Max address space/ { print $4 }' "/proc/$c/limits" 2>/dev/null)
		peak=$(awk '/^VmPeak/ { print $2 }' "/proc/$c/status" 2>/dev/null)
	done
done
wait "$spid"
expect_eq "xinetd: a session under rlimit_as = ${rlimit_mib}M works" host-alice "$(cat "$T/limited.out")"
expect_eq "xinetd: sshroute runs with that address-space limit" $((rlimit_mib * 1024 * 1024)) "$limit"
note "sshroute's VmPeak in that session: ${peak:-?} kB"

out=$(PW=$WRONG_PASSWORD gw_ssh xinetd srt-alice hostname </dev/null 2>&1)
rc=$?
expect_match "xinetd: a wrong password is refused" "^255 .*Permission denied \\(" "$rc $out"

# xinetd logs each sshroute's exit (log_on_success EXIT): the session ended
# with status 0. Bounded wait: the line comes when the process is reaped.
deadline=$((SECONDS + 10))
until grep -q 'EXIT: sshroute status=0' "$T/xinetd.log" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; do
	sleep 0.2
done
check_log_line "xinetd: sshroute exits with status 0 after the session" "$T/xinetd.log" \
	"EXIT: sshroute" "status=0"
check_no_leftovers "xinetd: no sshroute process left after the sessions" xinetd

if [ "$N_NOT_OK" != 0 ]; then
	note "--- xinetd log:" "$(tail -n 15 "$T/xinetd.log" 2>/dev/null)" \
		"--- ssh stderr:" "$(cat "$T/err" 2>/dev/null)"
fi

# ---------------------------------------------------------------- route.ini(5) against config.c

# table_keys TABLE: the key names in config.c's server_keys or route_keys.
table_keys() {
	sed -n "/^static const struct key_def $1\[/,/^};/p" "$SRT_ROOT/config.c" |
		grep -o '{ "[a-z0-9_]*"' | cut -d'"' -f2 | sort -u
}

# man_keys FIRST_SS NEXT_SS: the keys route.ini(5) describes with ".It Ic"
# between those two subsections (".It Ic a , b" names two).
man_keys() {
	sed -n "/^\.Ss $1\$/,/^\.Ss $2\$/p" "$SRT_ROOT/man/route.ini.5" | sed -n 's/^\.It Ic //p' |
		sed 's/ \(Ar\|Cm\|Op\) .*//' | tr ',' '\n' | tr -d ' ' | grep -v '^\[' | sort -u
}

for section in "server_keys Server.section Route.sections" "route_keys Route.sections Matching"; do
	set -- $section
	missing=$(comm -23 <(table_keys "$1") <(man_keys "$2" "$3") | tr '\n' ' ')
	extra=$(comm -13 <(table_keys "$1") <(man_keys "$2" "$3") | tr '\n' ' ')
	if [ -z "$missing$extra" ]; then
		ok "route.ini(5): every key of config.c's $1, under its section, and no other"
	else
		not_ok "route.ini(5): every key of config.c's $1, under its section" \
			"missing: ${missing:-none}; described but not accepted there: ${extra:-none}"
	fi
done

finish
