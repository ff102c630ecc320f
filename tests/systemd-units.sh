#!/bin/bash
# tests/systemd-units.sh: the package's units under a real systemd. Runs
# as root inside a container that tests/nspawn.sh booted, systemd its PID
# 1, with a network of its own; it changes the system it runs on, so it
# refuses to run anywhere else.
#
# It installs the package that `make deb` built, afresh, and sets it up as
# a new user would: the README's "Setting up" and "Running under systemd"
# steps run as printed (the README's route.ini, its commands with $EDITOR
# putting that route.ini in place, `systemctl edit` taking the README's
# drop-in), and the socket moves to 127.0.0.1:2299 with sshroute(8)'s
# drop-in. The README's upstreams are this container's own sshd, on ports
# 22 and 2222, under the names the README uses (/etc/hosts). Then, through
# sshroute.socket and sshroute@.service as shipped:
#   - a password login, and a mapped key whose identity arrives through the
#     README's LoadCredential= drop-in;
#   - the session record in `journalctl -u 'sshroute@*' -o json`;
#   - the process runs as a dynamic user that cannot read the keys in
#     /etc/sshroute itself (and what systemd made of the credentials);
#   - a recorded route writes its .cast under LogsDirectory=, owner and
#     mode as sshroute(8) says, and still can under a new dynamic UID; the
#     package's tmpfiles.d example ages recordings out;
#   - MaxConnectionsPerSource=16: the 17th connection from one address is
#     refused by systemd, another address still gets in;
#   - `systemctl stop sshroute.socket` leaves running sessions alone, and
#     stopping the instances ends them cleanly: a goodbye to the client,
#     the session record;
#   - `systemd-analyze security` rates the service 1.5 or below, and
#     `systemd-analyze verify` passes.
. "$(dirname "$0")/lib.sh"

[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -r /run/systemd/container ] ||
	die "not in a container booted with systemd: run tests/nspawn.sh SUITE"

PORT=2299
ETC=/etc/sshroute
declare -A PW=([alice]='Srt.sd-alice.3141' [carol]='Srt.sd-carol.2718')
SD_VERSION=$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
note "systemd $SD_VERSION, $(ssh -V 2>&1), $(sshroute -V 2>/dev/null | sed -n 's/^\(libssh [^ ]*\).*/\1/p')"

# ---------------------------------------------------------------- helpers

# instances: the sshroute@ instances systemd has loaded, one per line.
instances() {
	systemctl list-units --all --no-legend --plain 'sshroute@*' 2>/dev/null | awk '{print $1}'
}

# wait_no_instances SECONDS: true when every instance has ended in time.
wait_no_instances() {
	local deadline=$((SECONDS + $1))
	while [ -n "$(instances)" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# sshroute_pid USER: the PID of the sshroute process serving USER, once
# its upstream session runs a sleep (waits up to 10 s); empty if none.
sshroute_pid() {
	local i pid
	for i in $(seq 1 100); do
		# the upstream's sshd session process of the user: the login is through
		if pgrep -u "$1" -x sleep >/dev/null; then
			pid=$(pgrep -x sshroute | head -n 1)
			[ -n "$pid" ] && { echo "$pid"; return; }
		fi
		sleep 0.1
	done
}

# wait_port PORT: true when something listens on 127.0.0.1:PORT (10 s).
wait_port() {
	local deadline=$((SECONDS + 10))
	until listening 127.0.0.1 "$1"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# gw USER [SSH ARGS...]: OpenSSH's ssh to the gateway as USER, with USER's
# password, the gateway's host key checked ($LOGLEVEL: ssh's LogLevel).
gw() {
	local user=$1
	shift
	SRT_PASSWORD=${PW[$user]-} SSH_ASKPASS=$ASKPASS SSH_ASKPASS_REQUIRE=force DISPLAY='' \
		timeout -k 5 "$CLIENT_TIMEOUT" ssh -F /dev/null \
		-o UserKnownHostsFile="$T/gateway_known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 \
		-o LogLevel="${LOGLEVEL:-ERROR}" -o ConnectTimeout=10 "${GSSAPI_OFF[@]}" \
		-p "$PORT" -l "$user" 127.0.0.1 "$@"
}

# session_records USER: the "session end" records of USER in the journal,
# one JSON object a line (waits up to 5 s for the first).
session_records() {
	local i out
	for i in $(seq 1 50); do
		out=$(journalctl -u 'sshroute@*' -o json --no-pager 2>/dev/null |
			jq -c --arg u "$1" 'select(.MESSAGE != null and (.MESSAGE | tostring | startswith("session end")) and .SSHROUTE_USER == $u)')
		[ -n "$out" ] && { printf '%s\n' "$out"; return; }
		sleep 0.1
	done
}

# systemd_edit UNIT: `systemctl edit UNIT` as a person runs it, at a
# terminal (script(1) gives it one), typing the drop-in on standard input
# into the editor where systemctl's text says the drop-in goes.
systemd_edit() {
	cat >"$T/dropin"
	cat >"$T/editor" <<-EOF
		#!/bin/sh
		# systemctl calls "EDITOR [+LINE] FILE": the file is the last word.
		# The drop-in goes after its "Anything between here..." line
		# (systemd 253 and later), or is the whole file (252).
		for file; do :; done
		if grep -q '^### Anything between here' "\$file"; then
			sed -i "/^### Anything between here/r $T/dropin" "\$file"
		else
			cat "$T/dropin" >"\$file"
		fi
	EOF
	chmod 755 "$T/editor"
	SYSTEMD_EDITOR=$T/editor script -qec "systemctl edit $1" /dev/null >"$T/edit.log" 2>&1
}

# ---------------------------------------------------------------- setup

note "installing the package afresh"
deb=$(ls "$SRT_ROOT"/build/deb/sshroute_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || die "no package in $SRT_ROOT/build/deb (make deb)"
systemctl disable --now sshroute.socket >/dev/null 2>&1
rm -rf /etc/systemd/system/sshroute.socket.d /etc/systemd/system/sshroute@.service.d
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sshroute >/dev/null 2>&1
rm -rf "$ETC" /var/log/sshroute /var/log/private/sshroute
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$T/apt.log" 2>&1 ||
	die "apt-get install $deb: $(tail -n 3 "$T/apt.log")"
systemctl daemon-reload

# The upstreams: this container's sshd on 22 and 2222, under the README's
# host names; alice logs in with her password, robert with the gateway's
# identity (the README's mapped key for bob).
for u in alice robert carol; do
	id -u "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u" || die "useradd $u"
done
printf 'alice:%s\ncarol:%s\n' "${PW[alice]}" "${PW[carol]}" | chpasswd || die chpasswd
sed -i '/example\.net/d' /etc/hosts
printf '127.0.0.1 host-alice.example.net\n127.0.0.2 host-bob.example.net\n' >>/etc/hosts
printf 'Port 22\nPort 2222\nPasswordAuthentication yes\n' >/etc/ssh/sshd_config.d/srt.conf
# make deps installs tinysshd, whose socket takes port 22 at boot
systemctl disable --now tinysshd.socket >/dev/null 2>&1
systemctl restart ssh.service >/dev/null 2>&1 || systemctl restart sshd.service >/dev/null 2>&1 ||
	die "cannot start the container's sshd"
wait_port 22 || die "the container's sshd does not listen on 22"
ss -ltnpH | grep -E ':22 .*"sshd"' >/dev/null ||
	die "port 22 is not the container's sshd: $(ss -ltnpH | grep ':22 ')"
wait_port 2222 || die "the container's sshd does not listen on 2222"

# bob's laptop key, which the README copies into keys/bob
ssh-keygen -q -t ed25519 -N '' -C bob-laptop -f "$T/bob" || die "ssh-keygen"
cp "$T/bob.pub" "$ETC/bob-laptop.pub"

# ---------------------------------------------------------------- the README's steps

readme_block "Setting up" 1 >"$T/route.ini"
grep -q '^\[route alice\]' "$T/route.ini" || die "the README's route.ini is not where it was"
readme_block "Setting up" 2 >"$T/setup.sh"
out=$(cd / && EDITOR="cp $T/route.ini" bash -e "$T/setup.sh" 2>"$T/setup.err")
rc=$?
expect_eq "README setup steps, as printed: exit 0" 0 "$rc"
expect_eq "README setup steps end with sshroute -t: configuration OK" "configuration OK" \
	"$(printf '%s\n' "$out" | tail -n 1)"
[ "$rc" = 0 ] || note "$(tail -n 5 "$T/setup.err")"
mkdir -p /home/robert/.ssh
cp "$ETC/upstream_ed25519.pub" /home/robert/.ssh/authorized_keys
chown -R robert: /home/robert/.ssh
chmod 700 /home/robert/.ssh

# The README's drop-in for the identity: "systemctl edit UNIT", then the
# lines to type.
readme_block "Running under systemd" 1 >"$T/readme-edit"
unit=$(head -n 1 "$T/readme-edit" | sed -n 's/^systemctl edit \([^ ]*\)$/\1/p')
expect_eq "README: the identity drop-in is for sshroute@.service" "sshroute@.service" "$unit"
tail -n +2 "$T/readme-edit" | sed 's/^  //' | systemd_edit "$unit"
expect_match "systemctl edit $unit takes the README's LoadCredential= line" \
	'^LoadCredential=upstream_ed25519:/etc/sshroute/upstream_ed25519$' \
	"$(cat /etc/systemd/system/sshroute@.service.d/override.conf 2>/dev/null)"
# sshroute(8)'s drop-in that moves the socket, with this test's address
man_block "$SRT_ROOT/man/sshroute.8" "example: socket address drop-in" |
	sed "s/192\.0\.2\.10:22/127.0.0.1:$PORT/" | systemd_edit sshroute.socket
expect_match "systemctl edit sshroute.socket takes sshroute(8)'s drop-in" \
	"^ListenStream=127\.0\.0\.1:$PORT\$" \
	"$(cat /etc/systemd/system/sshroute.socket.d/override.conf 2>/dev/null)"

readme_block "Running under systemd" 2 >"$T/enable.sh"
out=$(bash -e "$T/enable.sh" 2>&1)
expect_eq "README: systemctl daemon-reload; systemctl enable --now sshroute.socket" 0 "$?"
expect_eq "sshroute.socket is active" active "$(systemctl is-active sshroute.socket)"
wait_port "$PORT" || note "nothing listens on 127.0.0.1:$PORT: $out"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$ETC/ssh_host_ed25519_key.pub")" \
	>"$T/gateway_known_hosts"

# ---------------------------------------------------------------- logins

out=$(gw alice 'echo "login: $(id -un)"' 2>"$T/alice.err")
expect_eq "password login through sshroute.socket: alice lands on host-alice" "login: alice" "$out"
[ -n "$out" ] || note "$(cat "$T/alice.err")" "$(journalctl -u 'sshroute@*' --no-pager | tail -n 5)"

out=$(timeout -k 5 "$CLIENT_TIMEOUT" ssh -F /dev/null -i "$T/bob" -o IdentitiesOnly=yes \
	-o UserKnownHostsFile="$T/gateway_known_hosts" -o GlobalKnownHostsFile=/dev/null \
	-o StrictHostKeyChecking=yes -o PreferredAuthentications=publickey -o BatchMode=yes \
	-o LogLevel=ERROR "${GSSAPI_OFF[@]}" -p "$PORT" -l bob 127.0.0.1 'id -un' 2>"$T/bob.err")
expect_eq "mapped key, identity from LoadCredential=: bob lands on host-bob as robert" robert "$out"
[ -n "$out" ] || note "$(cat "$T/bob.err")" "$(journalctl -u 'sshroute@*' --no-pager | tail -n 5)"

# ---------------------------------------------------------------- the session record

rec=$(session_records alice | tail -n 1)
if [ -z "$rec" ]; then
	not_ok "journalctl -u 'sshroute@*' -o json: alice's session record" "none found"
else
	ok "journalctl -u 'sshroute@*' -o json: alice's session record"
	field() { printf '%s' "$rec" | jq -r --arg f "$1" '.[$f] // ""'; }
	expect_match "record: _SYSTEMD_UNIT is an sshroute@ instance" '^sshroute@.*\.service$' \
		"$(field _SYSTEMD_UNIT)"
	expect_eq "record: SSHROUTE_UPSTREAM" "host-alice.example.net:22" "$(field SSHROUTE_UPSTREAM)"
	expect_eq "record: SSHROUTE_CLIENT_ADDR" 127.0.0.1 "$(field SSHROUTE_CLIENT_ADDR)"
	expect_eq "record: SSHROUTE_METHOD" password "$(field SSHROUTE_METHOD)"
	expect_eq "record: SSHROUTE_EXIT_STATUS" 0 "$(field SSHROUTE_EXIT_STATUS)"
	expect_match "record: SSHROUTE_BYTES_TO_CLIENT counts the output" '^[1-9][0-9]*$' \
		"$(field SSHROUTE_BYTES_TO_CLIENT)"
	expect_match "record: SSHROUTE_END says how it ended" '.' "$(field SSHROUTE_END)"
fi
check_no_passwords_in_journal() {
	if journalctl --no-pager -o json 2>/dev/null | grep -qF -e "${PW[alice]}" -e "${PW[carol]}"; then
		not_ok "no password in the journal" "a password is in it"
	else
		ok "no password in the journal"
	fi
}
check_no_passwords_in_journal

# ---------------------------------------------------------------- the sandbox

wait_no_instances 10 || note "instances still there: $(instances | tr '\n' ' ')"
gw alice 'sleep 6' >/dev/null 2>&1 &
client=$!
track_pid "$client"
pid=$(sshroute_pid alice)
if [ -z "$pid" ]; then
	not_ok "a session's sshroute process" "not found"
else
	uid=$(awk '/^Uid:/ {print $3}' "/proc/$pid/status")
	gid=$(awk '/^Gid:/ {print $3}' "/proc/$pid/status")
	# systemd's dynamic users: 61184-65519 (systemd.exec(5), DynamicUser=)
	if [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ]; then
		ok "sshroute runs as a dynamic user (uid $uid)"
	else
		not_ok "sshroute runs as a dynamic user" "uid $uid"
	fi
	expect_eq "its capabilities: none" 0000000000000000 \
		"$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")"
	for key in ssh_host_ed25519_key upstream_ed25519; do
		if setpriv --reuid="$uid" --regid="$gid" --clear-groups cat "$ETC/$key" >/dev/null 2>&1; then
			not_ok "its user cannot read $ETC/$key" "it can"
		else
			ok "its user cannot read $ETC/$key"
		fi
	done
	creds=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^CREDENTIALS_DIRECTORY=//p')
	expect_match "CREDENTIALS_DIRECTORY is systemd's, for this instance" \
		'^/run/credentials/sshroute@.*\.service$' "$creds"
	# What systemd made of the credentials, seen from inside the sandbox.
	seen=$(nsenter -t "$pid" -m stat -c '%n %u:%g %a' \
		"$creds" "$creds/ssh_host_ed25519_key" "$creds/upstream_ed25519" 2>&1)
	note "systemd $SD_VERSION credentials (sshroute uid $uid gid $gid), path owner mode:" "$seen"
	expect_match "the credentials are readable by sshroute's own user or group only" \
		"ssh_host_ed25519_key [0-9]+:[0-9]+ [4-6][40]0\$" "$seen"
fi
wait "$client"
expect_eq "the session ends well" 0 "$?"

# ---------------------------------------------------------------- recordings

cat >>"$ETC/route.ini" <<'EOF'

[route carol]
upstream = host-alice.example.net
record = yes
EOF
sessions=/var/log/sshroute/sessions

# recorded_session WORD: a recorded session as carol that prints WORD and
# stays 3 s; sets REC_UID to its sshroute's UID and REC_SEEN to
# "UID MODE" of its recording and "UID MODE" of the directory, as the
# service sees them (systemd 257 and later keep the files owned by nobody
# on disk, and map them to the dynamic user with an idmapped mount).
recorded_session() {
	local client pid file
	REC_UID= REC_SEEN=
	wait_no_instances 10 || note "instances still there: $(instances | tr '\n' ' ')"
	gw carol "echo $1; sleep 3" >"$T/rec.out" 2>&1 &
	client=$!
	track_pid "$client"
	pid=$(sshroute_pid carol)
	if [ -n "$pid" ]; then
		REC_UID=$(awk '/^Uid:/ {print $3}' "/proc/$pid/status")
		file=$(grep -l "$1" "$sessions"/*-carol-*.cast 2>/dev/null | head -n 1)
		[ -n "$file" ] && REC_SEEN=$(nsenter -t "$pid" -m stat -L -c '%u %a' "$file" "$sessions" | tr '\n' ' ')
		note "recording $file: on disk $(stat -c '%u:%g %a' "$file" 2>&1), seen by uid $REC_UID: $REC_SEEN"
	fi
	wait "$client"
	expect_eq "recorded route: the session runs ($1)" "$1" "$(cat "$T/rec.out")"
}

recorded_session recorded-one
first_uid=$REC_UID
expect_eq "the recording: mode 640 and the directory 750, owned by the service's dynamic user" \
	"${first_uid:-?} 640 ${first_uid:-?} 750 " "$REC_SEEN"
expect_match "the recording holds the output" recorded-one \
	"$(cat "$sessions"/*-carol-*.cast 2>/dev/null)"
# The next instance gets another dynamic UID when the first one's is
# taken: it can still write there.
if [ -n "$first_uid" ] && useradd -r -M -N -u "$first_uid" -s /usr/sbin/nologin srt-uid-taken 2>/dev/null; then
	recorded_session recorded-two
	if [ -n "$REC_UID" ] && [ "$REC_UID" != "$first_uid" ] &&
		[ "$REC_SEEN" = "$REC_UID 640 $REC_UID 750 " ]; then
		ok "under a new dynamic UID ($REC_UID, was $first_uid), a second recording is written"
	else
		not_ok "under a new dynamic UID, a second recording is written" \
			"uid '$REC_UID' (was $first_uid), seen '$REC_SEEN'"
	fi
	userdel srt-uid-taken
else
	not_ok "under a new dynamic UID, a second recording is written" "no first session's uid"
fi

# The tmpfiles.d example, installed as its comment says, on the unit's
# own layout (LogsDirectory= under DynamicUser=).
example=/usr/share/doc/sshroute/examples/tmpfiles.d/sshroute.conf
if [ -r "$example" ] && install -m 644 "$example" /etc/tmpfiles.d/sshroute.conf; then
	old=$(ls "$sessions"/*-carol-*.cast 2>/dev/null | head -n 1)
	n=$(ls "$sessions"/*-carol-*.cast 2>/dev/null | wc -l)
	touch -m -d '100 days ago' "$old"
	out=$(systemd-tmpfiles --clean /etc/tmpfiles.d/sshroute.conf 2>&1)
	if [ -n "$old" ] && [ ! -e "$old" ] && [ -z "$out" ] &&
		[ "$(ls "$sessions"/*-carol-*.cast 2>/dev/null | wc -l)" = $((n - 1)) ]; then
		ok "the tmpfiles.d example: systemd-tmpfiles --clean removes an old recording, keeps the rest"
	else
		not_ok "the tmpfiles.d example removes an old recording, keeps the rest" \
			"$old; $out; $(ls -la "$sessions"/ 2>&1 | tr '\n' ' ')"
	fi
	rm -f /etc/tmpfiles.d/sshroute.conf
else
	not_ok "the tmpfiles.d example" "$example is not in the package"
fi

# ---------------------------------------------------------------- MaxConnectionsPerSource

wait_no_instances 10
cat >"$T/per_source.py" <<'EOF'
# 16 connections from 127.0.0.1, held open, each answered with sshroute's
# banner; then a 17th from 127.0.0.1, and one from 127.0.0.2.
import socket, sys

def connect(src, port):
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s

def answer(s):
    try:
        data = s.recv(256)
    except ConnectionResetError:
        return "refused"
    except socket.timeout:
        return "silent"
    if not data:
        return "refused"
    return "banner" if data.startswith(b"SSH-2.0-") else "other"

port = int(sys.argv[1])
held = [connect("127.0.0.1", port) for _ in range(16)]
print("held:", " ".join(answer(s) for s in held))
print("17th:", answer(connect("127.0.0.1", port)))
print("other:", answer(connect("127.0.0.2", port)))
EOF
out=$(timeout 60 /usr/bin/python3 "$T/per_source.py" "$PORT" 2>&1)
expect_eq "16 connections from one address are served" \
	"held: $(printf 'banner %.0s' $(seq 1 16) | sed 's/ $//')" "$(printf '%s\n' "$out" | sed -n 's/^held/held/p')"
expect_eq "MaxConnectionsPerSource=16: systemd refuses the 17th from that address" "17th: refused" \
	"$(printf '%s\n' "$out" | grep '^17th')"
expect_eq "another address still gets in" "other: banner" "$(printf '%s\n' "$out" | grep '^other')"

# ---------------------------------------------------------------- stopping

wait_no_instances 30 || note "instances still there: $(instances | tr '\n' ' ')"
gw alice 'sleep 3; echo survived' >"$T/survivor.out" 2>&1 &
client=$!
track_pid "$client"
if [ -n "$(sshroute_pid alice)" ]; then
	systemctl stop sshroute.socket
	if timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
		not_ok "stopped socket: new connections are refused" "one got in"
	else
		ok "stopped socket: new connections are refused"
	fi
	wait "$client"
	rc=$?
	expect_eq "systemctl stop sshroute.socket leaves a running session alone" "0 survived" \
		"$rc $(cat "$T/survivor.out")"
else
	not_ok "systemctl stop sshroute.socket leaves a running session alone" "no session"
	wait "$client"
fi
systemctl start sshroute.socket
expect_eq "sshroute.socket starts again" active "$(systemctl is-active sshroute.socket)"

wait_no_instances 10
LOGLEVEL=INFO gw alice 'sleep 30; echo not-stopped' >"$T/stopped.out" 2>&1 &
client=$!
track_pid "$client"
if [ -n "$(sshroute_pid alice)" ]; then
	start=$SECONDS
	unit=$(instances | head -n 1)
	systemctl stop 'sshroute@*'
	wait "$client"
	rc=$?
	took=$((SECONDS - start))
	if [ "$rc" != 0 ] && [ "$took" -le 10 ] && ! grep -q not-stopped "$T/stopped.out"; then
		ok "systemctl stop 'sshroute@*' ends a running session (in $took s, client exit $rc)"
	else
		not_ok "systemctl stop 'sshroute@*' ends a running session" \
			"client exit $rc after $took s: $(cat "$T/stopped.out")"
	fi
	expect_contains "the client is told why" "$(cat "$T/stopped.out")" \
		"sshroute: the gateway is shutting down"
	rec=$(session_records alice | jq -c --arg u "$unit" 'select(._SYSTEMD_UNIT == $u)' | tail -n 1)
	expect_eq "its session record: SSHROUTE_END=signal 15" "signal 15" \
		"$(printf '%s' "$rec" | jq -r '.SSHROUTE_END // ""')"
	expect_eq "no instance is left, none failed" "" "$(instances)"
else
	not_ok "systemctl stop 'sshroute@*' ends a running session" "no session"
	wait "$client"
fi

# ---------------------------------------------------------------- systemd-analyze

unitdir=$(dirname "$(systemctl show -P FragmentPath sshroute.socket)")
out=$(systemd-analyze verify "$unitdir/sshroute.socket" "$unitdir/sshroute@.service" 2>&1)
rc=$?
expect_eq "systemd-analyze verify sshroute.socket sshroute@.service" "0 " "$rc $out"
out=$(systemd-analyze security --no-pager sshroute@x.service 2>&1 ||
	systemd-analyze security --no-pager --offline=yes "$unitdir/sshroute@.service" 2>&1)
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }'; then
	ok "systemd-analyze security: $level (1.5 at most)"
else
	not_ok "systemd-analyze security: 1.5 at most" "${level:-no level}: $(printf '%s\n' "$out" | tail -n 3)"
fi

check_no_passwords_in_journal
systemctl disable --now sshroute.socket >/dev/null 2>&1
finish
